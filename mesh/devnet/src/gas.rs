//! Gas as wasmd counts it (wasmd v0.54 `x/wasm/types/gas_register.go`, Cosmos SDK v0.50
//! `store/types/gas.go` and `x/auth` defaults). Every number here names its source; where the
//! devnet estimates instead of counting, the constant says so. See docs/devnet.md.

use std::sync::Mutex;

/// CosmWasm gas per SDK gas (`DefaultGasMultiplier`, wasmvm 2.x).
pub const GAS_MULTIPLIER: u64 = 140_000;
/// SDK gas to load a contract instance (`DefaultInstanceCost`), for every execute, instantiate,
/// migrate, sudo and smart query, from a tx or from another contract.
pub const INSTANCE_COST: u64 = 60_000;
/// A reply is charged as a pinned call (`DefaultInstanceCostDiscount`): wasmd's `reply` passes
/// `pinned = true` to `ReplyCosts`. So is every call in a tx of code (by checksum) that the tx
/// already ran (wasmd v0.54 `checkDiscountEligibility`, the ante handler's `TxContracts`); never in
/// a gRPC query, which has no `TxContracts`.
pub const INSTANCE_COST_DISCOUNT: u64 = 2_000;
/// Per byte of wasm stored (`DefaultCompileCost`), counted on the uncompressed module.
pub const COMPILE_COST_PER_BYTE: u64 = 3;
/// Per byte of a gzipped upload, before it is unpacked (`DefaultPerByteUncompressCost`, 15/100).
pub const UNCOMPRESS_COST_PER_100_BYTES: u64 = 15;
/// The largest module wasmd stores, packed or unpacked (`MaxWasmSize`).
pub const MAX_WASM_SIZE: usize = 800 * 1024;
/// Events a contract returns (`DefaultPerAttributeCost`, `DefaultEventAttributeDataCost`,
/// `DefaultEventAttributeDataFreeTier`, `DefaultPerCustomEventCost`).
pub const PER_ATTRIBUTE_COST: u64 = 10;
pub const ATTRIBUTE_DATA_COST_PER_BYTE: u64 = 1;
pub const ATTRIBUTE_DATA_FREE_TIER: u64 = 100;
pub const PER_CUSTOM_EVENT_COST: u64 = 20;
/// Address conversions the VM asks the chain for (`x/wasm/keeper/api.go`:
/// `DefaultGasCostHumanAddress`, `DefaultGasCostCanonicalAddress`), in SDK gas.
pub const HUMANIZE_COST: u64 = 5;
pub const CANONICALIZE_COST: u64 = 4;

/// `KVGasConfig` (SDK v0.50): per byte of key **and** value.
pub const HAS_COST: u64 = 1_000;
pub const DELETE_COST: u64 = 1_000;
pub const READ_COST_FLAT: u64 = 1_000;
pub const READ_COST_PER_BYTE: u64 = 3;
pub const WRITE_COST_FLAT: u64 = 2_000;
pub const WRITE_COST_PER_BYTE: u64 = 30;
pub const ITER_NEXT_COST_FLAT: u64 = 30;
/// wasmd stores a contract's keys under `0x03 ‖ 32-byte contract address`.
pub const CONTRACT_KEY_PREFIX: u64 = 33;

/// The ante handler (`x/auth` default params): `TxSizeCostPerByte`, `SigVerifyCostSecp256k1`.
pub const TX_SIZE_COST_PER_BYTE: u64 = 10;
pub const SIG_VERIFY_COST_SECP256K1: u64 = 1_000;
/// Calibrated on havnd (mesh/chain/tests/havn_gas.rs): what a real chain's ante handler and
/// message service charge beyond tx size and signatures, none of which the devnet stores: the
/// account read and write, params, wasmd's tx counter and `TxContracts`, the circuit breaker,
/// fee deduction. Measured on an account's later txs: its first pays `NEW_PUBKEY_ESTIMATE` too.
pub const ANTE_STORE_ESTIMATE: u64 = 31_450;
/// Calibrated on havnd: an account's first tx, where the ante handler stores its public key
/// (`SetPubKeyDecorator`), costs this much more than its later ones (13 337 measured).
pub const NEW_PUBKEY_ESTIMATE: u64 = 13_340;
/// Calibrated on havnd: a bank send to an address with no account creates one (account number,
/// the account and its number index; 13 401 measured).
pub const NEW_ACCOUNT_ESTIMATE: u64 = 13_400;
/// Calibrated on havnd: what the SDK v0.50 bank keeper's send costs beyond reading and writing
/// both balances: the balances' denom-index writes, the sender's account read (the vesting
/// lock check) and the send-enabled params (8 650 measured on a one-coin `MsgSend`).
pub const BANK_SEND_STORE_ESTIMATE: u64 = 8_650;
/// Calibrated on havnd the same way: what each further message of a tx adds besides its
/// contract's own cost (33 `RequestJob`s in one tx were 7 550 per message short).
pub const PER_MESSAGE_ESTIMATE: u64 = 7_550;
/// Estimate, not counted: reading a contract's `ContractInfo` (33-byte key, ~130-byte value) and
/// its `CodeInfo` (9-byte key, ~80-byte value) before each call.
pub const CONTRACT_LOOKUP_ESTIMATE: u64 = READ_COST_FLAT
    + READ_COST_PER_BYTE * (33 + 130)
    + READ_COST_FLAT
    + READ_COST_PER_BYTE * (9 + 80);
