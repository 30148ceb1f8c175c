//! Where settlement batches go once formed. Every batch is in the store first (and listed by
//! `ListSettlements`); a `Settlement` then hands it on. The chain-backed implementation (cosmrs,
//! `RecordExecution` per batch) arrives with the chain client; until then `StoredOnly` keeps them
//! for whoever lists them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use havn_mesh_proto::v1::SettlementBatch;
use tokio::sync::mpsc;

pub type SettleFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Hands a settlement batch on. Called once per batch, in batch order, and again (with backoff)
/// while it returns an error.
pub trait Settlement: Send + Sync + 'static {
    fn submit<'a>(&'a self, batch: &'a SettlementBatch) -> SettleFuture<'a>;
}

/// Keeps batches in the router's store only.
pub struct StoredOnly;

impl Settlement for StoredOnly {
    fn submit<'a>(&'a self, _batch: &'a SettlementBatch) -> SettleFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

/// Feeds batches to `sink` in order, retrying each until it is accepted.
pub async fn deliver(
    sink: Arc<dyn Settlement>,
    mut batches: mpsc::UnboundedReceiver<SettlementBatch>,
) {
    while let Some(batch) = batches.recv().await {
        let mut attempt = 0u32;
        while let Err(e) = sink.submit(&batch).await {
            attempt += 1;
            tracing::warn!(
                batch = batch.id,
                attempt,
                error = e,
                "settlement failed; retrying"
            );
            tokio::time::sleep(Duration::from_millis(
                (200u64 << attempt.min(8)).min(60_000),
            ))
            .await;
        }
    }
}
