//! A workflow version's terms the daemons check before they run or judge a job: the manifest
//! must use exactly the artifact set the registry recorded for the version, and have the
//! fingerprint it recorded. Otherwise a creator could record a set that leaves out a registered
//! LoRA (so the registry never asks it to credit the LoRA's owner) and run a manifest that uses
//! it, or record a fingerprint unlike its manifest's so the registry's derivative index never
//! matches a copy. A node refuses such a job, a validator abstains, both say why in their log (the
//! job then goes unpaid; anyone may bond a copy dispute with the two manifests). A version's
//! record never changes, so each is read once.

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
    recorded: Mutex<HashMap<[u8; 32], Recorded>>,
}

/// What the registry recorded for a version.
#[derive(Clone)]
struct Recorded {
    artifacts: Vec<String>,
    fingerprint: Option<Vec<u32>>,
}

impl RecordedArtifacts {
    pub fn new(client: Client, registry: String) -> Self {
        RecordedArtifacts {
            client,
            registry,
            recorded: Mutex::default(),
        }
    }

    /// The artifact set (hex, sorted) and fingerprint the registry recorded for the manifest
    /// `version`.
    async fn recorded(&self, version: &[u8; 32]) -> Result<Recorded, ChainError> {
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
        let set = Recorded {
            artifacts: owner.artifacts.iter().map(|h| h.to_hex()).collect(),
            // A malformed one (the registry refuses those) compares as unequal to any.
            fingerprint: owner
                .fingerprint
                .map(|f| havn_types::fingerprint::decode(&f).unwrap_or_default()),
        };
        let mut recorded = self.recorded.lock().expect("recorded");
        if recorded.len() >= REMEMBERED {
            recorded.clear();
        }
        recorded.insert(*version, set.clone());
        Ok(set)
    }

    /// Ok when `used` (what the executor will load) is the version's recorded set and
    /// `fingerprint` (the manifest's own, `havn_workflow::fingerprint`) the recorded one (a
    /// version published without one, while detection was off, has none to compare). A chain
    /// that cannot be read is asked again every second for up to `patience` (a restarting chain
    /// node must not fail jobs), unless `cancel` is set meanwhile.
    pub async fn check(
        &self,
        version: &[u8; 32],
        used: &[[u8; 32]],
        fingerprint: &[u32],
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
        havn_workflow::ensure_recorded_artifacts(used, &recorded.artifacts)
            .map_err(|e| e.to_string())?;
        match recorded.fingerprint {
            Some(f) if f != fingerprint => Err(format!(
                "the manifest's fingerprint is not the one its version recorded (they agree on {} bps): a false fingerprint hides a copy from the registry's derivative index",
                havn_types::fingerprint::similarity(&f, fingerprint)
            )),
            _ => Ok(()),
        }
    }
}
