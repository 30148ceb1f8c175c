//! The first part of Havn's development chain: contracts run as their checked wasm artifacts in
//! `cosmwasm-vm` 2.3.5 (the VM wasmvm 2.x chains embed), behind cw-multi-test's router.
//!
//! The router keeps CosmWasm's message semantics (sub-messages and replies depth-first, rollback of
//! a failed sub-call, bank, contract admin, events); [`WasmContract`] replaces a native contract
//! with its wasm: each entry point call gets a VM instance from a shared module cache whose
//! backend reads and writes the router's storage for that contract and answers queries through the
//! router. The VM rejects raw rustc output (bulk-memory opcodes) exactly as a chain would, so only
//! the lowered artifacts of `make wasm` run.
//!
//! Not yet here (issue 7): the Cosmos gRPC API, transactions and their ante checks, SDK gas (KV
//! and per-instance costs), blocks and genesis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Result as AnyResult};
use cosmwasm_std::{
    Binary, Checksum, ContractResult, Deps, DepsMut, Empty, Env, MessageInfo, Order, Record, Reply,
    Response, SystemResult,
};
use cosmwasm_vm::testing::MockApi;
use cosmwasm_vm::{
    call_execute, call_instantiate, call_migrate, call_query, call_reply, call_sudo, Backend,
    BackendError, BackendResult, Cache, CacheOptions, GasInfo, Instance, InstanceOptions, Size,
    VmError,
};
use cw_multi_test::Contract;

/// What a wasmvm 2.x chain offers contracts.
pub const CAPABILITIES: [&str; 10] = [
    "iterator",
    "staking",
    "stargate",
    "cosmwasm_1_1",
    "cosmwasm_1_2",
    "cosmwasm_1_3",
    "cosmwasm_1_4",
    "cosmwasm_2_0",
    "cosmwasm_2_1",
    "cosmwasm_2_2",
];

/// wasmd's default gas limit for one contract call is the tx's; this is the VM's own cap per call
/// (CosmWasm gas, 140 000 per SDK gas: 10 M SDK gas).
pub const DEFAULT_GAS_LIMIT: u64 = 10_000_000 * 140_000;

type VmCache = Cache<MockApi, StorageBridge, QuerierBridge>;
type VmInstance = Instance<MockApi, StorageBridge, QuerierBridge>;

/// The VM: checked, compiled modules shared by every contract instance.
pub struct Vm {
    cache: VmCache,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed when dropped (the VM's on-disk module cache).
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Vm {
    pub fn new() -> AnyResult<Arc<Self>> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "havn-devnet-vm-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let options = CacheOptions::new(
            &dir,
            CAPABILITIES
                .iter()
                .map(|c| c.to_string())
                .collect::<std::collections::HashSet<_>>(),
            Size::mebi(256),
            Size::mebi(32),
        );
        // Safety: the directory is this VM's own; nothing else opens a cache on it.
        let cache = unsafe { Cache::new(options) }.map_err(|e| anyhow!("cosmwasm-vm: {e}"))?;
        Ok(Arc::new(Vm {
            cache,
            _dir: tempdir::Dir(dir),
        }))
    }

    /// Checks (as a chain's `StoreCode` does) and compiles `wasm`; returns the contract to store
    /// in a cw-multi-test app.
    pub fn contract(self: &Arc<Self>, wasm: &[u8]) -> AnyResult<WasmContract> {
        let checksum = self
            .cache
            .store_code(wasm, true, true)
            .map_err(|e| anyhow!("the wasm does not pass the VM's checks: {e}"))?;
        Ok(WasmContract {
            vm: self.clone(),
            checksum,
            gas_limit: DEFAULT_GAS_LIMIT,
            gas_used: Arc::default(),
        })
    }
}

/// A contract whose entry points run its wasm in the VM.
pub struct WasmContract {
    vm: Arc<Vm>,
    checksum: Checksum,
    gas_limit: u64,
    gas_used: Arc<AtomicU64>,
}

