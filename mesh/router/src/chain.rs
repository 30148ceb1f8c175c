//! Settlement on chain: each batch the quorum decided becomes one `RecordExecution` tx on the
//! execution log, signed with the router's key through cosmrs.

use havn_chain::{ChainError, Client, Wallet};
use havn_execution_log::msg::{ExecuteMsg as LogMsg, JobResult, SignedAttestation};
use havn_mesh_proto::v1::{SettlementBatch, Verdict};

use crate::settlement::{SettleFuture, Settlement};

/// The log's `JobResult`s for a batch: what the validators signed, as the contract checks it.
pub fn job_results(batch: &SettlementBatch) -> Vec<JobResult> {
    batch
        .jobs
        .iter()
        .map(|j| JobResult {
            job_id: j.job_id,
            node: j.node.clone(),
            output_hash: j.output_hash.clone().into(),
            verdict: if j.verdict == Verdict::Valid as i32 {
                havn_types::Verdict::Valid
            } else {
                havn_types::Verdict::Invalid
            },
            attestations: j
                .attestations
                .iter()
                .map(|a| SignedAttestation {
                    validator: a.validator.clone(),
                    signature: a.signature.clone().into(),
                })
                .collect(),
        })
        .collect()
}

pub struct ChainSettlement {
    client: Client,
    wallet: Wallet,
    execution_log: String,
}

impl ChainSettlement {
    pub fn new(client: Client, wallet: Wallet, execution_log: String) -> Self {
        ChainSettlement {
            client,
            wallet,
            execution_log,
        }
    }
}

impl Settlement for ChainSettlement {
    fn submit<'a>(&'a self, batch: &'a SettlementBatch) -> SettleFuture<'a> {
        Box::pin(async move {
            let msg = LogMsg::RecordExecution {
                results: job_results(batch),
            };
            match self
                .client
                .execute(&self.wallet, &self.execution_log, &msg, &[])
                .await
            {
                Ok(tx) => {
                    tracing::info!(
                        batch = batch.id,
                        jobs = batch.jobs.len(),
                        tx = %tx.hash,
                        height = tx.height,
                        gas_used = tx.gas_used,
                        "settlement recorded on chain"
                    );
                    Ok(())
                }
                // The contract refused the batch (already recorded, a job timed out…): retrying
                // the same bytes cannot help; it stays listed in the store.
                Err(e @ ChainError::Tx { .. }) if is_contract_error(&e) => {
                    tracing::error!(batch = batch.id, error = %e, "the execution log refused the batch");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        })
    }
}

fn is_contract_error(e: &ChainError) -> bool {
    match e {
        ChainError::Tx { codespace, log, .. } => {
            codespace == "wasm" || log.contains("execute wasm contract failed")
        }
        _ => false,
    }
}
