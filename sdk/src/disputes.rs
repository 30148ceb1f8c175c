//! Copy disputes (docs/workflow-registry.md, Derivatives): a bonded claim that a workflow copies
//! an older one without declaring it, answered by the accused creator's equal bond and decided by
//! a governance vote. Bonds are paid in the registry's asset: a cw20 `Send` carrying the message,
//! or the bank denom attached to it.

use cosmwasm_std::Uint128;
use havn_chain::{Client, TxResult, Wallet};
use havn_types::Asset;
use havn_workflow_registry::msg::{ConfigResponse, ExecuteMsg, QueryMsg, ReceiveMsg};
use havn_workflow_registry::state::{Dispute, Params};

use crate::CliError;

/// A dispute call that bonds.
pub enum Bonded {
    /// Claim that `copy` copies the older `original`.
    Open {
        copy: u64,
        original: u64,
        note: Option<String>,
    },
    /// The accused creator answers dispute `id`.
    Defend { id: u64 },
}

/// Sends `call` from `from` with the bond it needs (governance's `dispute_bond` to open, the
/// claimant's bond to defend): refused here, with nothing sent, when `from` holds less.
pub async fn send(
    client: &Client,
    registry: &str,
    from: &Wallet,
    call: Bonded,
) -> Result<(Uint128, TxResult), CliError> {
    let config: ConfigResponse = client.smart(registry, &QueryMsg::Config {}).await?;
    let (bond, what) = match &call {
        Bonded::Open { .. } => {
            let params: Params = client.smart(registry, &QueryMsg::Params {}).await?;
            (params.derivatives.dispute_bond, "opening a dispute")
        }
        Bonded::Defend { id } => {
            let dispute: Dispute = client
                .smart(registry, &QueryMsg::Dispute { id: *id })
                .await
                .map_err(|e| match e {
                    havn_chain::ChainError::Rpc { .. } if e.to_string().contains("not found") => {
                        CliError::Input(format!("dispute {id} does not exist"))
                    }
                    e => e.into(),
                })?;
            (dispute.bond, "defending it")
        }
    };
    let (exec, receive) = match call {
        Bonded::Open {
            copy,
            original,
            note,
        } => (
            ExecuteMsg::OpenDispute {
                copy,
                original,
                note: note.clone(),
            },
            ReceiveMsg::OpenDispute {
                copy,
                original,
                note,
            },
        ),
        Bonded::Defend { id } => (
            ExecuteMsg::DefendDispute { id },
            ReceiveMsg::DefendDispute { id },
        ),
    };
    let who = from.address().to_string();
    let (have, unit) = match &config.asset {
        Asset::Cw20(token) => {
            let b: cw20::BalanceResponse = client
                .smart(
                    token.as_str(),
                    &cw20::Cw20QueryMsg::Balance {
                        address: who.clone(),
                    },
                )
                .await?;
            (b.balance.u128(), "uhai".to_string())
        }
        Asset::Native(denom) => (client.balance(&who, denom).await?, denom.clone()),
    };
    if have < bond.u128() {
        return Err(CliError::Input(format!(
            "{who} has {have} {unit} but {what} bonds {bond} {unit}: nothing was sent"
        )));
    }
    let tx = match &config.asset {
        Asset::Cw20(token) => {
            let msg = cw20::Cw20ExecuteMsg::Send {
                contract: registry.into(),
                amount: bond,
                msg: cosmwasm_std::to_json_binary(&receive)
                    .map_err(|e| CliError::Input(e.to_string()))?,
            };
            client.execute(from, token.as_str(), &msg, &[]).await?
        }
        Asset::Native(denom) => {
            client
                .execute(from, registry, &exec, &[(bond.u128(), denom.as_str())])
                .await?
        }
    };
    Ok((bond, tx))
}
