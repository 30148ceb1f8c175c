//! `wasm-audit [--max-bytes N] FILE...`: prints a table and exits non-zero if any module is over
//! the size budget or still has post-MVP operators.

use std::process::ExitCode;

const USAGE: &str = "usage: wasm-audit [--max-bytes N] FILE.wasm...\n\
    Fails if a module is larger than N bytes (default 400000) or still contains bulk-memory,\n\
    sign-ext, saturating float-to-int or reference-types operators.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let mut max_bytes = 400_000usize;
    let mut files = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--max-bytes" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => max_bytes = n,
                None => return fail("--max-bytes needs a number"),
            },
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        return fail(USAGE);
    }

    let mut ok = true;
    println!(
        "{:<40} {:>9} {:>6} {:>5}  verdict",
        "artifact", "bytes", "funcs", "!mvp"
    );
    for file in &files {
        let report = match std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|b| wasm_audit::scan(&b).map_err(|e| e.to_string()))
        {
            Ok(report) => report,
            Err(e) => return fail(&format!("{file}: {e}")),
        };
        let mut problems = Vec::new();
        if report.bytes > max_bytes {
            problems.push(format!("over the {max_bytes}-byte budget"));
        }
        if report.post_mvp.total() > 0 {
            problems.push(format!(
                "post-MVP operators left ({}): run the wasm-opt lowering passes",
                report.post_mvp
            ));
        }
        let name = std::path::Path::new(file)
            .file_name()
            .map_or(file.clone(), |n| n.to_string_lossy().into_owned());
        let verdict = if problems.is_empty() {
            "ok".to_string()
        } else {
            format!("FAIL: {}", problems.join("; "))
        };
        println!(
            "{:<40} {:>9} {:>6} {:>5}  {verdict}",
            name,
            report.bytes,
            report.functions,
            report.post_mvp.total()
        );
        ok &= problems.is_empty();
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("wasm-audit: {msg}");
    ExitCode::from(2)
}
