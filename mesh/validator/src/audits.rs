//! Disputes no router sends (docs/verification.md, "Audits"): a job recorded Valid that its node
//! then proves an audit is disputed on chain, and only re-executions decide it. The validator
//! keeps the tasks it judged structurally (bounded by bytes, oldest dropped first), watches its
//! execution log for `audit_disputed`, and re-executes each such task it kept: a re-executed
//! Invalid goes on chain as a `Challenge` (`Challenger`), a Valid as an `Attest`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use havn_mesh_proto::v1::{artifact_service_client::ArtifactServiceClient, VerifyTask};
use tonic::transport::Channel;

/// How often the log is read for new audit disputes.
pub const TICK: Duration = Duration::from_secs(2);

/// The most recent audit-proof transactions read per round (newest first).
const RECENT: u64 = 100;

/// What the kept tasks may hold at most (their inputs and outputs).
pub const KEPT_BYTES: usize = 256 << 20;

/// Tasks judged structurally, by job id, with the router connection that can serve their files.
pub struct KeptTasks {
    max_bytes: usize,
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    tasks: BTreeMap<u64, (VerifyTask, ArtifactServiceClient<Channel>)>,
    bytes: usize,
}

fn size(task: &VerifyTask) -> usize {
    task.input.len() + task.output.as_ref().map_or(0, |o| o.output.len()) + 256
}

impl KeptTasks {
    pub fn new(max_bytes: usize) -> Self {
        KeptTasks {
            max_bytes,
            inner: Mutex::default(),
        }
    }

    /// Keeps `task`, dropping the oldest jobs' tasks while over the bound (a task alone over it
    /// is not kept).
    pub fn keep(&self, task: VerifyTask, artifacts: ArtifactServiceClient<Channel>) {
        let n = size(&task);
        if n > self.max_bytes {
            return;
        }
        let mut kept = self.inner.lock().expect("kept");
        if let Some((old, _)) = kept.tasks.insert(task.job_id, (task, artifacts)) {
            kept.bytes -= size(&old);
        }
        kept.bytes += n;
        while kept.bytes > self.max_bytes {
            let Some((_, (old, _))) = kept.tasks.pop_first() else {
                break;
            };
            kept.bytes -= size(&old);
        }
    }

    /// The kept task of `job_id`, no longer kept.
    pub fn take(&self, job_id: u64) -> Option<(VerifyTask, ArtifactServiceClient<Channel>)> {
        let mut kept = self.inner.lock().expect("kept");
        let taken = kept.tasks.remove(&job_id)?;
        kept.bytes -= size(&taken.0);
        Some(taken)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("kept").tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The job ids that transactions' `havn_audit` events turned into disputes.
pub fn disputed_jobs(txs: &[havn_chain::TxResult]) -> Vec<u64> {
    let mut out = vec![];
    for tx in txs {
        for (ty, attrs) in &tx.events {
            if ty != "wasm-havn_audit" {
                continue;
            }
            let get = |key: &str| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            if get("outcome").is_some_and(|o| o == "audit_disputed") {
                if let Some(id) = get("job_id").and_then(|v| v.parse().ok()) {
                    out.push(id);
                }
            }
        }
    }
    out
}

/// The most recent transactions on `client`'s chain that disputed a job by an audit proof.
pub async fn recent_disputes(
    client: &havn_chain::Client,
) -> Result<Vec<u64>, havn_chain::ChainError> {
    let txs = client
        .recent_txs("wasm-havn_audit.outcome='audit_disputed'", RECENT)
        .await?;
    Ok(disputed_jobs(&txs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use havn_mesh_proto::v1::JobOutput;

    fn task(id: u64, bytes: usize) -> VerifyTask {
        VerifyTask {
            job_id: id,
            input: vec![1; bytes],
            output: Some(JobOutput {
                output: vec![2; bytes],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn client() -> ArtifactServiceClient<Channel> {
        ArtifactServiceClient::new(Channel::from_static("http://127.0.0.1:1").connect_lazy())
    }

    #[tokio::test]
    async fn kept_tasks_stay_within_their_bytes_dropping_the_oldest_jobs() {
        let kept = KeptTasks::new(3 * size(&task(0, 1000)));
        for id in [5, 1, 9, 7] {
            kept.keep(task(id, 1000), client());
        }
        assert_eq!(kept.len(), 3);
        assert!(kept.take(1).is_none(), "the oldest job's task went first");
        assert_eq!(kept.take(9).map(|(t, _)| t.job_id), Some(9));
        assert!(kept.take(9).is_none(), "a task is taken once");
        // Kept again under the same id: counted once.
        kept.keep(task(5, 1000), client());
        kept.keep(task(5, 1000), client());
        assert_eq!(kept.len(), 2);
        // One task over the whole bound is not kept.
        kept.keep(task(11, 4000), client());
        assert!(kept.take(11).is_none());
        assert!(kept.take(5).is_some() && kept.take(7).is_some() && kept.is_empty());
    }

    #[test]
    fn only_audit_disputes_are_read_from_the_events() {
        let event = |outcome: &str, id: &str| {
            (
                "wasm-havn_audit".to_string(),
                vec![
                    ("job_id".to_string(), id.to_string()),
                    ("outcome".to_string(), outcome.to_string()),
                ],
            )
        };
        let tx = havn_chain::TxResult {
            hash: String::new(),
            height: 1,
            gas_wanted: 0,
            gas_used: 0,
            events: vec![
                event("clear", "1"),
                event("audit_disputed", "2"),
                (
                    "wasm".into(),
                    vec![("outcome".into(), "audit_disputed".into())],
                ),
                event("audit_excused", "3"),
                event("audit_disputed", "4"),
                event("audit_disputed", "not a number"),
            ],
            msg_responses: vec![],
        };
        assert_eq!(disputed_jobs(&[tx]), vec![2, 4]);
    }
}
