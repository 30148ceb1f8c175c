//! What nodes and validators send, as any bytes: the node's result (`JobOutput`) checked as the
//! router and every validator check it, a validator's `TaskAttestation`, and the verdict byte of
//! an attestation digest. A typed refusal, never a panic; nothing unsigned is accepted.
#![no_main]

use havn_mesh_common::claims;
use havn_mesh_common::operators::{FileOperators, Operator};
use havn_mesh_proto::v1::{JobOutput, TaskAttestation};
use havn_types::{Check, Verdict};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let operators = FileOperators::from_operators([Operator {
        address: "node".into(),
        pubkey: vec![2; 33],
        node_stake: 1,
        validator_stake: 0,
    }]);
    match selector % 3 {
        0 => {
            let Ok(output) = JobOutput::decode(rest) else {
                return;
            };
            // The registered key is not a valid point: no signature can be accepted for it.
            assert!(claims::check(&operators, "node", 7, &output).is_err());
            assert!(claims::check(&operators, "nobody", 7, &output).is_err());
        }
        1 => {
            let Ok(a) = TaskAttestation::decode(rest) else {
                return;
            };
            if let Some(att) = a.attestation {
                let check = Check::from_byte(u8::try_from(att.check).unwrap_or(0));
                assert_eq!(Check::from_byte(check.byte()), check);
            }
        }
        _ => {
            // The check byte of every signed verdict: any byte maps to one check, and back.
            for &b in rest.iter().take(64) {
                let check = Check::from_byte(b);
                assert_eq!(Check::from_byte(check.byte()), check);
                let _ = havn_types::contradicts((Verdict::Valid, check), (Verdict::Invalid, check));
            }
        }
    }
});
