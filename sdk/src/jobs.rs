//! Running a workflow as a caller: request it on chain (the fee is escrowed by the execution
//! log), submit it to a router with the chain's job id, follow it to the chain's verdict on the
//! router's `RecordExecution`, save the output; and the router operator's dead letters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cosmwasm_std::HexBinary;
use havn_chain::havn::{self, Deployment};
use havn_chain::{Client, TxResult, Wallet};
use havn_execution_log::state::{Job, JobStatus};
use havn_mesh_common::tls::ClientTls;
use havn_mesh_proto::v1::{
    job_service_client::JobServiceClient, settlement_service_client::SettlementServiceClient,
    submit_job_request, DeadLetter, JobEvent, JobState, ListDeadLettersRequest, RedriveJobRequest,
    SubmitJobRequest, WatchJobRequest, WorkflowRef,
};
use havn_workflow_registry::msg::RunTermsResponse;
use tonic::transport::Channel;

use crate::CliError;

/// A job requested on chain.
pub struct Requested {
    pub job_id: u64,
    pub terms: RunTermsResponse,
    pub tx: TxResult,
}

/// A job the mesh finished: its last event and where its output went.
pub struct Finished {
    pub event: JobEvent,
    pub output_path: PathBuf,
}

/// A channel to the router at `url`, over TLS as `tls` says.
async fn channel(url: &str, tls: &ClientTls) -> Result<Channel, CliError> {
    let unreachable = |e: String| {
        CliError::Input(format!(
            "cannot reach the router at {url}: {e} (is havn-router running? set `router` in the config)"
        ))
    };
    havn_mesh_common::tls::endpoint(url, tls)
        .map_err(|e| CliError::Config(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| unreachable(e.to_string()))
}

/// The router's job service.
pub async fn router(url: &str, tls: &ClientTls) -> Result<JobServiceClient<Channel>, CliError> {
    Ok(JobServiceClient::new(channel(url, tls).await?).max_decoding_message_size(64 << 20))
}

/// The router's settlement service (batches, and the operator's dead letters).
pub async fn settlements(
    url: &str,
    tls: &ClientTls,
) -> Result<SettlementServiceClient<Channel>, CliError> {
    Ok(SettlementServiceClient::new(channel(url, tls).await?).max_decoding_message_size(64 << 20))
}

/// Every dead letter the router holds (jobs the chain refused), oldest first.
pub async fn dead_letters(
    router: &mut SettlementServiceClient<Channel>,
) -> Result<Vec<DeadLetter>, CliError> {
    let (mut all, mut after) = (vec![], 0);
    loop {
        let page = router
            .list_dead_letters(ListDeadLettersRequest {
                start_after: after,
                limit: 200,
            })
            .await
            .map_err(|s| CliError::Input(format!("dead letters: {}", s.message())))?
            .into_inner()
            .dead_letters;
        let Some(last) = page.last() else {
            return Ok(all);
        };
        after = last.job.as_ref().map_or(u64::MAX, |j| j.job_id);
        all.extend(page);
    }
}

/// Puts a dead letter back into the router's next settlement batch; its state now.
pub async fn redrive(
    router: &mut SettlementServiceClient<Channel>,
    job_id: u64,
) -> Result<JobState, CliError> {
    let state = router
        .redrive_job(RedriveJobRequest { job_id })
        .await
        .map_err(|s| CliError::Input(format!("job {job_id}: {}", s.message())))?
        .into_inner()
        .state;
    Ok(JobState::try_from(state).unwrap_or(JobState::Unspecified))
}

/// The registry's terms for `workflow_id`, with the reasons a request would fail said first: an
/// unknown or unrunnable workflow, a caller who cannot pay. Nothing is sent.
pub async fn terms(
    client: &Client,
    d: &Deployment,
    caller: &Wallet,
    workflow_id: u64,
) -> Result<RunTermsResponse, CliError> {
    let terms: RunTermsResponse = client
        .smart(
            &d.registry,
            &havn_workflow_registry::msg::QueryMsg::RunTerms { id: workflow_id },
        )
        .await
        .map_err(|e| match e {
            havn_chain::ChainError::Rpc { .. } if e.to_string().contains("not found") => {
                CliError::Input(format!(
                    "workflow {workflow_id} is not in the registry (see `havn workflow list`)"
                ))
            }
            e => e.into(),
        })?;
    if !terms.runnable {
        return Err(CliError::Input(format!(
            "workflow {workflow_id} cannot be run: flagged {:?}",
            terms.flag.as_ref().map(|f| &f.reason)
        )));
    }
    let balance = d.hai_balance(client, caller.address().as_ref()).await?;
    if balance < terms.price.u128() {
        return Err(CliError::Input(format!(
            "{} has {} uhai but workflow {workflow_id} costs {}: nothing was sent",
            caller.address(),
            balance,
            terms.price
        )));
    }
    Ok(terms)
}

/// Requests `workflow_id` on `input` (its sha256 goes on chain), paying the registry's price.
pub async fn request(
    client: &Client,
    d: &Deployment,
    caller: &Wallet,
    workflow_id: u64,
    input: &[u8],
) -> Result<Requested, CliError> {
    let terms = terms(client, d, caller, workflow_id).await?;
    let input_hash = HexBinary::from(havn_mesh_common::sha256(input).as_slice());
    let msg = d.request_msg(client, caller, workflow_id, terms.price.u128(), input_hash)?;
    let tx = client.send_tx(caller, vec![msg]).await?;
    let job_id = havn::attributes(&tx, "job_id")
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| CliError::Input(format!("request tx {} carries no job id", tx.hash)))?;
    Ok(Requested { job_id, terms, tx })
}

