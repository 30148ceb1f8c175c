//! cw-multi-test suite for the staking contract: every message, its rejections, and the attacks
//! the issue names (keys without possession, unauthorized slashes, unbond-then-dodge).

mod active_set;
mod bonding;
mod conservation;
mod false_attestation;
mod governance;
mod slashing;
mod suite;
mod unbonding;
