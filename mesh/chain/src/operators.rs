//! The mesh's view of the staking contract: who may take part (the operator set, refreshed on a
//! timer) and the liveness proofs operators owe it (heartbeats).

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use havn_mesh_common::operators::{FileOperators, Operator, OperatorSet};
use havn_staking::msg::{ExecuteMsg as StakingMsg, OperatorResponse, OperatorsResponse, QueryMsg};

use crate::{ChainError, Client, Wallet};

/// Every operator in the staking contract, as the mesh counts them: stake of a role that is not
/// active (below its minimum, or jailed) counts as none, so such an operator is refused; and a
/// validator outside the active set (the `max_validators` most staked) counts as none too, as
/// the execution log counts quorums over that set only.
pub async fn fetch_operators(client: &Client, staking: &str) -> Result<Vec<Operator>, ChainError> {
    let active: havn_staking::msg::ActiveSetResponse =
        client.smart(staking, &QueryMsg::ActiveSet {}).await?;
    let mut operators = fetch_all(client, staking).await?;
    outside_the_active_set_count_none(&mut operators, &active);
    Ok(operators)
}

/// Zeroes the validator stake of every operator `active` does not list, and takes the active
/// set's stake for the rest (the set's own figure is the one the log counts).
pub fn outside_the_active_set_count_none(
    operators: &mut [Operator],
    active: &havn_staking::msg::ActiveSetResponse,
) {
    let stakes: std::collections::HashMap<&str, u128> = active
        .validators
        .iter()
        .map(|v| (v.operator.as_str(), v.stake.u128()))
        .collect();
    for o in operators {
        o.validator_stake = stakes.get(o.address.as_str()).copied().unwrap_or(0);
    }
}

/// The operator set, its slots counted in units of the contract's `min_stake_node` (so what a
/// node may hold grows with what it bonds beyond the minimum, even when it is the only node).
async fn fetch_set(client: &Client, staking: &str) -> Result<FileOperators, ChainError> {
    let params: havn_staking::state::Params = client.smart(staking, &QueryMsg::Params {}).await?;
    let operators = fetch_operators(client, staking).await?;
    Ok(FileOperators::from_operators(operators).with_node_stake_unit(params.min_stake_node.u128()))
}

async fn fetch_all(client: &Client, staking: &str) -> Result<Vec<Operator>, ChainError> {
    let mut out: Vec<Operator> = vec![];
    loop {
        let page: OperatorsResponse = client
            .smart(
                staking,
                &QueryMsg::Operators {
                    start_after: out.last().map(|o| o.address.clone()),
                    limit: Some(30),
                },
            )
            .await?;
        let done = page.operators.len() < 30;
        out.extend(page.operators.into_iter().map(mesh_operator));
        if done {
            return Ok(out);
        }
    }
}

fn mesh_operator(o: OperatorResponse) -> Operator {
    Operator {
        address: o.address.to_string(),
        pubkey: o.pubkey.to_vec(),
        node_stake: if o.node_active {
            o.node_stake.u128()
        } else {
            0
        },
        validator_stake: if o.validator_eligible {
            o.validator_stake.u128()
        } else {
            0
        },
    }
}

/// The operator set read from the staking contract; `refresh` (or the task `spawn_refresh`
/// starts) replaces it whole, so a bond, unbond, slash or jail reaches the mesh within one period.
pub struct StakingOperators {
    current: RwLock<FileOperators>,
}

impl StakingOperators {
    pub async fn load(client: &Client, staking: &str) -> Result<Arc<Self>, ChainError> {
        Ok(Arc::new(StakingOperators {
            current: RwLock::new(fetch_set(client, staking).await?),
        }))
    }

    /// Reads the set again; returns how many operators it has.
    pub async fn refresh(&self, client: &Client, staking: &str) -> Result<usize, ChainError> {
        let set = fetch_set(client, staking).await?;
        let n = set.len();
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = set;
        Ok(n)
    }

    /// Refreshes every `period` until dropped with the returned handle; a failed read keeps the
    /// last set (and says so) rather than emptying the mesh.
    pub fn spawn_refresh(
        self: &Arc<Self>,
        client: Client,
        staking: String,
        period: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                match me.refresh(&client, &staking).await {
                    Ok(n) => tracing::debug!(operators = n, "operator set refreshed"),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot refresh the operator set; keeping the last one")
                    }
                }
            }
        })
    }
}

impl OperatorSet for StakingOperators {
    fn get(&self, address: &str) -> Option<Operator> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(address)
    }

    fn validators(&self) -> Vec<Operator> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .validators()
    }

    fn node_stake_unit(&self) -> u128 {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .node_stake_unit()
    }
}

/// Sends `wallet`'s `Heartbeat` to the staking contract whenever the contract accepts one (every
/// half downtime window), until the task is dropped; run it beside the daemon. A chain that cannot
/// be reached is retried, never fatal: a missed heartbeat costs less than a stopped daemon.
pub async fn heartbeats(client: Client, wallet: Wallet, staking: String) {
    loop {
        let wait = match heartbeat_due_in(&client, &wallet, &staking).await {
            Ok(0) => match client
                .execute(&wallet, &staking, &StakingMsg::Heartbeat {}, &[])
                .await
            {
                Ok(tx) => {
                    tracing::info!(tx = %tx.hash, height = tx.height, "heartbeat sent");
                    0
                }
                // Block time trails the wall clock: not due on chain yet.
                Err(e) if e.to_string().contains("heartbeat") => 1,
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed; retrying in 10 s");
                    10
                }
            },
            Ok(secs) => secs,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read this operator's heartbeat; retrying in 10 s");
                10
            }
        };
        tokio::time::sleep(Duration::from_secs(wait.min(300))).await;
    }
}

/// Seconds until the staking contract takes this operator's next heartbeat.
pub async fn heartbeat_due_in(
    client: &Client,
    wallet: &Wallet,
    staking: &str,
) -> Result<u64, ChainError> {
    let op: OperatorResponse = client
        .smart(
            staking,
            &QueryMsg::Operator {
                address: wallet.address().to_string(),
            },
        )
        .await?;
    let params: havn_staking::state::Params = client.smart(staking, &QueryMsg::Params {}).await?;
    let due = op.last_heartbeat.seconds() + params.downtime_window / 2;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Ok(due.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::{Addr, Binary, Uint128};
    use havn_staking::state::ActiveValidator;

    /// A validator past `max_validators` is eligible but not in the active set: the mesh counts
    /// its stake as none, as the execution log does.
    #[test]
    fn validators_outside_the_active_set_count_as_none() {
        let op = |name: &str, stake| Operator {
            address: name.into(),
            pubkey: vec![2; 33],
            node_stake: 5,
            validator_stake: stake,
        };
        let mut ops = vec![op("a", 100), op("b", 50), op("c", 10)];
        let active = havn_staking::msg::ActiveSetResponse {
            validators: ["a", "b"]
                .iter()
                .map(|n| ActiveValidator {
                    operator: Addr::unchecked(*n),
                    pubkey: Binary::from(vec![2; 33]),
                    stake: Uint128::new(if *n == "a" { 100 } else { 50 }),
                })
                .collect(),
            total_stake: Uint128::new(150),
        };
        outside_the_active_set_count_none(&mut ops, &active);
        let stakes: Vec<(u128, u128)> = ops
            .iter()
            .map(|o| (o.validator_stake, o.node_stake))
            .collect();
        assert_eq!(stakes, vec![(100, 5), (50, 5), (0, 5)]);
    }
}
