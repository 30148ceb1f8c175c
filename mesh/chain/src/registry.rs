//! A workflow version's terms the daemons check before they run or judge a job: the manifest
//! must use exactly the artifact set the registry recorded for the version. Otherwise a creator
//! could record a set that leaves out a registered LoRA (so the registry never asks it to credit
//! the LoRA's owner) and run a manifest that uses it. A node refuses such a job, a validator
//! abstains. A version's record never changes, so each is read once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use havn_workflow_registry::msg::{HashOwnerResponse, QueryMsg};

use crate::{ChainError, Client};

/// Versions remembered; past it the memory starts over (a read is one query).
const REMEMBERED: usize = 4096;

pub struct RecordedArtifacts {
    client: Client,
    registry: String,
    recorded: Mutex<HashMap<[u8; 32], Vec<String>>>,
}

impl RecordedArtifacts {
    pub fn new(client: Client, registry: String) -> Self {
        RecordedArtifacts {
            client,
            registry,
            recorded: Mutex::default(),
        }
    }

    /// The artifact set the registry recorded for the manifest `version` (hex, sorted).
    async fn recorded(&self, version: &[u8; 32]) -> Result<Vec<String>, ChainError> {
        if let Some(known) = self.recorded.lock().expect("recorded").get(version) {
            return Ok(known.clone());
        }
        let owner: HashOwnerResponse = self
            .client
            .smart(
                &self.registry,
                &QueryMsg::WorkflowByHash {
                    content_hash: cosmwasm_std::HexBinary::from(version.as_slice()).to_hex(),
                },
            )
            .await?;
        let set: Vec<String> = owner.artifacts.iter().map(|h| h.to_hex()).collect();
        let mut recorded = self.recorded.lock().expect("recorded");
        if recorded.len() >= REMEMBERED {
            recorded.clear();
        }
        recorded.insert(*version, set.clone());
        Ok(set)
    }

    /// Ok when `used` (what the executor will load) is the version's recorded set. A chain that
    /// cannot be read is asked again every second for up to `patience` (a restarting chain node
    /// must not fail jobs), unless `cancel` is set meanwhile.
    pub async fn check(
        &self,
        version: &[u8; 32],
        used: &[[u8; 32]],
        patience: Duration,
        cancel: &AtomicBool,
    ) -> Result<(), String> {
        let start = Instant::now();
        let recorded = loop {
            match self.recorded(version).await {
                Ok(set) => break set,
                Err(e) if start.elapsed() < patience && !cancel.load(Ordering::SeqCst) => {
                    tracing::warn!(error = %e, "cannot read the registry; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(format!("cannot read the version's registry record: {e}")),
            }
        };
        havn_workflow::ensure_recorded_artifacts(used, &recorded).map_err(|e| e.to_string())
    }
}
