//! Contracts run as their checked wasm artifacts in `cosmwasm-vm` 2.3.5 (the VM wasmvm 2.x chains
//! embed), behind cw-multi-test's router.
//!
//! The router keeps CosmWasm's message semantics (sub-messages and replies depth-first, rollback of
//! a failed sub-call, bank, contract admin, events); [`WasmContract`] replaces a native contract
//! with its wasm: each entry point call gets a VM instance from a shared module cache whose
//! backend reads and writes the router's storage for that contract and answers queries through the
//! router. Every call is metered on the chain's [`Meter`] as wasmd meters it (instance cost, VM gas
//! / 140 000, KV reads and writes, events). The VM rejects raw rustc output (bulk-memory opcodes)
//! exactly as a chain would, so only the lowered artifacts of `make wasm` run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Result as AnyResult};
use cosmwasm_std::{
    Binary, Checksum, ContractResult, Deps, DepsMut, Empty, Env, MessageInfo, Order, Record, Reply,
    Response, SystemResult,
};
use cosmwasm_vm::{
    call_execute, call_instantiate, call_migrate, call_query, call_reply, call_sudo, Backend,
    BackendApi, BackendError, BackendResult, Cache, CacheOptions, GasInfo, Instance,
    InstanceOptions, Size, VmError,
};
use cw_multi_test::Contract;

use crate::gas::{self, Meter};

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

type VmCache = Cache<Bech32Api, StorageBridge, QuerierBridge>;
type VmInstance = Instance<Bech32Api, StorageBridge, QuerierBridge>;

/// The VM: checked, compiled modules shared by every contract instance.
pub struct Vm {
    cache: VmCache,
    api: Bech32Api,
    /// The gas meter of the tx or query being run.
    pub meter: Arc<Meter>,
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
    /// A VM whose contracts see addresses with `prefix` (`havn1…`), metered on `meter`.
    pub fn new(prefix: &'static str, meter: Arc<Meter>) -> AnyResult<Arc<Self>> {
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
            api: Bech32Api { prefix },
            meter,
            _dir: tempdir::Dir(dir),
        }))
    }

    /// Checks (as a chain's `StoreCode` does) and compiles `wasm`; returns the contract to store
    /// in a cw-multi-test app.
    pub fn contract(self: &Arc<Self>, wasm: &[u8]) -> AnyResult<WasmContract> {
        let checksum = self.cache.store_code(wasm, true, true).map_err(|e| {
            // The VM's messages span lines; a tx log and a CLI error are one.
            let msg = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            anyhow!("the wasm does not pass the VM's checks: {msg}")
        })?;
        Ok(WasmContract {
            vm: self.clone(),
            checksum,
            gas_used: Arc::default(),
        })
    }
}

/// A contract whose entry points run its wasm in the VM.
pub struct WasmContract {
    vm: Arc<Vm>,
    checksum: Checksum,
    gas_used: Arc<AtomicU64>,
}

impl WasmContract {
    pub fn checksum_bytes(&self) -> Vec<u8> {
        self.checksum.as_slice().to_vec()
    }

    /// VM gas used by every call of this code so far (wasm execution and host calls).
    pub fn gas_meter(&self) -> Arc<AtomicU64> {
        self.gas_used.clone()
    }

