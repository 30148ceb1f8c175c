// What an app developer does with cosmjs against havnd's CometBFT RPC: read the registry, publish
// a workflow signed by a mnemonic key with "auto" fees, and read the publish event back.
// Input (env): RPC, REGISTRY, MNEMONIC_FILE, CONTENT_HASH, FINGERPRINT (hex; derivative detection
// is on by default, so a publish without one is refused). Output: one JSON line on stdout.
import { readFileSync } from "node:fs";
import { SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { GasPrice } from "@cosmjs/stargate";

const { RPC, REGISTRY, MNEMONIC_FILE, CONTENT_HASH, FINGERPRINT } = process.env;
const mnemonic = readFileSync(MNEMONIC_FILE, "utf8").trim();
const wallet = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix: "havn" });
const [{ address }] = await wallet.getAccounts();
const client = await SigningCosmWasmClient.connectWithSigner(RPC, wallet, {
  gasPrice: GasPrice.fromString("0.025uhavn"),
});

const listed = async () =>
  (await client.queryContractSmart(REGISTRY, { workflows: {} })).workflows.map((w) => w.name);
const before = await listed();
const tx = await client.execute(
  address,
  REGISTRY,
  {
    publish: {
      name: "cosmjs-published",
      content_hash: CONTENT_HASH,
      price: "1000000",
      dependencies: [],
      fingerprint: FINGERPRINT,
    },
  },
  "auto",
);
const event = tx.events.find(
  (e) => e.type === "wasm" && e.attributes.some((a) => a.key === "action" && a.value === "publish"),
);
const attr = (k) => event?.attributes.find((a) => a.key === k)?.value;
console.log(
  JSON.stringify({
    address,
    chain_id: await client.getChainId(),
    before,
    after: await listed(),
    height: tx.height,
    gas_used: Number(tx.gasUsed),
    workflow_id: attr("workflow_id"),
    creator: attr("creator"),
  }),
);
client.disconnect();
