//! What every Havn multi-test suite needs, once: failures compared to typed contract errors, a cw20
//! $HAI token, and deterministic secp256k1 keys that sign prehashed digests the way operators do.

use std::fmt;

use cosmwasm_std::{Addr, Binary, Empty, Uint128};
use cw_multi_test::{App, AppResponse, Contract, ContractWrapper, Executor};
use k256::ecdsa::signature::hazmat::PrehashSigner;
use k256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

/// A failed multi-test call. multi-test keeps a contract's error only as its message (its
/// `ContractWrapper` bounds errors by `Display`), so a failure equals the contract error whose full
/// message it has at the root of its chain, however many layers (a cw20 `Send` adds some) wrap it.
#[derive(Debug)]
pub struct Failure(pub anyhow::Error);

impl Failure {
    pub fn message(&self) -> String {
        self.0.root_cause().to_string()
    }
}

impl<E: fmt::Display> PartialEq<E> for Failure {
    fn eq(&self, other: &E) -> bool {
        self.message() == other.to_string()
    }
}

/// cw20-base, the $HAI of cw20 deployments.
pub fn cw20_contract() -> Box<dyn Contract<Empty>> {
    Box::new(ContractWrapper::new(
        cw20_base::contract::execute,
        cw20_base::contract::instantiate,
        cw20_base::contract::query,
    ))
}

/// Instantiates a cw20 $HAI with these balances.
pub fn instantiate_hai(app: &mut App, owner: &Addr, balances: &[(Addr, u128)]) -> Addr {
    let code = app.store_code(cw20_contract());
    let initial_balances = balances
        .iter()
        .map(|(address, amount)| cw20::Cw20Coin {
            address: address.to_string(),
            amount: Uint128::new(*amount),
        })
        .collect();
    let msg = cw20_base::msg::InstantiateMsg {
        name: "Havn AI".into(),
        symbol: "HAI".into(),
        decimals: 6,
        initial_balances,
        mint: None,
        marketing: None,
    };
    app.instantiate_contract(code, owner.clone(), &msg, &[], "hai", None)
        .unwrap()
}

/// A cw20 balance.
pub fn cw20_balance(app: &App, token: &Addr, who: &Addr) -> u128 {
    let res: cw20::BalanceResponse = app
        .wrap()
        .query_wasm_smart(
            token,
            &cw20::Cw20QueryMsg::Balance {
                address: who.to_string(),
            },
        )
        .unwrap();
    res.balance.u128()
}

/// $HAI held by `who`: cw20 balance when the deployment has a token, else the bank `denom`.
pub fn hai_balance(app: &App, token: Option<&Addr>, denom: &str, who: &Addr) -> u128 {
    match token {
        Some(token) => cw20_balance(app, token, who),
        None => app.wrap().query_balance(who, denom).unwrap().amount.u128(),
    }
}

/// The same key for the same name, in every suite.
pub fn key(name: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("havn-test-key/{name}"))).unwrap()
}

/// The 33-byte compressed public key, as the staking contract registers it.
pub fn pubkey(key: &SigningKey) -> Binary {
    Binary::from(key.verifying_key().to_encoded_point(true).as_bytes())
}

/// Signs a 32-byte digest as is (no further hashing), as `secp256k1_verify` expects. k256
/// normalizes to low-S.
pub fn sign(key: &SigningKey, digest: &[u8; 32]) -> Signature {
    key.sign_prehash(digest).unwrap()
}

/// The 64-byte compact encoding contracts take.
pub fn bytes(sig: &Signature) -> Binary {
    Binary::from(sig.to_bytes().as_slice())
}

/// The same signature with s replaced by n − s: different bytes that verify all the same.
pub fn high_s_twin(sig: &Signature) -> Signature {
    let (r, s) = sig.split_scalars();
    Signature::from_scalars(r.to_bytes(), (-*s.as_ref()).to_bytes()).unwrap()
}

/// (job id, outcome, reason) of every `havn_job` event the execution log emitted in a response.
pub fn job_outcomes(res: &AppResponse) -> Vec<(u64, String, String)> {
    outcomes_of(res, "wasm-havn_job")
}

/// (job id, outcome, reason) from the events of type `ty` (`wasm-havn_finalize`, …).
pub fn outcomes_of(res: &AppResponse, ty: &str) -> Vec<(u64, String, String)> {
    res.events
        .iter()
        .filter(|e| e.ty == ty)
        .map(|e| {
            let get = |k: &str| {
                e.attributes
                    .iter()
                    .find(|a| a.key == k)
                    .map(|a| a.value.clone())
                    .unwrap_or_default()
            };
            (
                get("job_id").parse().expect("job_id is a number"),
                get("outcome"),
                get("reason"),
            )
        })
        .collect()
}