/// wasmd's default gas limit for a smart query from gRPC (`SmartQueryGasLimit`).
pub const SMART_QUERY_GAS_LIMIT: u64 = 3_000_000;

/// Read of a contract's key (`key` without wasmd's prefix); `value` is what was found.
pub fn kv_read(key: usize, value: Option<usize>) -> u64 {
    READ_COST_FLAT
        + READ_COST_PER_BYTE * (CONTRACT_KEY_PREFIX + key as u64)
        + READ_COST_PER_BYTE * value.unwrap_or(0) as u64
}

pub fn kv_write(key: usize, value: usize) -> u64 {
    WRITE_COST_FLAT + WRITE_COST_PER_BYTE * (CONTRACT_KEY_PREFIX + key as u64 + value as u64)
}

pub fn kv_iter_next(key: usize, value: usize) -> u64 {
    ITER_NEXT_COST_FLAT + READ_COST_PER_BYTE * (CONTRACT_KEY_PREFIX + key as u64 + value as u64)
}

/// One coin moved by the bank module: read and write both balances (`0x02 ‖ len ‖ addr ‖ denom`,
/// the amount as a decimal string) and check the recipient's account exists.
pub fn bank_transfer(from: usize, to: usize, denom: usize, amount: usize) -> u64 {
    let balance = |addr: usize| {
        READ_COST_FLAT
            + READ_COST_PER_BYTE * (2 + addr + denom + amount) as u64
            + WRITE_COST_FLAT
            + WRITE_COST_PER_BYTE * (2 + addr + denom + amount) as u64
    };
    balance(from) + balance(to) + HAS_COST + BANK_SEND_STORE_ESTIMATE
}

/// wasmd's `EventCosts`: the response's own attributes, then each custom event (its type bytes
/// are never free); the first 100 bytes of attribute data are free across all of them.
pub fn event_costs(attributes: &[(usize, usize)], events: &[(usize, Vec<(usize, usize)>)]) -> u64 {
    let mut free = ATTRIBUTE_DATA_FREE_TIER;
    let mut attr_costs = |attrs: &[(usize, usize)]| -> u64 {
        if attrs.is_empty() {
            return 0;
        }
        let stored: u64 = attrs.iter().map(|(k, v)| (k + v) as u64).sum();
        let charged = stored.saturating_sub(free);
        free = free.saturating_sub(stored);
        ATTRIBUTE_DATA_COST_PER_BYTE * charged + PER_ATTRIBUTE_COST * attrs.len() as u64
    };
    let mut gas = attr_costs(attributes);
    for (ty, attrs) in events {
        gas += PER_CUSTOM_EVENT_COST + ATTRIBUTE_DATA_COST_PER_BYTE * *ty as u64;
        gas += attr_costs(attrs);
    }
    gas
}

/// The ante handler's cost of a tx: its bytes, its signatures, its store accesses, and the
/// bookkeeping of each message past the first.
pub fn ante(tx_bytes: usize, signatures: usize, messages: usize) -> u64 {
    TX_SIZE_COST_PER_BYTE * tx_bytes as u64
        + SIG_VERIFY_COST_SECP256K1 * signatures as u64
        + ANTE_STORE_ESTIMATE
        + PER_MESSAGE_ESTIMATE * messages.saturating_sub(1) as u64
}

/// Ran past the gas the tx asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfGas {
    pub location: String,
}

#[derive(Debug, Default)]
struct State {
    /// `None`: unmetered (genesis, snapshot restore).
    limit: Option<u64>,
    used: u64,
    out_of_gas: Option<String>,
    /// Checksums of the code this tx has run (`None` in a query: no discount there).
    codes_run: Option<std::collections::BTreeSet<Vec<u8>>>,
}

/// The SDK gas meter of the tx (or query) being run; shared by every contract call in it.
#[derive(Debug, Default)]
pub struct Meter(Mutex<State>);

impl Meter {
    /// Starts metering a query with `limit` SDK gas.
    pub fn begin(&self, limit: u64) {
        *self.0.lock().unwrap() = State {
            limit: Some(limit),
            ..State::default()
        };
    }