    fn call<R>(
        &self,
        entry: &str,
        storage: Store,
        querier: &dyn cosmwasm_std::Querier,
        f: impl FnOnce(&mut VmInstance) -> Result<ContractResult<R>, VmError>,
    ) -> AnyResult<R> {
        let meter = &self.vm.meter;
        let instance_cost = meter.instance_cost(self.checksum.as_slice(), entry);
        meter
            .consume(instance_cost + gas::CONTRACT_LOOKUP_ESTIMATE, entry)
            .map_err(out_of_gas)?;
        // Safety: the instance (and with it the backend holding these pointers) is recycled
        // before this function returns, so the router's storage and querier outlive every use.
        type QuerierPtr<'a> = *const (dyn cosmwasm_std::Querier + 'a);
        let querier: QuerierPtr<'static> =
            unsafe { std::mem::transmute::<QuerierPtr<'_>, QuerierPtr<'static>>(querier) };
        let backend = Backend {
            api: self.vm.api.clone(),
            storage: StorageBridge {
                store: storage,
                iterators: HashMap::new(),
                next_id: 0,
                meter: meter.clone(),
            },
            querier: QuerierBridge(querier),
        };
        // As wasmd's `runtimeGasForContract`: whatever the tx has left.
        let gas_limit = meter.remaining().saturating_mul(gas::GAS_MULTIPLIER);
        let mut instance = self
            .vm
            .cache
            .get_instance(&self.checksum, backend, InstanceOptions { gas_limit })
            .map_err(|e| anyhow!("cosmwasm-vm: {e}"))?;
        let result = f(&mut instance);
        let report = instance.create_gas_report();
        drop(instance.recycle());
        self.gas_used
            .fetch_add(report.used_internally, Ordering::Relaxed);
        // wasmvm reports only the gas used inside the VM; store gas is already on the meter.
        let charged = meter.consume(report.used_internally / gas::GAS_MULTIPLIER, entry);
        match result {
            Err(VmError::GasDepletion { .. }) => {
                meter.exhaust(entry);
                Err(out_of_gas(gas::OutOfGas {
                    location: entry.into(),
                }))
            }
            Err(e) => Err(anyhow!("cosmwasm-vm: {e}")),
            Ok(_) if charged.is_err() => Err(out_of_gas(charged.unwrap_err())),
            Ok(ContractResult::Ok(r)) => Ok(r),
            Ok(ContractResult::Err(msg)) => Err(anyhow!(msg)),
        }
    }

    fn charge_events(&self, response: &Response) -> AnyResult<()> {
        let attrs = |a: &[cosmwasm_std::Attribute]| -> Vec<(usize, usize)> {
            a.iter().map(|a| (a.key.len(), a.value.len())).collect()
        };
        let events: Vec<_> = response
            .events
            .iter()
            .map(|e| (e.ty.len(), attrs(&e.attributes)))
            .collect();
        let cost = gas::event_costs(&attrs(&response.attributes), &events);
        self.vm.meter.consume(cost, "events").map_err(out_of_gas)
    }
}

