//! Links libtorch whole (the runtime's CUDA path needs it; cargo does not pass a dependency's
//! link arguments on).

fn main() {
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-ltorch");
}