    /// Starts metering a tx with `limit` SDK gas: code it runs twice costs less the second time.
    pub fn begin_tx(&self, limit: u64) {
        *self.0.lock().unwrap() = State {
            limit: Some(limit),
            codes_run: Some(Default::default()),
            ..State::default()
        };
    }

    /// What loading an instance of code `checksum` costs for `entry`, as wasmd charges it.
    pub fn instance_cost(&self, checksum: &[u8], entry: &str) -> u64 {
        let mut s = self.0.lock().unwrap();
        let ran_before = s
            .codes_run
            .as_mut()
            .is_some_and(|run| !run.insert(checksum.to_vec()));
        if entry == "reply" || ran_before {
            INSTANCE_COST_DISCOUNT
        } else {
            INSTANCE_COST
        }
    }

    /// Stops metering; returns the gas used and where it ran out, if it did.
    pub fn end(&self) -> (u64, Option<String>) {
        let s = std::mem::take(&mut *self.0.lock().unwrap());
        (s.used, s.out_of_gas)
    }

    pub fn used(&self) -> u64 {
        self.0.lock().unwrap().used
    }

    /// SDK gas left before the limit (`u64::MAX / GAS_MULTIPLIER` when unmetered).
    pub fn remaining(&self) -> u64 {
        let s = self.0.lock().unwrap();
        match s.limit {
            Some(limit) => limit.saturating_sub(s.used),
            None => u64::MAX / GAS_MULTIPLIER,
        }
    }

    /// Charges `amount`; past the limit the meter remembers where (as the SDK's panic does) and
    /// every later charge fails too.
    pub fn consume(&self, amount: u64, location: &str) -> Result<(), OutOfGas> {
        let mut s = self.0.lock().unwrap();
        let Some(limit) = s.limit else {
            return Ok(());
        };
        s.used = s.used.saturating_add(amount);
        if s.used > limit && s.out_of_gas.is_none() {
            s.out_of_gas = Some(location.to_string());
        }
        match &s.out_of_gas {
            Some(at) => Err(OutOfGas {
                location: at.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Marks the tx out of gas (the VM ran out inside a contract).
    pub fn exhaust(&self, location: &str) {
        let mut s = self.0.lock().unwrap();
        if s.limit.is_some() && s.out_of_gas.is_none() {
            s.out_of_gas = Some(location.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_costs_follow_wasmd() {
        // Under the free tier: only the per-attribute cost.
        assert_eq!(event_costs(&[(6, 4)], &[]), 10);
        // 120 bytes: 20 charged + 2 attributes.
        assert_eq!(event_costs(&[(60, 0), (0, 60)], &[]), 20 + 20);
        // A custom event: 20 + its type, and the free tier carries over.
        assert_eq!(
            event_costs(&[(50, 0)], &[(4, vec![(60, 0)])]),
            10 + 20 + 4 + 10 + 10
        );
    }

    #[test]
    fn kv_costs_match_the_research_rule_of_thumb() {
        // A 14-byte key and a 200-byte value: write ≈ 9 400, read ≈ 1 740.
        assert_eq!(kv_write(14, 200), 2_000 + 30 * 247);
        assert_eq!(kv_read(14, Some(200)), 1_000 + 3 * 247);
        assert_eq!(kv_read(14, None), 1_000 + 3 * 47);
    }

    #[test]
    fn the_meter_stops_at_its_limit_and_remembers_where() {
        let m = Meter::default();
        assert!(m.consume(u64::MAX, "unmetered").is_ok());
        m.begin(100);
        assert!(m.consume(60, "a").is_ok());
        assert_eq!(m.remaining(), 40);
        assert_eq!(m.consume(50, "b").unwrap_err().location, "b");
        assert_eq!(m.consume(1, "c").unwrap_err().location, "b");
        assert_eq!(m.end(), (111, Some("b".into())));
        assert!(m.consume(1, "after").is_ok());
    }

    #[test]
    fn code_a_tx_runs_again_costs_the_discount_but_never_in_a_query() {
        let m = Meter::default();
        m.begin_tx(1_000_000);
        assert_eq!(m.instance_cost(b"cw20", "execute"), INSTANCE_COST);
        assert_eq!(m.instance_cost(b"log", "execute"), INSTANCE_COST);
        assert_eq!(m.instance_cost(b"cw20", "query"), INSTANCE_COST_DISCOUNT);
        assert_eq!(m.instance_cost(b"log", "reply"), INSTANCE_COST_DISCOUNT);
        m.end();
        m.begin_tx(1_000_000);
        assert_eq!(m.instance_cost(b"cw20", "execute"), INSTANCE_COST, "per tx");
        m.begin(1_000_000);
        assert_eq!(m.instance_cost(b"cw20", "query"), INSTANCE_COST);
        assert_eq!(m.instance_cost(b"cw20", "query"), INSTANCE_COST);
        assert_eq!(m.instance_cost(b"cw20", "reply"), INSTANCE_COST_DISCOUNT);
    }
}
