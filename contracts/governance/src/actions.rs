//! Proposal actions: checked when proposed (what this contract can check), turned into messages
//! when a passed proposal runs. The targets check their own params when the messages arrive.

use cosmwasm_std::{
    to_json_binary, Addr, CosmosMsg, Decimal, Deps, DepsMut, Env, StdResult, Uint128, WasmMsg,
};
use havn_staking::state::Role;
use havn_types::{Asset, Verdict};
use havn_workflow_registry::state::FlagReason;

use crate::error::ContractError;
use crate::execute::apply_params;
use crate::msg::Action;
use crate::state::{Config, Params, DEPOSITS_HELD, MAX_REASON, PARAMS};

pub fn validate(deps: Deps, params: &Params, actions: &[Action]) -> Result<(), ContractError> {
    if actions.is_empty() || actions.len() > params.max_actions as usize {
        return Err(ContractError::BadActionCount {
            count: actions.len(),
            max: params.max_actions,
        });
    }
    for (index, action) in actions.iter().enumerate() {
        let invalid = |reason: String| ContractError::InvalidAction { index, reason };
        let address = |a: &str| {
            deps.api
                .addr_validate(a)
                .map_err(|e| invalid(e.to_string()))
        };
        match action {
            Action::UpdateGovernanceParams(update) => {
                apply_params(params.clone(), update.clone()).map_err(|e| invalid(e.to_string()))?;
            }
            Action::FlagWorkflow { note, .. } => {
                if note
                    .as_ref()
                    .is_some_and(|n| n.chars().count() > MAX_REASON)
                {
                    return Err(invalid(format!(
                        "note is longer than {MAX_REASON} characters"
                    )));
                }
            }
            Action::SlashOperator {
                operator,
                reason,
                fraction,
                ..
            } => {
                address(operator)?;
                let len = reason.chars().count();
                if len == 0 || len > MAX_REASON {
                    return Err(invalid(format!(
                        "a slash needs a reason of 1 to {MAX_REASON} characters"
                    )));
                }
                if fraction.is_some_and(|f| f.is_zero() || f > Decimal::one()) {
                    return Err(invalid(
                        "slash fraction must be above 0 and at most 1".into(),
                    ));
                }
            }
            Action::SpendTreasury { recipient, amount } => {
                address(recipient)?;
                if amount.is_zero() {
                    return Err(invalid("spend amount must be above 0".into()));
                }
            }

            Action::ExecuteContract { contract, .. } | Action::MigrateContract { contract, .. } => {
                address(contract)?;
            }
            Action::UpdateRegistryParams(_)
            | Action::UpdateStakingParams(_)
            | Action::UpdateExecutionLogParams(_)
            | Action::UpdatePayoutParams(_)
            | Action::UnflagWorkflow { .. }
            | Action::ResolveCopyDispute { .. }
            | Action::ArbitrateJob { .. } => {}
        }
    }
    Ok(())
}

fn execute(contract: &Addr, msg: &impl serde::Serialize) -> StdResult<CosmosMsg> {
    Ok(WasmMsg::Execute {
        contract_addr: contract.to_string(),
        msg: to_json_binary(msg)?,
        funds: vec![],
    }
    .into())
}

/// The execute messages governance sends to the other Havn contracts. Serializes exactly like
/// the same variants of their `ExecuteMsg` (a test checks), without linking those whole enums'
/// serializers into this contract: that keeps it under the wasm size budget.
#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum TargetMsg<'a, P: serde::Serialize> {
    UpdateParams(&'a P),
    Flag {
        id: u64,
        reason: &'a FlagReason,
        note: &'a Option<String>,
    },
    Unflag {
        id: u64,
    },
    Arbitrate {
        job_id: u64,
        verdict: Verdict,
    },
    Slash {
        operator: &'a str,
        role: &'a Option<Role>,
        reason: &'a str,
        fraction: &'a Option<Decimal>,
    },
    ResolveDispute {
        id: u64,
        upheld: bool,
    },
}

