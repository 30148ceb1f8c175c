//! Havn's contracts on a chain, through typed messages (the contracts' own types, built with their
//! `library` feature): deploy $HAI and the contracts from their wasm artifacts, bond operators,
//! publish, request, record.

use std::path::Path;

use cosmwasm_std::{to_json_binary, Binary, HexBinary, Uint128};
use havn_execution_log::msg::{ExecuteMsg as LogMsg, JobResult, ReceiveMsg as LogReceive};
use havn_staking::msg::{KeyProof, ReceiveMsg as StakingReceive};
use havn_staking::state::Role;
use havn_types::AssetUnchecked;
use havn_workflow_registry::msg::{ExecuteMsg as RegistryMsg, PublishMsg};
use k256::ecdsa::signature::hazmat::PrehashSigner;
use k256::ecdsa::{Signature, SigningKey};

use crate::{ChainError, Client, TxResult, Wallet};

/// Addresses of a Havn deployment.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Deployment {
    /// The $HAI cw20.
    pub token: String,
    pub registry: String,
    pub staking: String,
    pub payout: String,
    pub log: String,
    /// $HAI holders' governance: admin of the four contracts above and the treasury.
    pub governance: String,
}

/// What to deploy with.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// $HAI minted at instantiation: (address, amount in uhai).
    pub balances: Vec<(String, u128)>,
    pub staking: havn_staking::state::Params,
    pub log: havn_execution_log::state::Params,
    pub payout: havn_payout::state::Params,
    pub governance: havn_governance::state::Params,
}

fn artifact(dir: &Path, name: &str) -> Result<Vec<u8>, ChainError> {
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path)
        .map_err(|e| ChainError::Build(format!("{}: {e} (run `make wasm`)", path.display())))
}

fn json<T: serde::Serialize>(msg: &T) -> Result<Binary, ChainError> {
    to_json_binary(msg).map_err(|e| ChainError::Build(e.to_string()))
}

/// Stores and instantiates $HAI, the registry, staking, payout, the execution log and governance
/// (in the order docs/deployment.md gives), wires the log into staking and payout, then hands
/// every contract's admin role and the treasury to governance, in one tx. The deployer keeps
/// only the wasm-level admin (code migrations).
pub async fn deploy(
    client: &Client,
    deployer: &Wallet,
    artifacts: &Path,
    options: DeployOptions,
) -> Result<Deployment, ChainError> {
    let me = deployer.address().to_string();
    let mut codes = vec![];
    for name in [
        "hai_token",
        "workflow_registry",
        "staking",
        "payout",
        "execution_log",
        "governance",
    ] {
        codes.push(
            client
                .store_code(deployer, artifact(artifacts, name)?)
                .await?,
        );
    }
    let token = client
        .instantiate(
            deployer,
            codes[0],
            &cw20_base::msg::InstantiateMsg {
                name: "Havn AI".into(),
                symbol: "HAI".into(),
                decimals: 6,
                initial_balances: options
                    .balances
                    .iter()
                    .map(|(address, amount)| cw20::Cw20Coin {
                        address: address.clone(),
                        amount: Uint128::new(*amount),
                    })
                    .collect(),
                mint: None,
                marketing: None,
            },
            "havn-hai",
            Some(&me),
        )
        .await?;
    let asset = AssetUnchecked::Cw20(token.clone());
    let registry = client
        .instantiate(
            deployer,
            codes[1],
            &havn_workflow_registry::msg::InstantiateMsg {
                admin: me.clone(),
                asset: asset.clone(),
                treasury: me.clone(),
                params: None,
            },
            "havn-workflow-registry",
            Some(&me),
        )
        .await?;
    let staking = client
        .instantiate(
            deployer,
            codes[2],
            &havn_staking::msg::InstantiateMsg {
                admin: me.clone(),
                asset: asset.clone(),
                treasury: me.clone(),
                execution_log: None,
                params: Some(options.staking),
            },
            "havn-staking",
            Some(&me),
        )
        .await?;
    let payout = client
        .instantiate(
            deployer,
            codes[3],
            &havn_payout::msg::InstantiateMsg {
                admin: me.clone(),
                asset: asset.clone(),
                execution_log: None,
                treasury: me.clone(),
                params: Some(options.payout),
            },
            "havn-payout",
            Some(&me),
        )
        .await?;
    let log = client
        .instantiate(
            deployer,
            codes[4],
            &havn_execution_log::msg::InstantiateMsg {
                admin: me.clone(),
                asset,
                registry: registry.clone(),
                staking: staking.clone(),
                payout: payout.clone(),
                params: Some(options.log),
            },
            "havn-execution-log",
            Some(&me),
        )
        .await?;
    let governance = client
        .instantiate(
            deployer,
            codes[5],
            &havn_governance::msg::InstantiateMsg {
                asset: AssetUnchecked::Cw20(token.clone()),
                staking: staking.clone(),
                registry: registry.clone(),
                execution_log: log.clone(),
                payout: payout.clone(),
                params: Some(options.governance),
            },
            "havn-governance",
            Some(&me),
        )
        .await?;
    let gov = Some(governance.clone());
    let wire = vec![
        client.execute_msg(
            deployer,
            &staking,
            &havn_staking::msg::ExecuteMsg::UpdateConfig {
                admin: gov.clone(),
                treasury: gov.clone(),
                execution_log: Some(log.clone()),
            },
            &[],
        )?,
        client.execute_msg(
            deployer,
            &payout,
            &havn_payout::msg::ExecuteMsg::UpdateConfig {
                admin: gov.clone(),
                execution_log: Some(log.clone()),
                treasury: gov.clone(),
            },
            &[],
        )?,
        client.execute_msg(
            deployer,
            &registry,
            &RegistryMsg::UpdateConfig {
                admin: gov.clone(),
                treasury: gov.clone(),
            },
            &[],
        )?,
        client.execute_msg(
            deployer,
            &log,
            &LogMsg::UpdateConfig {
                admin: gov,
                payout: None,
            },
            &[],
        )?,
    ];
    client.send_tx(deployer, wire).await?;
    Ok(Deployment {
        token,
        registry,
        staking,
        payout,
        log,
        governance,
    })
}

