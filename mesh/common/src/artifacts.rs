//! Content-addressed artifacts: a directory of files named by the hex sha256 of their bytes.
//! The router serves its store; nodes and validators fetch into a local cache, and every read and
//! every fetch is checked against its hash, so a corrupt file or a lying server is caught.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use havn_mesh_proto::v1::artifact_service_client::ArtifactServiceClient;
use havn_mesh_proto::v1::FetchRequest;
use thiserror::Error;
use tonic::transport::Channel;

#[derive(Debug, Error)]
pub enum ArtifactError {
    #[error("artifact {0} not found")]
    NotFound(String),
    #[error("artifact {hash}: received bytes hash to {got}")]
    HashMismatch { hash: String, got: String },
    #[error("artifact store {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("fetching artifact {hash}: {message}")]
    Fetch { hash: String, message: String },
}

/// Artifacts already read, by hash.
type Memory = HashMap<[u8; 32], Arc<Vec<u8>>>;

/// A directory of content-addressed files, with the ones already read kept in memory.
#[derive(Clone)]
pub struct ArtifactDir {
    dir: PathBuf,
    memory: Arc<Mutex<Memory>>,
}

impl ArtifactDir {
    pub fn open(dir: &Path) -> Result<Self, ArtifactError> {
        std::fs::create_dir_all(dir).map_err(|source| ArtifactError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(ArtifactDir {
            dir: dir.to_path_buf(),
            memory: Arc::default(),
        })
    }

    fn path(&self, hash: &[u8; 32]) -> PathBuf {
        self.dir.join(hex::encode(hash))
    }

    /// The artifact, if stored here and intact.
    pub fn get(&self, hash: &[u8; 32]) -> Result<Option<Arc<Vec<u8>>>, ArtifactError> {
        if let Some(bytes) = self.memory.lock().expect("poisoned").get(hash) {
            return Ok(Some(bytes.clone()));
        }
        let Some(bytes) = self.read(hash)? else {
            return Ok(None);
        };
        let bytes = Arc::new(bytes);
        self.memory
            .lock()
            .expect("poisoned")
            .insert(*hash, bytes.clone());
        Ok(Some(bytes))
    }

    /// The artifact's bytes from disk, checked, without keeping a copy in memory (large model
    /// files: the runtime keeps what it loaded, bounded).
    pub fn read(&self, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, ArtifactError> {
        let path = self.path(hash);
        match std::fs::read(&path) {
            Ok(b) if crate::sha256(&b) == *hash => Ok(Some(b)),
            Ok(_) => {
                // A corrupt entry is dropped, never served (and `ensure` fetches it again).
                let _ = std::fs::remove_file(&path);
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ArtifactError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    pub fn contains(&self, hash: &[u8; 32]) -> bool {
        self.memory.lock().expect("poisoned").contains_key(hash) || self.path(hash).exists()
    }

    /// Stores bytes under their hash (atomically: write, then rename).
    pub fn put(&self, bytes: &[u8]) -> Result<[u8; 32], ArtifactError> {
        let hash = crate::sha256(bytes);
        let path = self.path(&hash);
        let tmp = self.dir.join(format!(".{}.tmp", hex::encode(hash)));
        let io = |source| ArtifactError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        // Not kept in memory: model files can be large; `get` keeps what is read through it.
        Ok(hash)
    }

    /// Hashes of the artifacts on disk (for a node's "cached versions").
    pub fn list(&self) -> Vec<[u8; 32]> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return vec![];
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| hex::decode(e.file_name().to_string_lossy().as_bytes()).ok())
            .filter_map(|b| b.try_into().ok())
            .collect()
    }

    /// Makes sure the artifact is on disk here (fetched from `client` if not), without reading
    /// it into memory.
    pub async fn ensure(
        &self,
        hash: &[u8; 32],
        client: &mut ArtifactServiceClient<Channel>,
    ) -> Result<(), ArtifactError> {
        if self.path(hash).exists() {
            return Ok(());
        }
        self.get_or_fetch(hash, client).await.map(|_| ())
    }

    /// The artifact from here, or fetched from `client` (checked, then cached).
    pub async fn get_or_fetch(
        &self,
        hash: &[u8; 32],
        client: &mut ArtifactServiceClient<Channel>,
    ) -> Result<Arc<Vec<u8>>, ArtifactError> {
        if let Some(bytes) = self.get(hash)? {
            return Ok(bytes);
        }
        let hex_hash = hex::encode(hash);
        let fetch_err = |status: tonic::Status| ArtifactError::Fetch {
            hash: hex_hash.clone(),
            message: status.message().to_string(),
        };
        let mut stream = client
            .fetch(FetchRequest {
                hash: hash.to_vec(),
            })
            .await
            .map_err(|s| match s.code() {
                tonic::Code::NotFound => ArtifactError::NotFound(hex_hash.clone()),
                _ => fetch_err(s),
            })?
            .into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.message().await.map_err(fetch_err)? {
            bytes.extend_from_slice(&chunk.data);
        }
        let got = crate::sha256(&bytes);
        if got != *hash {
            return Err(ArtifactError::HashMismatch {
                hash: hex_hash,
                got: hex::encode(got),
            });
        }
        self.put(&bytes)?;
        Ok(Arc::new(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_hash_and_drops_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactDir::open(dir.path()).unwrap();
        let hash = store.put(b"manifest").unwrap();
        assert_eq!(hash, crate::sha256(b"manifest"));
        assert_eq!(store.get(&hash).unwrap().unwrap().as_slice(), b"manifest");
        assert_eq!(store.list(), vec![hash]);
        // Corrupt it on disk; a fresh handle (no memory copy) refuses it.
        std::fs::write(dir.path().join(hex::encode(hash)), b"tampered").unwrap();
        let fresh = ArtifactDir::open(dir.path()).unwrap();
        assert!(fresh.get(&hash).unwrap().is_none());
        assert!(!fresh.contains(&hash));
    }
}
