//! What a Havn job returns and how validators judge it. A pipeline's output is one tensor,
//! encoded as a file a user can open: PNG (images), WAV (audio), UTF-8 (text) or npy (any other
//! tensor). This crate owns those encodings, the structural checks every result gets, and the
//! tolerance ladder that compares a node's output with a validator's re-execution.
//!
//! It is pure Rust (no LibTorch), so the ladder can be tested and reused without a runtime.

pub mod encode;
pub mod ladder;

pub use encode::{Decoded, Encoding, OutputError, OutputSpec, Values};
pub use ladder::{compare, inspect, Judgement, Metrics, Rung, Tolerance};
