//! cw-multi-test suite for the workflow registry: every message, its happy path, its unauthorized
//! senders and its malformed inputs, each with the exact typed error.

mod assets;
mod derivatives;
mod governance;
mod instantiate;
mod metadata;
mod migrate;
mod ownership;
mod publish;
mod queries;
mod royalties;
mod suite;
mod versions;
