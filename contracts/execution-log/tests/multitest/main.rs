//! cw-multi-test suite for the execution log, against the real registry and staking contracts
//! and real secp256k1 signatures over the shared attestation digest.

mod admin;
mod attacks;
mod audits;
mod disputes;
mod jobs;
mod recording;
mod seeds;
mod suite;
