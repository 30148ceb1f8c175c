//! Counts the WebAssembly operators that the CosmWasm 2.x VM (what wasmvm 2.x chains embed)
//! refuses to store, so a contract that still carries them fails in CI, not on a chain.
//!
//! rustc ≥ 1.87 emits bulk-memory, sign-extension and saturating float-to-int operators even for
//! `-C target-cpu=mvp` (the precompiled std has them); `wasm-opt` must lower them. This scan proves
//! it did, independently of `cosmwasm-check`.

use std::fmt;

use wasmparser::{Operator, Parser, Payload};

/// Post-MVP operator families the scan counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpCounts {
    /// memory.copy / memory.fill / memory.init / data.drop / table.copy / table.init / elem.drop
    pub bulk_memory: usize,
    /// i32.extend8_s, i64.extend32_s, …
    pub sign_ext: usize,
    /// i32.trunc_sat_f32_s, …
    pub saturating_fptoint: usize,
    /// ref.null / ref.func / table.get / table.grow, …
    pub reference_types: usize,
}

impl OpCounts {
    pub fn total(&self) -> usize {
        self.bulk_memory + self.sign_ext + self.saturating_fptoint + self.reference_types
    }
}

impl fmt::Display for OpCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bulk-memory {}, sign-ext {}, trunc-sat {}, reference-types {}",
            self.bulk_memory, self.sign_ext, self.saturating_fptoint, self.reference_types
        )
    }
}

/// What the scan found in one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub bytes: usize,
    pub functions: usize,
    pub post_mvp: OpCounts,
}

/// Scans every function body of a module.
pub fn scan(wasm: &[u8]) -> Result<Report, wasmparser::BinaryReaderError> {
    let mut report = Report {
        bytes: wasm.len(),
        functions: 0,
        post_mvp: OpCounts::default(),
    };
    for payload in Parser::new(0).parse_all(wasm) {
        let Payload::CodeSectionEntry(body) = payload? else {
            continue;
        };
        report.functions += 1;
        let mut ops = body.get_operators_reader()?;
        while !ops.eof() {
            count(&mut report.post_mvp, &ops.read()?);
        }
    }
    Ok(report)
}

fn count(counts: &mut OpCounts, op: &Operator) {
    use Operator::*;
    match op {
        MemoryCopy { .. }
        | MemoryFill { .. }
        | MemoryInit { .. }
        | DataDrop { .. }
        | TableCopy { .. }
        | TableInit { .. }
        | ElemDrop { .. } => counts.bulk_memory += 1,
        I32Extend8S | I32Extend16S | I64Extend8S | I64Extend16S | I64Extend32S => {
            counts.sign_ext += 1
        }
        I32TruncSatF32S | I32TruncSatF32U | I32TruncSatF64S | I32TruncSatF64U | I64TruncSatF32S
        | I64TruncSatF32U | I64TruncSatF64S | I64TruncSatF64U => counts.saturating_fptoint += 1,
        RefNull { .. }
        | RefIsNull
        | RefFunc { .. }
        | TableGet { .. }
        | TableSet { .. }
        | TableGrow { .. }
        | TableSize { .. }
        | TableFill { .. } => counts.reference_types += 1,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with one memory and one function whose body (after the local count) is `body`.
    fn module(body: &[u8]) -> Vec<u8> {
        let mut code = vec![0x00]; // no locals
        code.extend_from_slice(body);
        code.push(0x0b); // end
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type: () -> ()
        wasm.extend_from_slice(&[0x03, 0x02, 0x01, 0x00]); // one function of type 0
        wasm.extend_from_slice(&[0x05, 0x03, 0x01, 0x00, 0x01]); // memory, min 1 page
        wasm.extend_from_slice(&[0x0a, code.len() as u8 + 2, 0x01, code.len() as u8]);
        wasm.extend_from_slice(&code);
        wasm
    }

    const I32_ZERO: [u8; 2] = [0x41, 0x00];

    #[test]
    fn mvp_module_is_clean() {
        let report = scan(&module(&[I32_ZERO[0], I32_ZERO[1], 0x1a])).unwrap(); // i32.const 0; drop
        assert_eq!(report.functions, 1);
        assert_eq!(report.post_mvp.total(), 0);
    }

    #[test]
    fn finds_memory_copy_and_fill() {
        let mut body = [I32_ZERO, I32_ZERO, I32_ZERO].concat();
        body.extend_from_slice(&[0xfc, 0x0a, 0x00, 0x00]); // memory.copy 0 0
        body.extend_from_slice(&[I32_ZERO, I32_ZERO, I32_ZERO].concat());
        body.extend_from_slice(&[0xfc, 0x0b, 0x00]); // memory.fill 0
        let report = scan(&module(&body)).unwrap();
        assert_eq!(
            report.post_mvp,
            OpCounts {
                bulk_memory: 2,
                ..OpCounts::default()
            }
        );
    }

    #[test]
    fn finds_sign_ext_and_trunc_sat() {
        let mut body = I32_ZERO.to_vec();
        body.extend_from_slice(&[0xc0, 0x1a]); // i32.extend8_s; drop
        body.extend_from_slice(&[0x43, 0, 0, 0, 0, 0xfc, 0x00, 0x1a]); // f32.const 0; i32.trunc_sat_f32_s; drop
        let report = scan(&module(&body)).unwrap();
        assert_eq!(
            report.post_mvp,
            OpCounts {
                sign_ext: 1,
                saturating_fptoint: 1,
                ..OpCounts::default()
            }
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(scan(b"not wasm").is_err());
    }
}
