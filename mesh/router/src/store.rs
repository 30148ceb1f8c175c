//! Durability: accepted jobs, their results and attestations, settlement batches and the jobs the
//! chain refused (dead letters), in an embedded redb database. One writer thread commits whatever has queued up in one transaction
//! (group commit), so many jobs share each fsync; callers that need durability wait for their
//! write's commit.

use std::path::Path;
use std::sync::Arc;

use havn_mesh_proto::v1::{
    Attestation, ChainOutcome, DeadLetter, JobOutput, SettlementBatch, WorkflowRef,
};
use prost::Message;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use tokio::sync::{mpsc, oneshot};

const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
const SETTLEMENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("settlements");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const DEAD_LETTERS: TableDefinition<u64, &[u8]> = TableDefinition::new("dead_letters");

/// A job as stored.
#[derive(Clone, PartialEq, Message)]
pub struct JobRecord {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(message, optional, tag = "2")]
    pub workflow: Option<WorkflowRef>,
    #[prost(bytes = "vec", tag = "3")]
    pub input: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    pub input_hash: Vec<u8>,
    #[prost(uint64, tag = "5")]
    pub seed: u64,
    #[prost(btree_map = "string, string", tag = "6")]
    pub parameters: std::collections::BTreeMap<String, String>,
    /// Unix ms.
    #[prost(uint64, tag = "7")]
    pub deadline_ms: u64,
    #[prost(string, tag = "8")]
    pub caller: String,
    #[prost(enumeration = "havn_mesh_proto::v1::JobState", tag = "9")]
    pub state: i32,
    #[prost(uint32, tag = "10")]
    pub attempt: u32,
    #[prost(string, tag = "11")]
    pub node: String,
    #[prost(message, optional, tag = "12")]
    pub output: Option<JobOutput>,
    #[prost(message, repeated, tag = "13")]
    pub attestations: Vec<Attestation>,
    #[prost(string, tag = "14")]
    pub reason: String,
    #[prost(uint64, tag = "15")]
    pub settlement_id: u64,
    #[prost(uint64, tag = "16")]
    pub submitted_ms: u64,
    /// The manifest's pipeline kind: only nodes that run it get the job.
    #[prost(string, tag = "17")]
    pub pipeline: String,
    /// What the chain did with it, once its batch landed.
    #[prost(message, optional, tag = "18")]
    pub chain: Option<ChainOutcome>,
    /// A quorum decided it, so it is in (or waiting for) a settlement batch.
    #[prost(bool, tag = "19")]
    pub in_settlement: bool,
    /// Nodes that failed it (an error, an expired lease, a refused result): it never goes to
    /// them again, across restarts too.
    #[prost(string, repeated, tag = "20")]
    pub failed_on: Vec<String>,
}

pub enum Write {
    Job(Box<JobRecord>),
    Settlement(SettlementBatch),
    Meta(&'static str, u64),
    DeadLetter(Box<DeadLetter>),
    /// The dead letter of this job was re-driven: it leaves the list.
    Redriven(u64),
    /// Delete ended jobs submitted before `before_ms` (oldest first; done as `on_chain` says, see
    /// `core::is_done`), and settlement batches formed before it.
    Prune {
        before_ms: u64,
        on_chain: bool,
    },
}

type Batch = (Vec<Write>, Option<oneshot::Sender<Result<(), String>>>);

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    tx: mpsc::UnboundedSender<Batch>,
}

