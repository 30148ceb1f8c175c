//! Havn's development chain: a single-process CosmWasm chain that speaks the Cosmos SDK gRPC API
//! (tx broadcast and simulate, auth, bank, wasm queries, node info) and runs the contracts' real
//! wasm artifacts in `cosmwasm-vm` 2.3.5, with the ante checks and gas accounting of a wasmd
//! chain. A development tool: one validator, no consensus, no IBC. Production points the same
//! cosmrs clients at a real chain's gRPC endpoint. See docs/devnet.md.

pub mod app;
pub mod chain;
pub mod gas;
pub mod server;
pub mod vm;

pub use chain::{Abci, Chain, Genesis, GenesisAccount, GenesisCode};
pub use server::{spawn_chain, ChainOptions, Handle};
pub use vm::{Vm, WasmContract, CAPABILITIES};
