//! `make demo`: see `havn_demo` (src/lib.rs) for what runs.

use std::process::ExitCode;

use havn_demo::HAI;

fn main() -> ExitCode {
    match havn_demo::run(std::path::Path::new("target/demo")) {
        Ok(r) => {
            for (i, step) in r.steps.iter().enumerate() {
                println!("{}. {step}", i + 1);
            }
            println!();
            println!(
                "job {} of workflow {} on {}: {} (output {}…, {} attestations), fee {} $HAI",
                r.job_id,
                r.workflow_id,
                r.chain_id,
                r.outcome,
                &r.output_hash[..16],
                r.attestations,
                fmt(r.fee)
            );
            println!("output: {} ({})", r.output_path.display(), r.runtime);
            for v in &r.verdicts {
                println!("  validator: {v}");
            }
            println!(
                "execution record: block {}, node {}, {} signers, tx {} ({} gas)",
                r.record_height,
                r.record_node,
                r.record_signers.len(),
                r.record_tx,
                r.record_gas
            );
            println!();
            println!(
                "{:<14} {:>14} {:>14} {:>14}",
                "party", "$HAI before", "after", "received"
            );
            let mut total = 0;
            for (who, before, after) in &r.balances {
                total += after - before;
                println!(
                    "{who:<14} {:>14} {:>14} {:>14}",
                    fmt(*before),
                    fmt(*after),
                    fmt(after - before)
                );
            }
            println!("{:<14} {:>14} {:>14} {:>14}", "total", "", "", fmt(total));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("havn-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fmt(micro: u128) -> String {
    format!("{}.{:06}", micro / HAI, micro % HAI)
}
