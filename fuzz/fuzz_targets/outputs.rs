//! The outputs decoders and the tolerance ladder on any spec and any bytes: a typed error or a
//! judgement, never a panic; bytes that decode are judged identical to themselves.
//! Input: [spec length][spec JSON][claimed length, 2 bytes][claimed][reference].
#![no_main]

use havn_outputs::encode::decode;
use havn_outputs::{compare, inspect, OutputSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (spec, rest) = rest.split_at((n as usize).min(rest.len()));
    let Ok(spec) = serde_json::from_slice::<OutputSpec>(spec) else {
        return;
    };
    // Shapes past a few million values are refused before any allocation; keep runs fast.
    if spec
        .shape
        .as_ref()
        .is_some_and(|s| s.iter().product::<usize>() > 1 << 16)
    {
        return;
    }
    if rest.len() < 2 {
        return;
    }
    let m = u16::from_le_bytes([rest[0], rest[1]]) as usize;
    let (claimed, reference) = rest[2..].split_at(m.min(rest.len() - 2));
    let decoded = decode(&spec, claimed);
    let _ = inspect(&spec, claimed);
    let judged = compare(&spec, claimed, reference);
    if decoded.is_ok() && inspect(&spec, claimed).is_ok() {
        let same = compare(&spec, claimed, claimed);
        assert!(same.pass, "an output differs from itself: {}", same.detail);
    }
    let _ = judged;
});
