//! `make demo`: see `havn_demo` (src/lib.rs) for what runs.

use std::process::ExitCode;

use havn_integration_tests::HAI;

fn main() -> ExitCode {
    match havn_demo::run(std::path::Path::new("target/demo")) {
        Ok(r) => {
            for (i, step) in r.steps.iter().enumerate() {
                println!("{}. {step}", i + 1);
            }
            println!();
            println!(
                "job {} of workflow {}: {} (output {}…, {} attestations), fee {} $HAI",
                r.job_id,
                r.workflow_id,
                r.outcome,
                &r.output_hash[..16],
                r.attestations,
                fmt(r.fee)
            );
            println!("output: {} ({})", r.output_path.display(), r.runtime);
            for v in &r.verdicts {
                println!("  validator: {v}");
            }
            println!("{:<14} {:>14}", "paid to", "$HAI claimed");
            for (who, amount) in &r.claims {
                println!("{who:<14} {:>14}", fmt(*amount));
            }
            println!("{:<14} {:>14}", "treasury", fmt(r.treasury));
            let total: u128 = r.claims.iter().map(|(_, a)| a).sum::<u128>() + r.treasury;
            println!("{:<14} {:>14}", "total", fmt(total));
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
