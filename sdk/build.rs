//! Links libtorch whole into the test binaries, which run a node and validators in-process (on
//! CUDA where there is one; see mesh/runtime). Never into `havn` itself: the CLI has no LibTorch.

fn main() {
    println!("cargo:rustc-link-arg-tests=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg-tests=-ltorch");
}
