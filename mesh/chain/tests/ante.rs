//! The devnet's ante checks give the codes and logs a wasmd chain gives, and a rejected or
//! failed tx changes nothing but what the SDK keeps (fee and sequence of a tx that passed the
//! ante): each test runs on the devnet and on havnd (the real wasmd chain). Needs `make wasm
//! havnd`.

mod common;

use common::{artifact, wallet, Devnet, Havnd, FEE_DENOM};
use cosmwasm_std::Uint128;
use havn_chain::{sign_tx, ChainError, Client, SignParams, Wallet};

/// Gas price of the test chain: 0.025 uhavn per gas.
const MIN_GAS_PRICE: &str = "0.025";

fn code(e: &ChainError) -> u32 {
    e.tx_code().unwrap_or_else(|| panic!("not a tx error: {e}"))
}

fn log(e: &ChainError) -> &str {
    match e {
        ChainError::Tx { log, .. } => log,
        other => panic!("not a tx error: {other}"),
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Devnet,
    Havnd,
}

enum Chain {
    Devnet(Devnet),
    Havnd(Havnd),
}

impl Chain {
    async fn start(kind: Kind) -> Chain {
        match kind {
            Kind::Devnet => Chain::Devnet(
                Devnet::start(&["alice", "bob"], |g| {
                    g.min_gas_price = MIN_GAS_PRICE.into();
                })
                .await,
            ),
            Kind::Havnd => {
                Chain::Havnd(Havnd::start_priced(&["alice", "bob"], 100, MIN_GAS_PRICE).await)
            }
        }
    }

    /// A gas-price-0 client: the tests sign their own fees.
    fn client(&self) -> &Client {
        match self {
            Chain::Devnet(d) => &d.client,
            Chain::Havnd(h) => &h.client,
        }
    }

    async fn stop(self) {
        match self {
            Chain::Devnet(d) => d.stop().await,
            Chain::Havnd(h) => drop(h),
        }
    }
}

struct Fixture {
    devnet: Chain,
    chain_id: String,
    alice: Wallet,
    token: String,
}

impl Fixture {
    async fn new(kind: Kind) -> Fixture {
        let devnet = Chain::start(kind).await;
        let alice = wallet("alice");
        let mut cfg = devnet.client().config().clone();
        cfg.gas_price = 0.025;
        let client = Client::connect(cfg).await.unwrap();
        // "poor" can pay for almost nothing.
        client
            .bank_send(&alice, wallet("poor").address().as_ref(), 1_000, FEE_DENOM)
            .await
            .unwrap();
        let a = alice.address().to_string();
        let code = client
            .store_code(&alice, artifact("hai_token"))
            .await
            .unwrap();
        let init = serde_json::json!({"name": "Havn AI", "symbol": "HAI", "decimals": 6,
            "initial_balances": [{"address": a, "amount": "1000"}], "mint": null, "marketing": null});
        let token = client
            .instantiate(&alice, code, &init, "hai", None)
            .await
            .unwrap();
        Fixture {
            chain_id: devnet.client().chain_id().to_string(),
            devnet,
            alice,
            token,
        }
    }

    fn transfer(&self, amount: u128) -> cosmrs::Any {
        self.devnet
            .client()
            .execute_msg(
                &self.alice,
                &self.token,
                &cw20::Cw20ExecuteMsg::Transfer {
                    recipient: wallet("bob").address().to_string(),
                    amount: Uint128::new(amount),
                },
                &[],
            )
            .unwrap()
    }

    /// What must not move when a tx is rejected: alice's sequence, fee balance, token balance.
    async fn state(&self) -> (u64, u128, u128) {
        let a = self.alice.address().to_string();
        let c = self.devnet.client();
        let (_, seq) = c.account(&a).await.unwrap();
        let fee_balance = c.balance(&a, FEE_DENOM).await.unwrap();
        let b: cw20::BalanceResponse = c
            .smart(&self.token, &cw20::Cw20QueryMsg::Balance { address: a })
            .await
            .unwrap();
        (seq, fee_balance, b.balance.u128())
    }

    async fn params(&self) -> (u64, u64) {
        self.devnet
            .client()
            .account(self.alice.address().as_ref())
            .await
            .unwrap()
    }
}

fn params<'a>(chain_id: &'a str, number: u64, sequence: u64, gas: u64) -> SignParams<'a> {
    SignParams {
        chain_id,
        account_number: number,
        sequence,
        gas_limit: gas,
        fee: u128::from(gas / 40 + 1),
        fee_denom: FEE_DENOM,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_txs_get_wasmds_codes_and_change_nothing_on_the_devnet() {
    bad_txs_get_wasmds_codes_and_change_nothing(Kind::Devnet).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_txs_get_the_same_codes_and_change_nothing_on_havnd() {
    bad_txs_get_wasmds_codes_and_change_nothing(Kind::Havnd).await;
}

async fn bad_txs_get_wasmds_codes_and_change_nothing(kind: Kind) {
    let f = Fixture::new(kind).await;
    let c = f.devnet.client();
    let chain_id = f.chain_id.clone();
    let (number, sequence) = f.params().await;
    let msg = vec![f.transfer(10)];
    let before = f.state().await;

    // Wrong chain id, wrong account number: the signature does not verify (code 4).
    for (chain, num) in [("another-chain", number), (chain_id.as_str(), number + 7)] {
        let tx = sign_tx(&f.alice, &msg, &params(chain, num, sequence, 300_000)).unwrap();
        let e = c.broadcast(tx).await.unwrap_err();
        assert_eq!(code(&e), 4, "{e}");
        assert!(
            log(&e).starts_with("signature verification failed; please verify account number"),
            "{e}"
        );
    }
    // A corrupted signature.
    let mut tx = cosmrs::tx::Raw::from_bytes(
        &sign_tx(
            &f.alice,
            &msg,
            &params(&chain_id, number, sequence, 300_000),
        )
        .unwrap(),
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    let last = tx.len() - 1;
    tx[last] ^= 1;
    assert_eq!(code(&c.broadcast(tx).await.unwrap_err()), 4);
    // A sequence from the future.
    let tx = sign_tx(
        &f.alice,
        &msg,
        &params(&chain_id, number, sequence + 3, 300_000),
    )
    .unwrap();
    let e = c.broadcast(tx).await.unwrap_err();
    assert_eq!(code(&e), 32);
    assert_eq!(
        log(&e),
        format!(
            "account sequence mismatch, expected {sequence}, got {}: incorrect account sequence",
            sequence + 3
        )
    );
    // A fee under the minimum gas price (300 000 × 0.025 = 7 500).
    let mut cheap = params(&chain_id, number, sequence, 300_000);
    cheap.fee = 7_499;
    let e = c
        .broadcast(sign_tx(&f.alice, &msg, &cheap).unwrap())
        .await
        .unwrap_err();
    assert_eq!(code(&e), 13, "{e}");
    assert!(
        log(&e).contains("insufficient fees; got: 7499uhavn required: 7500uhavn"),
        "{e}"
    );
    // A fee the payer cannot afford.
    let poor = wallet("poor");
    let (pn, ps) = c.account(poor.address().as_ref()).await.unwrap();
    let send = cosmrs::bank::MsgSend {
        from_address: poor.address().clone(),
        to_address: f.alice.address().clone(),
        amount: vec![],
    };
    let e = c
        .broadcast(
            sign_tx(
                &poor,
                &[cosmrs::tx::Msg::to_any(&send).unwrap()],
                &params(&chain_id, pn, ps, 200_000),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), 5, "{e}");
    assert!(log(&e).contains("insufficient funds"), "{e}");

    assert_eq!(f.state().await, before, "rejected txs changed state");

    // A good tx lands; the same bytes again are refused by the mempool cache (code 19), and a
    // replay of its message at its old sequence is a sequence mismatch (code 32).
    let good = sign_tx(
        &f.alice,
        &msg,
        &params(&chain_id, number, sequence, 300_000),
    )
    .unwrap();
    let hash = c.broadcast(good.clone()).await.unwrap();
    c.wait_for(&hash).await.unwrap();
    let e = c.broadcast(good).await.unwrap_err();
    assert_eq!(code(&e), 19, "{e}");
    assert!(
        log(&e).starts_with("tx already in the mempool cache"),
        "{e}"
    );
    let mut replay = params(&chain_id, number, sequence, 300_000);
    replay.fee += 1; // other bytes, same sequence
    let e = c
        .broadcast(sign_tx(&f.alice, &msg, &replay).unwrap())
        .await
        .unwrap_err();
    assert_eq!(code(&e), 32, "{e}");
    assert!(log(&e).starts_with(&format!(
        "account sequence mismatch, expected {}, got {sequence}",
        sequence + 1
    )));
    let after = f.state().await;
    assert_eq!((after.0, after.2), (before.0 + 1, before.2 - 10));
    assert_eq!(
        after.1,
        before.1 - (300_000 / 40 + 1),
        "the fee was paid once"
    );
    f.devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_gas_is_code_11_and_keeps_only_fee_and_sequence_on_both_chains() {
    for kind in [Kind::Devnet, Kind::Havnd] {
        out_of_gas_is_code_11_and_keeps_only_fee_and_sequence(kind).await;
    }
}

async fn out_of_gas_is_code_11_and_keeps_only_fee_and_sequence(kind: Kind) {
    let f = Fixture::new(kind).await;
    let c = f.devnet.client();
    let (number, sequence) = f.params().await;
    let before = f.state().await;
    // Enough for the ante, not for the contract (60 000 for its instance alone).
    let tx = sign_tx(
        &f.alice,
        &[f.transfer(10)],
        &params(&f.chain_id, number, sequence, 70_000),
    )
    .unwrap();
    let hash = c.broadcast(tx).await.unwrap();
    let e = c.wait_for(&hash).await.unwrap_err();
    assert_eq!(code(&e), 11, "{e}");
    assert!(log(&e).starts_with("out of gas in location: "), "{e}");
    assert!(log(&e).contains("gasWanted: 70000"), "{e}");
    let after = f.state().await;
    assert_eq!(after.2, before.2, "the transfer was rolled back");
    assert_eq!(after.0, before.0 + 1, "the ante's sequence bump stays");
    assert_eq!(after.1, before.1 - 1_751, "the fee stays paid");
    f.devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_txs_of_one_account_retry_on_sequence_mismatch_on_both_chains() {
    for kind in [Kind::Devnet, Kind::Havnd] {
        concurrent_txs_of_one_account_retry_on_sequence_mismatch(kind).await;
    }
}

async fn concurrent_txs_of_one_account_retry_on_sequence_mismatch(kind: Kind) {
    let f = Fixture::new(kind).await;
    let mut cfg = f.devnet.client().config().clone();
    cfg.gas_price = 0.025;
    let c = Client::connect(cfg).await.unwrap();
    let (t1, t2) = (f.transfer(1), f.transfer(2));
    let (a, b) = tokio::join!(c.send_tx(&f.alice, vec![t1]), c.send_tx(&f.alice, vec![t2]));
    a.unwrap();
    b.unwrap();
    assert_eq!(f.state().await.2, 1_000 - 3);
    f.devnet.stop().await;
}
