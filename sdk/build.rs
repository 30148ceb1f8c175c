//! Links libtorch whole, so the demo's node runs on CUDA where there is one (see mesh/runtime).

fn main() {
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-ltorch");
}
