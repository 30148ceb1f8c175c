//! Links libtorch so that CUDA loads (cargo does not pass tch's own link arguments on), and
//! records the libtorch version for the runtime info a node signs.

fn main() {
    // Without these the linker drops libtorch.so (nothing references it directly) and with it
    // libtorch_cuda: CUDA would never be available.
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-ltorch");
    let version = std::env::var("HAVN_LIBTORCH_VERSION")
        .ok()
        .or_else(|| {
            let python = std::env::var("VIRTUAL_ENV")
                .map(|v| format!("{v}/bin/python"))
                .unwrap_or_else(|_| "python3".into());
            let out = std::process::Command::new(python)
                .args(["-c", "import torch; print(torch.__version__)"])
                .output()
                .ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HAVN_LIBTORCH_VERSION={version}");
    println!("cargo:rerun-if-env-changed=HAVN_LIBTORCH_VERSION");
    println!("cargo:rerun-if-env-changed=VIRTUAL_ENV");
}