impl WasmContract {
    /// VM gas used by every call of this code so far (wasm execution and host calls).
    pub fn gas_meter(&self) -> Arc<AtomicU64> {
        self.gas_used.clone()
    }

    fn call<R>(
        &self,
        storage: Store,
        querier: &dyn cosmwasm_std::Querier,
        f: impl FnOnce(&mut VmInstance) -> Result<ContractResult<R>, VmError>,
    ) -> AnyResult<R> {
        // Safety: the instance (and with it the backend holding these pointers) is recycled
        // before this function returns, so the router's storage and querier outlive every use.
        type QuerierPtr<'a> = *const (dyn cosmwasm_std::Querier + 'a);
        let querier: QuerierPtr<'static> =
            unsafe { std::mem::transmute::<QuerierPtr<'_>, QuerierPtr<'static>>(querier) };
        let backend = Backend {
            api: MockApi::default(),
            storage: StorageBridge {
                store: storage,
                iterators: HashMap::new(),
                next_id: 0,
            },
            querier: QuerierBridge(querier),
        };
        let mut instance = self
            .vm
            .cache
            .get_instance(
                &self.checksum,
                backend,
                InstanceOptions {
                    gas_limit: self.gas_limit,
                },
            )
            .map_err(|e| anyhow!("cosmwasm-vm: {e}"))?;
        let result = f(&mut instance);
        let report = instance.create_gas_report();
        self.gas_used.fetch_add(
            report.used_internally + report.used_externally,
            Ordering::Relaxed,
        );
        drop(instance.recycle());
        match result {
            Ok(ContractResult::Ok(r)) => Ok(r),
            Ok(ContractResult::Err(msg)) => Err(anyhow!(msg)),
            Err(e) => Err(anyhow!("cosmwasm-vm: {e}")),
        }
    }
}

type StoragePtr<'a> = *mut (dyn cosmwasm_std::Storage + 'a);
type StorageRef<'a> = *const (dyn cosmwasm_std::Storage + 'a);

fn store_mut<'a>(deps: &'a mut DepsMut) -> Store {
    let ptr: StoragePtr<'a> = &mut *deps.storage;
    // Safety: see `WasmContract::call`.
    Store::Mut(unsafe { std::mem::transmute::<StoragePtr<'a>, StoragePtr<'static>>(ptr) })
}

fn store_ref<'a>(deps: &'a Deps) -> Store {
    let ptr: StorageRef<'a> = deps.storage;
    // Safety: see `WasmContract::call`.
    Store::Ref(unsafe { std::mem::transmute::<StorageRef<'a>, StorageRef<'static>>(ptr) })
}

impl Contract<Empty> for WasmContract {
    fn instantiate(
        &self,
        mut deps: DepsMut,
        env: Env,
        info: MessageInfo,
        msg: Vec<u8>,
    ) -> AnyResult<Response> {
        let store = store_mut(&mut deps);
        self.call(store, &*deps.querier, |i| {
            call_instantiate::<_, _, _, Empty>(i, &env, &info, &msg)
        })
    }

    fn execute(
        &self,
        mut deps: DepsMut,
        env: Env,
        info: MessageInfo,
        msg: Vec<u8>,
    ) -> AnyResult<Response> {
        let store = store_mut(&mut deps);
        self.call(store, &*deps.querier, |i| {
            call_execute::<_, _, _, Empty>(i, &env, &info, &msg)
        })
    }

    fn query(&self, deps: Deps, env: Env, msg: Vec<u8>) -> AnyResult<Binary> {
        let store = store_ref(&deps);
        self.call(store, &*deps.querier, |i| {
            call_query(i, &env, &msg).map(|r| match r {
                ContractResult::Ok(b) => ContractResult::Ok(b),
                ContractResult::Err(e) => ContractResult::Err(e),
            })
        })
    }

    fn reply(&self, mut deps: DepsMut, env: Env, msg: Reply) -> AnyResult<Response> {
        let store = store_mut(&mut deps);
        self.call(store, &*deps.querier, |i| {
            call_reply::<_, _, _, Empty>(i, &env, &msg)
        })
    }