/// Hands a requested job to the router.
pub async fn submit(
    router: &mut JobServiceClient<Channel>,
    requested: &Requested,
    caller: &Wallet,
    input: Vec<u8>,
    seed: u64,
) -> Result<(), CliError> {
    router
        .submit_job(SubmitJobRequest {
            workflow: Some(WorkflowRef {
                workflow_id: requested.terms.id,
                version_hash: requested.terms.content_hash.to_vec(),
            }),
            input: Some(submit_job_request::Input::InlineInput(input)),
            seed,
            caller: caller.address().to_string(),
            chain_job_id: requested.job_id,
            ..Default::default()
        })
        .await
        .map_err(|s| {
            CliError::Input(format!(
                "the router refused job {}: {}",
                requested.job_id,
                s.message()
            ))
        })?;
    Ok(())
}

/// Whether a job has its verdict: the stream says no more will come, or the chain has answered
/// (recorded, paid, disputed, refunded or refused it). On a router without a chain, SETTLED is
/// the end.
pub fn has_verdict(e: &JobEvent) -> bool {
    e.done
        || matches!(
            JobState::try_from(e.state),
            Ok(JobState::Recorded
                | JobState::Paid
                | JobState::Disputed
                | JobState::Refunded
                | JobState::Rejected)
        )
}

/// Whether the result stands, so far: settled in the mesh, and not refused or proven invalid
/// on chain.
pub fn result_stands(e: &JobEvent) -> bool {
    matches!(
        JobState::try_from(e.state),
        Ok(JobState::Settled | JobState::Recorded | JobState::Paid | JobState::Disputed)
    )
}

/// The caller's proof to the router that it may see a job's output: its key and signature over
/// `havn_types::mesh::read_digest`. Without it the router sends everything but the bytes.
#[derive(Debug, Clone, Default)]
pub struct ReadAuth {
    pub pubkey: Vec<u8>,
    pub signature: Vec<u8>,
}

impl ReadAuth {
    pub fn sign(
        caller: &Wallet,
        chain_id: &str,
        execution_log: &str,
        job_id: u64,
    ) -> Result<Self, CliError> {
        let digest = havn_types::mesh::read_digest(chain_id, execution_log, job_id);
        Ok(ReadAuth {
            pubkey: caller.pubkey(),
            signature: caller.sign_digest(&digest)?,
        })
    }
}

/// Follows `job_id` until its verdict (`has_verdict`, or `timeout`), calling `on_event` for
/// every step; the output bytes come only with the caller's `auth`.
pub async fn follow(
    router: &mut JobServiceClient<Channel>,
    job_id: u64,
    auth: Option<&ReadAuth>,
    timeout: Duration,
    mut on_event: impl FnMut(&JobEvent),
) -> Result<JobEvent, CliError> {
    let auth = auth.cloned().unwrap_or_default();
    let mut events = router
        .watch_job(WatchJobRequest {
            job_id,
            pubkey: auth.pubkey,
            signature: auth.signature,
        })
        .await
        .map_err(|s| CliError::Input(format!("job {job_id}: {}", s.message())))?
        .into_inner();
    let watch = async {
        while let Some(e) = events
            .message()
            .await
            .map_err(|s| CliError::Input(format!("job {job_id}: {}", s.message())))?
        {
            on_event(&e);
            if has_verdict(&e) {
                return Ok(e);
            }
        }
        Err(CliError::Input(format!(
            "the router closed job {job_id}'s stream before it ended"
        )))
    };
    tokio::time::timeout(timeout, watch).await.map_err(|_| {
        CliError::Input(format!(
            "job {job_id} did not end within {} s (`havn job watch {job_id}` follows it)",
            timeout.as_secs()
        ))
    })?
}