/// A `TargetMsg` variant that carries no params.
type Plain<'a> = TargetMsg<'a, ()>;

/// Applies this contract's own actions and returns the messages for the rest, in order.
pub fn run(
    deps: DepsMut,
    env: &Env,
    config: &Config,
    actions: Vec<Action>,
) -> Result<Vec<CosmosMsg>, ContractError> {
    let mut available = treasury_available(deps.as_ref(), env, &config.asset)?;
    let mut msgs = Vec::new();
    for action in actions {
        match action {
            Action::UpdateRegistryParams(u) => {
                msgs.push(execute(&config.registry, &TargetMsg::UpdateParams(&u))?)
            }
            Action::UpdateStakingParams(u) => {
                msgs.push(execute(&config.staking, &TargetMsg::UpdateParams(&u))?)
            }
            Action::UpdateExecutionLogParams(u) => msgs.push(execute(
                &config.execution_log,
                &TargetMsg::UpdateParams(&u),
            )?),
            Action::UpdatePayoutParams(u) => {
                msgs.push(execute(&config.payout, &TargetMsg::UpdateParams(&u))?)
            }
            Action::UpdateGovernanceParams(u) => {
                let params = apply_params(PARAMS.load(deps.storage)?, u)?;
                PARAMS.save(deps.storage, &params)?;
            }
            Action::FlagWorkflow { id, reason, note } => msgs.push(execute(
                &config.registry,
                &Plain::Flag {
                    id,
                    reason: &reason,
                    note: &note,
                },
            )?),
            Action::UnflagWorkflow { id } => {
                msgs.push(execute(&config.registry, &Plain::Unflag { id })?)
            }
            Action::ArbitrateJob { job_id, verdict } => msgs.push(execute(
                &config.execution_log,
                &Plain::Arbitrate { job_id, verdict },
            )?),
            Action::SlashOperator {
                operator,
                role,
                reason,
                fraction,
            } => msgs.push(execute(
                &config.staking,
                &Plain::Slash {
                    operator: &operator,
                    role: &role,
                    reason: &reason,
                    fraction: &fraction,
                },
            )?),
            Action::SpendTreasury { recipient, amount } => {
                if amount > available {
                    return Err(ContractError::TreasuryShort {
                        available,
                        requested: amount,
                    });
                }
                available -= amount;
                let recipient = deps.api.addr_validate(&recipient)?;
                msgs.push(config.asset.transfer_msg(&recipient, amount)?);
            }
            Action::ResolveCopyDispute { dispute_id, upheld } => msgs.push(execute(
                &config.registry,
                &Plain::ResolveDispute {
                    id: dispute_id,
                    upheld,
                },
            )?),
            Action::ExecuteContract { contract, msg } => msgs.push(
                WasmMsg::Execute {
                    contract_addr: deps.api.addr_validate(&contract)?.to_string(),
                    msg,
                    funds: vec![],
                }
                .into(),
            ),
            Action::MigrateContract {
                contract,
                code_id,
                msg,
            } => msgs.push(
                WasmMsg::Migrate {
                    contract_addr: deps.api.addr_validate(&contract)?.to_string(),
                    new_code_id: code_id,
                    msg,
                }
                .into(),
            ),
        }
    }
    Ok(msgs)
}

/// This contract's $HAI less the deposits it holds for open proposals.
pub fn treasury_available(deps: Deps, env: &Env, asset: &Asset) -> StdResult<Uint128> {
    let balance = treasury_balance(deps, env, asset)?;
    Ok(balance.saturating_sub(DEPOSITS_HELD.load(deps.storage)?))
}