/// A signature over a 32-byte digest as the contracts verify it (`secp256k1_verify`, low-S).
pub fn sign_digest(key: &SigningKey, digest: &[u8; 32]) -> Result<Binary, ChainError> {
    let sig: Signature = key
        .sign_prehash(digest)
        .map_err(|e| ChainError::Key(e.to_string()))?;
    Ok(Binary::from(sig.to_bytes().as_slice()))
}

impl Deployment {
    /// `cw20 Send` of `amount` uhai to `contract` carrying `msg`.
    pub fn pay_msg<M: serde::Serialize>(
        &self,
        client: &Client,
        sender: &Wallet,
        contract: &str,
        amount: u128,
        msg: &M,
    ) -> Result<cosmrs::Any, ChainError> {
        client.execute_msg(
            sender,
            &self.token,
            &cw20::Cw20ExecuteMsg::Send {
                contract: contract.into(),
                amount: Uint128::new(amount),
                msg: json(msg)?,
            },
            &[],
        )
    }

    /// Bonds `amount` uhai for `role`, registering `key` (the operator's attestation key) with its
    /// proof of possession when `first`.
    pub async fn bond(
        &self,
        client: &Client,
        operator: &Wallet,
        role: Role,
        amount: u128,
        key: Option<&SigningKey>,
    ) -> Result<TxResult, ChainError> {
        let proof = match key {
            Some(k) => {
                let digest = havn_types::keys::possession_digest(
                    client.chain_id(),
                    &self.staking,
                    operator.address().as_ref(),
                );
                Some(KeyProof {
                    pubkey: Binary::from(k.verifying_key().to_encoded_point(true).as_bytes()),
                    signature: sign_digest(k, &digest)?,
                })
            }
            None => None,
        };
        let msg = self.pay_msg(
            client,
            operator,
            &self.staking,
            amount,
            &StakingReceive::Bond { role, key: proof },
        )?;
        client.send_tx(operator, vec![msg]).await
    }

    /// Publishes; returns the workflow id.
    pub async fn publish(
        &self,
        client: &Client,
        creator: &Wallet,
        msg: PublishMsg,
    ) -> Result<u64, ChainError> {
        let r = client
            .execute(creator, &self.registry, &RegistryMsg::Publish(msg), &[])
            .await?;
        id_attribute(&r, "workflow_id")
    }

    /// A `RequestJob` paying `fee` (for batching several in one tx).
    pub fn request_msg(
        &self,
        client: &Client,
        caller: &Wallet,
        workflow_id: u64,
        fee: u128,
        input_hash: HexBinary,
    ) -> Result<cosmrs::Any, ChainError> {
        self.pay_msg(
            client,
            caller,
            &self.log,
            fee,
            &LogReceive::RequestJob {
                workflow_id,
                input_hash,
            },
        )
    }

    /// Records a batch of results.
    pub async fn record(
        &self,
        client: &Client,
        relayer: &Wallet,
        results: Vec<JobResult>,
    ) -> Result<TxResult, ChainError> {
        client
            .execute(
                relayer,
                &self.log,
                &LogMsg::RecordExecution { results },
                &[],
            )
            .await
    }

    /// Pays out recorded jobs whose challenge window has passed (anyone may).
    pub async fn finalize(
        &self,
        client: &Client,
        sender: &Wallet,
        job_ids: Vec<u64>,
    ) -> Result<TxResult, ChainError> {
        client
            .execute(sender, &self.log, &LogMsg::Finalize { job_ids }, &[])
            .await
    }

    /// `address`'s $HAI (cw20) balance, in uhai.
    pub async fn hai_balance(&self, client: &Client, address: &str) -> Result<u128, ChainError> {
        let b: cw20::BalanceResponse = client
            .smart(
                &self.token,
                &cw20::Cw20QueryMsg::Balance {
                    address: address.into(),
                },
            )
            .await?;
        Ok(b.balance.u128())
    }

    pub async fn job(
        &self,
        client: &Client,
        id: u64,
    ) -> Result<havn_execution_log::state::Job, ChainError> {
        client
            .smart(&self.log, &havn_execution_log::msg::QueryMsg::Job { id })
            .await
    }
}

/// Every value of a `wasm` attribute in a tx, in order (e.g. one `job_id` per request).
pub fn attributes<'a>(r: &'a TxResult, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    r.events
        .iter()
        .filter(|(t, _)| t == "wasm")
        .flat_map(|(_, attrs)| attrs.iter())
        .filter(move |(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn id_attribute(r: &TxResult, key: &str) -> Result<u64, ChainError> {
    attributes(r, key)
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ChainError::Decode(format!("tx {} has no {key} attribute", r.hash)))
}
