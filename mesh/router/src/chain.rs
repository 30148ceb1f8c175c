//! Settlement on chain: each batch the quorum decided becomes one `RecordExecution` tx on the
//! execution log, signed with the router's key through cosmrs; a job is checked against its
//! on-chain request before it is dispatched; double-sign evidence goes to the staking contract.

use havn_chain::{ChainError, Client, Wallet};
use havn_execution_log::msg::{ExecuteMsg as LogMsg, JobResult, SignedAttestation};
use havn_execution_log::state::JobStatus;
use havn_mesh_proto::v1::{SettlementBatch, SubmitJobRequest, Verdict};
use havn_staking::msg::DoubleSignEvidence;

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
    /// Where double-sign evidence goes; empty: it is only logged.
    staking: String,
}

impl ChainSettlement {
    pub fn new(client: Client, wallet: Wallet, execution_log: String, staking: String) -> Self {
        ChainSettlement {
            client,
            wallet,
            execution_log,
            staking,
        }
    }

    async fn check(&self, req: &SubmitJobRequest, input_hash: [u8; 32]) -> Result<(), String> {
        let id = req.chain_job_id;
        if id == 0 {
            return Err("this router settles on chain: request the job on the execution log first and submit with its chain_job_id".into());
        }
        let job: havn_execution_log::state::Job = self
            .client
            .smart(
                &self.execution_log,
                &havn_execution_log::msg::QueryMsg::Job { id },
            )
            .await
            .map_err(|e| match e {
                ChainError::Rpc { .. } => format!("job {id} is not requested on chain ({e})"),
                e => format!("cannot check job {id} on chain: {e}"),
            })?;
        let workflow = req.workflow.as_ref().ok_or("workflow is required")?;
        let mismatch = if job.status != JobStatus::Pending {
            Some(format!("it is already {:?}", job.status).to_lowercase())
        } else if job.workflow_id != workflow.workflow_id {
            Some(format!("it is for workflow {}", job.workflow_id))
        } else if job.version_hash.as_slice() != workflow.version_hash.as_slice() {
            Some(format!("it is for version {}", job.version_hash.to_hex()))
        } else if job.input_hash.as_slice() != input_hash {
            Some("its input hash differs from this input's sha256".into())
        } else if !req.caller.is_empty() && job.caller.as_str() != req.caller {
            Some(format!("it was requested by {}", job.caller))
        } else {
            None
        };
        match mismatch {
            Some(why) => Err(format!("chain job {id} does not match this request: {why}")),
            None => Ok(()),
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

    fn check_request<'a>(
        &'a self,
        request: &'a SubmitJobRequest,
        input_hash: [u8; 32],
    ) -> SettleFuture<'a> {
        Box::pin(self.check(request, input_hash))
    }

    fn report_double_sign<'a>(&'a self, evidence: &'a DoubleSignEvidence) -> SettleFuture<'a> {
        Box::pin(self.report(evidence))
    }
}

impl ChainSettlement {
    async fn report(&self, evidence: &DoubleSignEvidence) -> Result<(), String> {
        if self.staking.is_empty() {
            tracing::warn!(
                validator = evidence.validator,
                job = evidence.job_id,
                "double-sign evidence not sent: no staking contract configured"
            );
            return Ok(());
        }
        let msg = havn_staking::msg::ExecuteMsg::SubmitDoubleSign {
            evidence: evidence.clone(),
        };
        match self
            .client
            .execute(&self.wallet, &self.staking, &msg, &[])
            .await
        {
            Ok(tx) => {
                tracing::warn!(validator = evidence.validator, job = evidence.job_id, tx = %tx.hash, "double-sign evidence recorded: validator slashed");
                Ok(())
            }
            Err(e @ ChainError::Tx { .. }) if is_contract_error(&e) => {
                tracing::error!(validator = evidence.validator, error = %e, "the staking contract refused the evidence");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
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