/// Writes a settled job's output to `dir/job-ID.EXT` (the extension from its first bytes).
pub fn save_output(dir: &Path, e: &JobEvent) -> Result<PathBuf, CliError> {
    if e.state == JobState::Rejected as i32 {
        return Err(CliError::Input(format!(
            "job {}: {} (the router keeps it as a dead letter: `havn router dead-letters`)",
            e.job_id, e.reason
        )));
    }
    if !result_stands(e) {
        return Err(CliError::Input(format!(
            "job {} ended {}: {}",
            e.job_id,
            state_name(e.state),
            e.reason
        )));
    }
    let output = e
        .output
        .as_ref()
        .ok_or_else(|| CliError::Input(format!("job {} settled without an output", e.job_id)))?;
    // The router sends the bytes to the job's caller only (its signed read).
    if havn_mesh_common::sha256(&output.output)[..] != output.output_hash[..] {
        return Err(CliError::Input(format!(
            "the router did not send job {}'s output (only the key that requested it may read it)",
            e.job_id
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|err| CliError::Input(format!("cannot create {}: {err}", dir.display())))?;
    let path = dir.join(format!("job-{}.{}", e.job_id, extension(&output.output)));
    std::fs::write(&path, &output.output)
        .map_err(|err| CliError::Input(format!("cannot write {}: {err}", path.display())))?;
    Ok(path)
}

/// A file extension for an output, by its magic bytes.
pub fn extension(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "png"
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WAVE") {
        "wav"
    } else if std::str::from_utf8(bytes)
        .is_ok_and(|t| !t.chars().any(|c| c.is_control() && !c.is_whitespace()))
    {
        "txt"
    } else {
        "bin"
    }
}

/// The job as the execution log has it once the router's `RecordExecution` landed (recorded and
/// in its challenge window, disputed, or already decided).
pub async fn wait_recorded(
    client: &Client,
    d: &Deployment,
    job_id: u64,
    timeout: Duration,
) -> Result<Job, CliError> {
    wait_until(client, d, job_id, timeout, |s| s != JobStatus::Pending, |t| {
        format!("job {job_id} settled in the mesh but is not recorded on chain after {t} s (is the router's [chain] configured?)")
    })
    .await
}

/// The job once it is final: paid after its challenge window (`Valid`), proven `Invalid`, or
/// `Refunded`. The router finalizes the jobs it recorded; anyone may (`havn finalize`).
pub async fn wait_final(
    client: &Client,
    d: &Deployment,
    job_id: u64,
    timeout: Duration,
) -> Result<Job, CliError> {
    let done = |s| {
        matches!(
            s,
            JobStatus::Valid | JobStatus::Invalid | JobStatus::Refunded
        )
    };
    wait_until(client, d, job_id, timeout, done, |t| {
        format!("job {job_id} is not final on chain after {t} s: once its window has passed, `havn finalize {job_id}` pays it out")
    })
    .await
}

/// Polls the job until `done(status)`; at the timeout, the error `late(seconds)` says.
async fn wait_until(
    client: &Client,
    d: &Deployment,
    job_id: u64,
    timeout: Duration,
    done: impl Fn(JobStatus) -> bool,
    late: impl Fn(u64) -> String,
) -> Result<Job, CliError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let job = d.job(client, job_id).await?;
        if done(job.status) {
            return Ok(job);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CliError::Input(late(timeout.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `SETTLED`, `FAILED`… for a `JobState` number.
pub fn state_name(state: i32) -> &'static str {
    JobState::try_from(state)
        .map(|s| s.as_str_name().trim_start_matches("JOB_STATE_"))
        .unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_get_an_extension_from_their_bytes() {
        assert_eq!(extension(b"\x89PNG\r\n\x1a\n...."), "png");
        assert_eq!(extension(b"RIFF\0\0\0\0WAVEfmt "), "wav");
        assert_eq!(extension(b"RIFF\0\0\0\0AVI "), "bin");
        assert_eq!(extension("hello, ü".as_bytes()), "txt");
        assert_eq!(extension(&[0xff, 0xfe, 0x00]), "bin");
        assert_eq!(state_name(JobState::Settled as i32), "SETTLED");
        assert_eq!(state_name(99), "UNKNOWN");
    }
}
