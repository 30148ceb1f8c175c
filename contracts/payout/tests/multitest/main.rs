//! The payout contract on cw-multi-test, called directly: "execution-log" is an ordinary address
//! here, so every settlement shape (and every malformed one) can be sent as is. The whole loop
//! with the real execution log is in integration-tests/.

mod admin;
mod claim;
mod distribute;
mod suite;