    fn sudo(&self, mut deps: DepsMut, env: Env, msg: Vec<u8>) -> AnyResult<Response> {
        let store = store_mut(&mut deps);
        self.call(store, &*deps.querier, |i| {
            call_sudo::<_, _, _, Empty>(i, &env, &msg)
        })
    }

    fn migrate(&self, mut deps: DepsMut, env: Env, msg: Vec<u8>) -> AnyResult<Response> {
        let store = store_mut(&mut deps);
        self.call(store, &*deps.querier, |i| {
            call_migrate::<_, _, _, Empty>(i, &env, &msg)
        })
    }

    fn checksum(&self) -> Option<Checksum> {
        Some(self.checksum)
    }
}

/// The router's storage for one contract, as the VM's backend sees it.
enum Store {
    Mut(*mut (dyn cosmwasm_std::Storage + 'static)),
    /// Queries see storage read-only.
    Ref(*const (dyn cosmwasm_std::Storage + 'static)),
}

pub struct StorageBridge {
    store: Store,
    /// Open iterators: a snapshot of the range taken at `scan` (writes during an iteration do
    /// not show in it, as with the SDK's iterators over a cache).
    iterators: HashMap<u32, std::vec::IntoIter<Record>>,
    next_id: u32,
}

// Safety: a bridge lives only inside one `WasmContract::call` on one thread.
unsafe impl Send for StorageBridge {}

impl StorageBridge {
    fn read(&self) -> &dyn cosmwasm_std::Storage {
        // Safety: see `WasmContract::call`.
        unsafe {
            match self.store {
                Store::Mut(p) => &*p,
                Store::Ref(p) => &*p,
            }
        }
    }

    fn write(&mut self) -> Result<&mut dyn cosmwasm_std::Storage, BackendError> {
        match self.store {
            // Safety: see `WasmContract::call`.
            Store::Mut(p) => Ok(unsafe { &mut *p }),
            Store::Ref(_) => Err(BackendError::Unknown {
                msg: "storage is read-only in a query".into(),
            }),
        }
    }
}

impl cosmwasm_vm::Storage for StorageBridge {
    fn get(&self, key: &[u8]) -> BackendResult<Option<Vec<u8>>> {
        (Ok(self.read().get(key)), GasInfo::free())
    }

    fn scan(
        &mut self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        order: Order,
    ) -> BackendResult<u32> {
        let records: Vec<Record> = self.read().range(start, end, order).collect();
        let id = self.next_id;
        self.next_id += 1;
        self.iterators.insert(id, records.into_iter());
        (Ok(id), GasInfo::free())
    }

    fn next(&mut self, iterator_id: u32) -> BackendResult<Option<Record>> {
        let result = self
            .iterators
            .get_mut(&iterator_id)
            .map(|it| it.next())
            .ok_or(BackendError::IteratorDoesNotExist { id: iterator_id });
        (result, GasInfo::free())
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> BackendResult<()> {
        let result = self.write().map(|s| s.set(key, value));
        (result, GasInfo::free())
    }

    fn remove(&mut self, key: &[u8]) -> BackendResult<()> {
        let result = self.write().map(|s| s.remove(key));
        (result, GasInfo::free())
    }
}

/// Queries from the contract, answered by the router (other contracts, bank, wasm info).
pub struct QuerierBridge(*const (dyn cosmwasm_std::Querier + 'static));

// Safety: as `StorageBridge`.
unsafe impl Send for QuerierBridge {}

impl cosmwasm_vm::Querier for QuerierBridge {
    fn query_raw(
        &self,
        request: &[u8],
        _gas_limit: u64,
    ) -> BackendResult<SystemResult<ContractResult<Binary>>> {
        // Safety: see `WasmContract::call`.
        let answer = unsafe { &*self.0 }.raw_query(request);
        (Ok(answer), GasInfo::free())
    }
}
