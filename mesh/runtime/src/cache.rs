//! Loaded modules, kept warm: an LRU bounded by bytes (a module's size is its file's size, which
//! is its weights plus a little code). A module larger than the whole budget is still kept, alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tch::CModule;

pub struct ModuleCache {
    budget: u64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<[u8; 32], Entry>,
    used: u64,
    clock: u64,
    loads: u64,
    evictions: u64,
}

struct Entry {
    module: Arc<CModule>,
    bytes: u64,
    last_use: u64,
}

/// What the cache holds and has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub modules: usize,
    pub bytes: u64,
    pub loads: u64,
    pub evictions: u64,
}

impl ModuleCache {
    pub fn new(budget: u64) -> Self {
        ModuleCache {
            budget,
            inner: Mutex::default(),
        }
    }

    pub fn get(&self, hash: &[u8; 32]) -> Option<Arc<CModule>> {
        let mut inner = self.inner.lock().expect("poisoned");
        inner.clock += 1;
        let now = inner.clock;
        inner.entries.get_mut(hash).map(|e| {
            e.last_use = now;
            e.module.clone()
        })
    }

    /// Keeps `module`, evicting the least recently used until it fits; returns it shared.
    pub fn insert(&self, hash: [u8; 32], module: CModule, bytes: u64) -> Arc<CModule> {
        let mut inner = self.inner.lock().expect("poisoned");
        if let Some(e) = inner.entries.get(&hash) {
            // Loaded twice concurrently: keep the first.
            return e.module.clone();
        }
        while inner.used + bytes > self.budget && !inner.entries.is_empty() {
            let oldest = *inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_use)
                .map(|(h, _)| h)
                .expect("not empty");
            let e = inner.entries.remove(&oldest).expect("present");
            inner.used -= e.bytes;
            inner.evictions += 1;
            tracing::debug!(module = hex::encode(oldest), bytes = e.bytes, "evicted");
        }
        inner.clock += 1;
        inner.loads += 1;
        inner.used += bytes;
        let module = Arc::new(module);
        let last_use = inner.clock;
        inner.entries.insert(
            hash,
            Entry {
                module: module.clone(),
                bytes,
                last_use,
            },
        );
        module
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.inner.lock().expect("poisoned");
        CacheStats {
            modules: inner.entries.len(),
            bytes: inner.used,
            loads: inner.loads,
            evictions: inner.evictions,
        }
    }
}