#[derive(Debug, thiserror::Error)]
#[error("job store: {0}")]
pub struct StoreError(pub String);

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(err)?;
        // A previous instance in this process may still be closing the file: wait a moment.
        let path = dir.join("router.redb");
        let mut tries = 0;
        let db = loop {
            match Database::create(&path) {
                Ok(db) => break Arc::new(db),
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(err(e)),
            }
        };
        Self::serve(db)
    }

    /// A store that lives in memory only (fuzzing, tests): the same tables and writer.
    pub fn in_memory() -> Result<Self, StoreError> {
        #[allow(unused_mut)]
        let mut builder = Database::builder();
        // Under the fuzzer (cargo fuzz sets `fuzzing`), small regions: the default 4 TiB
        // layout costs a coverage-instrumented zero fill of every fresh database.
        #[cfg(fuzzing)]
        builder.set_region_size(1 << 16);
        let db = builder
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(err)?;
        Self::serve(Arc::new(db))
    }

    /// Creates the tables and starts the writer thread.
    fn serve(db: Arc<Database>) -> Result<Self, StoreError> {
        {
            let txn = db.begin_write().map_err(err)?;
            txn.open_table(JOBS).map_err(err)?;
            txn.open_table(SETTLEMENTS).map_err(err)?;
            txn.open_table(META).map_err(err)?;
            txn.open_table(DEAD_LETTERS).map_err(err)?;
            txn.commit().map_err(err)?;
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<Batch>();
        let writer_db = db.clone();
        std::thread::Builder::new()
            .name("havn-store".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut batches = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batches.push(more);
                        if batches.len() >= 4096 {
                            break;
                        }
                    }
                    let result = commit(&writer_db, &batches).map_err(|e| e.to_string());
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "job store commit failed");
                    }
                    for (_, ack) in batches {
                        if let Some(ack) = ack {
                            let _ = ack.send(result.clone());
                        }
                    }
                }
            })
            .map_err(err)?;
        Ok(Store { db, tx })
    }

    /// Queues writes; they commit in order. The receiver resolves once they are durable.
    pub fn write(&self, writes: Vec<Write>) -> oneshot::Receiver<Result<(), String>> {
        let (ack, rx) = oneshot::channel();
        let _ = self.tx.send((writes, Some(ack)));
        rx
    }

    /// Queues writes without waiting for them.
    pub fn write_later(&self, writes: Vec<Write>) {
        let _ = self.tx.send((writes, None));
    }

    /// Calls `each` with every job the store holds, one record decoded at a time (start-up keeps
    /// only the unfinished ones in memory). Returns the highest id seen.
    pub fn each_job(&self, mut each: impl FnMut(JobRecord)) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(JOBS).map_err(err)?;
        let mut highest = 0;
        for row in table.iter().map_err(err)? {
            let (k, v) = row.map_err(err)?;
            highest = highest.max(k.value());
            each(JobRecord::decode(v.value()).map_err(err)?);
        }
        Ok(highest)
    }

    /// How many jobs the store holds.
    pub fn job_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(JOBS).map_err(err)?;
        table.len().map_err(err)
    }

    pub fn job(&self, id: u64) -> Result<Option<JobRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(JOBS).map_err(err)?;
        let Some(v) = table.get(id).map_err(err)? else {
            return Ok(None);
        };
        Ok(Some(JobRecord::decode(v.value()).map_err(err)?))
    }

    pub fn meta(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(META).map_err(err)?;
        Ok(table.get(key).map_err(err)?.map(|v| v.value()))
    }

    pub fn settlements(
        &self,
        start_after: u64,
        limit: usize,
    ) -> Result<Vec<SettlementBatch>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(SETTLEMENTS).map_err(err)?;
        let mut out = Vec::new();
        for row in table.range(start_after.saturating_add(1)..).map_err(err)? {
            let (_, v) = row.map_err(err)?;
            out.push(SettlementBatch::decode(v.value()).map_err(err)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Dead letters with job ids above `start_after`, in id order.
    pub fn dead_letters(
        &self,
        start_after: u64,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(DEAD_LETTERS).map_err(err)?;
        let mut out = Vec::new();
        for row in table.range(start_after.saturating_add(1)..).map_err(err)? {
            let (_, v) = row.map_err(err)?;
            out.push(DeadLetter::decode(v.value()).map_err(err)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    pub fn dead_letter(&self, job_id: u64) -> Result<Option<DeadLetter>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(DEAD_LETTERS).map_err(err)?;
        let Some(v) = table.get(job_id).map_err(err)? else {
            return Ok(None);
        };
        Ok(Some(DeadLetter::decode(v.value()).map_err(err)?))
    }
}

fn commit(db: &Database, batches: &[Batch]) -> Result<(), StoreError> {
    let mut txn = db.begin_write().map_err(err)?;
    // Only a group that someone waits on (an accepted job) pays for an fsync. The others are
    // crash-consistent and become durable with the next fsync'd commit; losing them in a crash
    // only rolls a job back to an earlier state it can continue from.
    if batches.iter().all(|(_, ack)| ack.is_none()) {
        txn.set_durability(redb::Durability::None);
    }
    // A job changes state several times per group: write only its latest record.
    let mut latest: std::collections::BTreeMap<u64, &JobRecord> = std::collections::BTreeMap::new();
    {
        let mut settlements = txn.open_table(SETTLEMENTS).map_err(err)?;
        let mut meta = txn.open_table(META).map_err(err)?;
        let mut dead = txn.open_table(DEAD_LETTERS).map_err(err)?;
        for (writes, _) in batches {
            for w in writes {
                match w {
                    Write::Job(j) => {
                        latest.insert(j.id, j);
                    }
                    Write::Settlement(s) => {
                        settlements
                            .insert(s.id, s.encode_to_vec().as_slice())
                            .map_err(err)?;
                    }
                    Write::Meta(k, v) => {
                        meta.insert(*k, *v).map_err(err)?;
                    }
                    Write::DeadLetter(d) => {
                        let id = d.job.as_ref().map_or(0, |j| j.job_id);
                        dead.insert(id, d.encode_to_vec().as_slice()).map_err(err)?;
                    }
                    Write::Redriven(id) => {
                        dead.remove(*id).map_err(err)?;
                    }
                    // After this group's job writes, below.
                    Write::Prune { .. } => {}
                }
            }
        }
        let mut jobs = txn.open_table(JOBS).map_err(err)?;
        for (id, j) in latest {
            jobs.insert(id, j.encode_to_vec().as_slice()).map_err(err)?;
        }
        for (writes, _) in batches {
            for w in writes {
                if let Write::Prune {
                    before_ms,
                    on_chain,
                } = w
                {
                    prune(&mut jobs, &mut settlements, *before_ms, *on_chain)?;
                }
            }
        }
    }
    txn.commit().map_err(err)?;
    Ok(())
}

/// Most records one prune looks at: a pass never holds the writer long; the next takes the rest.
const PRUNE_SCAN: usize = 50_000;

/// Deletes ended jobs submitted before `before_ms` and batches formed before it. Ids grow with
/// time, so the scan goes oldest first and stops at the first record that is too young.
fn prune(
    jobs: &mut redb::Table<u64, &[u8]>,
    settlements: &mut redb::Table<u64, &[u8]>,
    before_ms: u64,
    on_chain: bool,
) -> Result<(), StoreError> {
    let mut old = Vec::new();
    for row in jobs.iter().map_err(err)?.take(PRUNE_SCAN) {
        let (k, v) = row.map_err(err)?;
        let rec = JobRecord::decode(v.value()).map_err(err)?;
        if rec.submitted_ms >= before_ms {
            break;
        }
        if crate::core::is_done(&rec, on_chain) {
            old.push(k.value());
        }
    }
    for id in &old {
        jobs.remove(*id).map_err(err)?;
    }
    let mut batches = Vec::new();
    for row in settlements.iter().map_err(err)?.take(PRUNE_SCAN) {
        let (k, v) = row.map_err(err)?;
        if SettlementBatch::decode(v.value()).map_err(err)?.created_ms >= before_ms {
            break;
        }
        batches.push(k.value());
    }
    for id in &batches {
        settlements.remove(*id).map_err(err)?;
    }
    if !old.is_empty() || !batches.is_empty() {
        tracing::info!(
            jobs = old.len(),
            batches = batches.len(),
            "pruned the store past its retention"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let job = JobRecord {
                id: 7,
                input: b"in".to_vec(),
                ..Default::default()
            };
            store
                .write(vec![Write::Job(Box::new(job)), Write::Meta("next_id", 8)])
                .await
                .unwrap()
                .unwrap();
            store
                .write(vec![Write::Settlement(SettlementBatch {
                    id: 1,
                    ..Default::default()
                })])
                .await
                .unwrap()
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.job(7).unwrap().unwrap().input, b"in");
        assert_eq!(store.meta("next_id").unwrap(), Some(8));
        assert_eq!(store.settlements(0, 10).unwrap().len(), 1);
        assert!(store.settlements(1, 10).unwrap().is_empty());
    }

    /// Pruning deletes ended jobs and batches older than the cut-off, keeps everything younger
    /// and every unfinished job however old.
    #[tokio::test]
    async fn pruning_deletes_only_old_ended_jobs_and_batches() {
        use havn_mesh_proto::v1::JobState;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let job = |id, state: JobState, submitted_ms| {
            Write::Job(Box::new(JobRecord {
                id,
                state: state as i32,
                submitted_ms,
                ..Default::default()
            }))
        };
        let batch = |id, created_ms| {
            Write::Settlement(SettlementBatch {
                id,
                created_ms,
                jobs: vec![],
            })
        };
        store
            .write(vec![
                job(1, JobState::Cancelled, 10),
                job(2, JobState::Queued, 20),
                job(3, JobState::Recorded, 30),
                job(4, JobState::Paid, 40),
                job(5, JobState::Settled, 500),
                batch(1, 10),
                batch(2, 600),
            ])
            .await
            .unwrap()
            .unwrap();
        store
            .write(vec![Write::Prune {
                before_ms: 100,
                on_chain: true,
            }])
            .await
            .unwrap()
            .unwrap();
        let mut left = vec![];
        store.each_job(|r| left.push(r.id)).unwrap();
        // 1 and 4 ended long ago; 2 is unfinished, 3 waits for the chain; 5 is young.
        assert_eq!(left, vec![2, 3, 5]);
        assert_eq!(store.job_count().unwrap(), 3);
        let batches: Vec<u64> = store
            .settlements(0, 10)
            .unwrap()
            .iter()
            .map(|b| b.id)
            .collect();
        assert_eq!(batches, vec![2]);
    }

    /// A dead letter is listed until it is re-driven, across a reopen.
    #[tokio::test]
    async fn dead_letters_are_listed_until_redriven() {
        let dir = tempfile::tempdir().unwrap();
        let letter = |id| {
            Write::DeadLetter(Box::new(DeadLetter {
                job: Some(havn_mesh_proto::v1::SettledJob {
                    job_id: id,
                    ..Default::default()
                }),
                reason: format!("refused {id}"),
                settlement_id: 1,
                refused_ms: 5,
            }))
        };
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .write(vec![letter(3), letter(9), letter(4), Write::Redriven(9)])
                .await
                .unwrap()
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let ids = |v: Vec<DeadLetter>| -> Vec<u64> {
            v.iter().map(|d| d.job.as_ref().unwrap().job_id).collect()
        };
        assert_eq!(ids(store.dead_letters(0, 10).unwrap()), vec![3, 4]);
        assert_eq!(ids(store.dead_letters(3, 10).unwrap()), vec![4]);
        assert_eq!(store.dead_letter(4).unwrap().unwrap().reason, "refused 4");
        assert!(store.dead_letter(9).unwrap().is_none());
    }
}