pub fn treasury_balance(deps: Deps, env: &Env, asset: &Asset) -> StdResult<Uint128> {
    let me = env.contract.address.to_string();
    match asset {
        Asset::Native(denom) => Ok(deps.querier.query_balance(me, denom)?.amount),
        Asset::Cw20(token) => {
            // `cw20::Cw20QueryMsg::Balance` as JSON, without that whole enum's serializer.
            #[derive(serde::Serialize)]
            #[serde(rename_all = "snake_case")]
            enum Cw20Query {
                Balance { address: String },
            }
            let r: cw20::BalanceResponse = deps
                .querier
                .query_wasm_smart(token, &Cw20Query::Balance { address: me })?;
            Ok(r.balance)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::to_json_string;

    /// Each message is byte-for-byte what the target contract's own `ExecuteMsg` serializes to.
    #[test]
    fn target_messages_match_the_contracts_own() {
        let registry = havn_workflow_registry::msg::ParamsUpdate {
            max_dependencies: Some(4),
            ..Default::default()
        };
        assert_eq!(
            to_json_string(&TargetMsg::UpdateParams(&registry)).unwrap(),
            to_json_string(&havn_workflow_registry::msg::ExecuteMsg::UpdateParams(
                registry.clone()
            ))
            .unwrap()
        );
        let staking = havn_staking::msg::ParamsUpdate {
            slash_fraud: Some(Decimal::percent(20)),
            ..Default::default()
        };
        assert_eq!(
            to_json_string(&TargetMsg::UpdateParams(&staking)).unwrap(),
            to_json_string(&havn_staking::msg::ExecuteMsg::UpdateParams(
                staking.clone()
            ))
            .unwrap()
        );
        let log = havn_execution_log::msg::ParamsUpdate {
            quorum_bps: Some(7_000),
            ..Default::default()
        };
        assert_eq!(
            to_json_string(&TargetMsg::UpdateParams(&log)).unwrap(),
            to_json_string(&havn_execution_log::msg::ExecuteMsg::UpdateParams(
                log.clone()
            ))
            .unwrap()
        );
        let payout = havn_payout::msg::ParamsUpdate {
            max_signers: Some(9),
            ..Default::default()
        };
        assert_eq!(
            to_json_string(&TargetMsg::UpdateParams(&payout)).unwrap(),
            to_json_string(&havn_payout::msg::ExecuteMsg::UpdateParams(payout.clone())).unwrap()
        );
        let note = Some("copy".to_string());
        assert_eq!(
            to_json_string(&Plain::Flag {
                id: 3,
                reason: &FlagReason::Stolen,
                note: &note
            })
            .unwrap(),
            to_json_string(&havn_workflow_registry::msg::ExecuteMsg::Flag {
                id: 3,
                reason: FlagReason::Stolen,
                note
            })
            .unwrap()
        );
        assert_eq!(
            to_json_string(&Plain::Unflag { id: 3 }).unwrap(),
            to_json_string(&havn_workflow_registry::msg::ExecuteMsg::Unflag { id: 3 }).unwrap()
        );
        assert_eq!(
            to_json_string(&Plain::ResolveDispute {
                id: 4,
                upheld: true
            })
            .unwrap(),
            to_json_string(&havn_workflow_registry::msg::ExecuteMsg::ResolveDispute {
                id: 4,
                upheld: true
            })
            .unwrap()
        );
        for verdict in [Verdict::Valid, Verdict::Invalid] {
            assert_eq!(
                to_json_string(&Plain::Arbitrate { job_id: 7, verdict }).unwrap(),
                to_json_string(&havn_execution_log::msg::ExecuteMsg::Arbitrate {
                    job_id: 7,
                    verdict
                })
                .unwrap()
            );
        }
        for (role, fraction) in [(None, None), (Some(Role::Node), Some(Decimal::percent(7)))] {
            assert_eq!(
                to_json_string(&Plain::Slash {
                    operator: "op",
                    role: &role,
                    reason: "collusion",
                    fraction: &fraction
                })
                .unwrap(),
                to_json_string(&havn_staking::msg::ExecuteMsg::Slash {
                    operator: "op".into(),
                    role,
                    reason: "collusion".into(),
                    fraction
                })
                .unwrap()
            );
        }
    }
}
