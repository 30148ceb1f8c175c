"""An app developer's ordinary flow with cosmpy, a Cosmos client that is not Havn's, over gRPC:
send, store (gzipped, after looking the code up by its checksum), instantiate, execute, query.
mesh/chain/tests/cosmpy.rs runs it against the devnet and against havnd and checks what it prints.

Environment: GRPC (http://host:port), CHAIN_ID, SECRET (hex secp256k1 key of a funded account),
WASM (a cw20 module), MIN_GAS_PRICE (in uhavn).
"""

import json
import os
import sys

from cosmpy.aerial.client import LedgerClient, NetworkConfig
from cosmpy.aerial.contract import LedgerContract
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey

DENOM = "uhavn"
SENT = 12_345
MINTED = 1_000
TRANSFERRED = 250


def main() -> None:
    env = os.environ
    url = env["GRPC"].replace("http://", "grpc+http://", 1)
    cfg = NetworkConfig(
        chain_id=env["CHAIN_ID"],
        url=url,
        fee_minimum_gas_price=float(env["MIN_GAS_PRICE"]),
        fee_denomination=DENOM,
        staking_denomination=DENOM,
    )
    client = LedgerClient(cfg)
    sender = LocalWallet(PrivateKey(bytes.fromhex(env["SECRET"])), prefix="havn")
    recipient = LocalWallet.generate(prefix="havn")
    before = client.query_bank_balance(sender.address())

    send = client.send_tokens(recipient.address(), SENT, DENOM, sender).wait_to_complete()

    token = LedgerContract(env["WASM"], client)
    found_before_store = token.code_id
    address = token.deploy(
        {
            "name": "Cosmpy Token",
            "symbol": "CPY",
            "decimals": 6,
            "initial_balances": [{"address": str(sender.address()), "amount": str(MINTED)}],
            "mint": None,
        },
        sender,
        label="cosmpy",
    )
    transfer = token.execute(
        {"transfer": {"recipient": str(recipient.address()), "amount": str(TRANSFERRED)}},
        sender,
    ).wait_to_complete()
    # A second client finds the stored code by its checksum (cosmwasm.wasm.v1.Query/Codes).
    again = LedgerContract(env["WASM"], client)

    block = client.query_consensus_params().params.block
    print(
        json.dumps(
            {
                "sender": str(sender.address()),
                "recipient": str(recipient.address()),
                "sender_spent": before - client.query_bank_balance(sender.address()),
                "recipient_bank": client.query_bank_balance(recipient.address()),
                "send_gas_used": send.response.gas_used,
                "code_id_before_store": found_before_store,
                "code_id": token.code_id,
                "code_id_found_again": again.code_id,
                "contract": str(address),
                "transfer_events": transfer.response.events.get("wasm", {}),
                "recipient_cw20": token.query({"balance": {"address": str(recipient.address())}}),
                "sender_cw20": token.query({"balance": {"address": str(sender.address())}}),
                "block_max_gas": block.max_gas,
                "block_max_bytes": block.max_bytes,
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the Rust test prints this line on failure
        print(f"cosmpy flow failed: {type(e).__name__}: {e}", file=sys.stderr)
        raise
