//! Durability: accepted jobs, their results and attestations, and settlement batches, in an
//! embedded redb database. One writer thread commits whatever has queued up in one transaction
//! (group commit), so many jobs share each fsync; callers that need durability wait for their
//! write's commit.

use std::path::Path;
use std::sync::Arc;

use havn_mesh_proto::v1::{Attestation, JobOutput, SettlementBatch, WorkflowRef};
use prost::Message;
use redb::{Database, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
const SETTLEMENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("settlements");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

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
}

pub enum Write {
    Job(Box<JobRecord>),
    Settlement(SettlementBatch),
    Meta(&'static str, u64),
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
        {
            let txn = db.begin_write().map_err(err)?;
            txn.open_table(JOBS).map_err(err)?;
            txn.open_table(SETTLEMENTS).map_err(err)?;
            txn.open_table(META).map_err(err)?;
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

    pub fn jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(JOBS).map_err(err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(err)? {
            let (_, v) = row.map_err(err)?;
            out.push(JobRecord::decode(v.value()).map_err(err)?);
        }
        Ok(out)
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
                }
            }
        }
        let mut jobs = txn.open_table(JOBS).map_err(err)?;
        for (id, j) in latest {
            jobs.insert(id, j.encode_to_vec().as_slice()).map_err(err)?;
        }
    }
    txn.commit().map_err(err)?;
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
}