/// The error a call fails with when the tx runs out of gas; the chain reports it as code 11.
fn out_of_gas(e: gas::OutOfGas) -> anyhow::Error {
    anyhow!("out of gas in location: {}", e.location)
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

impl WasmContract {
    /// An entry point that may write and returns a `Response` (its events are charged).
    fn call_mut(
        &self,
        entry: &str,
        mut deps: DepsMut,
        f: impl FnOnce(&mut VmInstance) -> Result<ContractResult<Response>, VmError>,
    ) -> AnyResult<Response> {
        let store = store_mut(&mut deps);
        let response = self.call(entry, store, &*deps.querier, f)?;
        self.charge_events(&response)?;
        Ok(response)
    }
}

impl Contract<Empty> for WasmContract {
    fn instantiate(
        &self,
        deps: DepsMut,
        env: Env,
        info: MessageInfo,
        msg: Vec<u8>,
    ) -> AnyResult<Response> {
        self.call_mut("instantiate", deps, |i| {
            call_instantiate(i, &env, &info, &msg)
        })
    }

    fn execute(
        &self,
        deps: DepsMut,
        env: Env,
        info: MessageInfo,
        msg: Vec<u8>,
    ) -> AnyResult<Response> {
        self.call_mut("execute", deps, |i| call_execute(i, &env, &info, &msg))
    }

    fn query(&self, deps: Deps, env: Env, msg: Vec<u8>) -> AnyResult<Binary> {
        let store = store_ref(&deps);
        self.call("query", store, &*deps.querier, |i| {
            call_query(i, &env, &msg)
        })
    }

    fn reply(&self, deps: DepsMut, env: Env, msg: Reply) -> AnyResult<Response> {
        self.call_mut("reply", deps, |i| call_reply(i, &env, &msg))
    }

    fn sudo(&self, deps: DepsMut, env: Env, msg: Vec<u8>) -> AnyResult<Response> {
        self.call_mut("sudo", deps, |i| call_sudo(i, &env, &msg))
    }

    fn migrate(&self, deps: DepsMut, env: Env, msg: Vec<u8>) -> AnyResult<Response> {
        self.call_mut("migrate", deps, |i| call_migrate(i, &env, &msg))
    }

    fn checksum(&self) -> Option<Checksum> {
        Some(self.checksum)
    }
}

/// Addresses as the chain writes them: bech32 with the chain's prefix, 20-byte accounts and
/// 32-byte contracts. Conversions cost what wasmd charges.
#[derive(Clone)]
pub struct Bech32Api {
    prefix: &'static str,
}

impl Bech32Api {
    fn decode(&self, human: &str) -> Result<Vec<u8>, BackendError> {
        let (hrp, data) = bech32::decode(human).map_err(|e| BackendError::UserErr {
            msg: format!("invalid address {human}: {e}"),
        })?;
        if hrp.as_str() != self.prefix {
            return Err(BackendError::UserErr {
                msg: format!(
                    "invalid address {human}: prefix {hrp}, expected {}",
                    self.prefix
                ),
            });
        }
        if !(1..=255).contains(&data.len()) {
            return Err(BackendError::UserErr {
                msg: format!("invalid address {human}: {} bytes", data.len()),
            });
        }
        Ok(data)
    }
}

fn gas_cost(sdk: u64) -> GasInfo {
    GasInfo::with_cost(sdk * gas::GAS_MULTIPLIER)
}

impl BackendApi for Bech32Api {
    fn addr_validate(&self, input: &str) -> BackendResult<()> {
        let (canonical, _) = self.addr_canonicalize(input);
        let result = canonical.and_then(|c| {
            let (human, _) = self.addr_humanize(&c);
            match human {
                Ok(h) if h == input => Ok(()),
                Ok(h) => Err(BackendError::UserErr {
                    msg: format!("address {input} is not normalized (expected {h})"),
                }),
                Err(e) => Err(e),
            }
        });
        (
            result,
            gas_cost(gas::CANONICALIZE_COST + gas::HUMANIZE_COST),
        )
    }

    fn addr_canonicalize(&self, human: &str) -> BackendResult<Vec<u8>> {
        (self.decode(human), gas_cost(gas::CANONICALIZE_COST))
    }

    fn addr_humanize(&self, canonical: &[u8]) -> BackendResult<String> {
        let result = bech32::Hrp::parse(self.prefix)
            .map_err(|e| BackendError::UserErr { msg: e.to_string() })
            .and_then(|hrp| {
                bech32::encode::<bech32::Bech32>(hrp, canonical)
                    .map_err(|e| BackendError::UserErr { msg: e.to_string() })
            });
        (result, gas_cost(gas::HUMANIZE_COST))
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
    meter: Arc<Meter>,
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

    /// Charges store gas on the tx's meter, as the SDK's gas KV store does.
    fn charge(&self, sdk_gas: u64, op: &str) -> Result<(), BackendError> {
        self.meter
            .consume(sdk_gas, op)
            .map_err(|_| BackendError::OutOfGas {})
    }
}

impl cosmwasm_vm::Storage for StorageBridge {
    fn get(&self, key: &[u8]) -> BackendResult<Option<Vec<u8>>> {
        let value = self.read().get(key);
        let charged = self.charge(
            gas::kv_read(key.len(), value.as_ref().map(Vec::len)),
            "ReadFlat",
        );
        (charged.map(|_| value), GasInfo::free())
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
            .ok_or(BackendError::IteratorDoesNotExist { id: iterator_id })
            .and_then(|record| {
                if let Some((k, v)) = &record {
                    self.charge(gas::kv_iter_next(k.len(), v.len()), "IterNext")?;
                }
                Ok(record)
            });
        (result, GasInfo::free())
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> BackendResult<()> {
        let result = self
            .charge(gas::kv_write(key.len(), value.len()), "WriteFlat")
            .and_then(|_| self.write().map(|s| s.set(key, value)));
        (result, GasInfo::free())
    }

    fn remove(&mut self, key: &[u8]) -> BackendResult<()> {
        let result = self
            .charge(gas::DELETE_COST, "Delete")
            .and_then(|_| self.write().map(|s| s.remove(key)));
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
        // Safety: see `WasmContract::call`. A queried contract charges the tx's meter itself.
        let answer = unsafe { &*self.0 }.raw_query(request);
        (Ok(answer), GasInfo::free())
    }
}
