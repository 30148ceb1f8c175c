//! Compiles proto/havn/mesh/v1 with the vendored protoc (nothing to install) and writes the file
//! descriptor set that gRPC reflection serves.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    }
    // Read at run time: a build script binary reused from another checkout must not look there.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files: Vec<PathBuf> = [
        "common",
        "jobs",
        "node_link",
        "validator_link",
        "artifacts",
        "settlement",
    ]
    .iter()
    .map(|f| root.join(format!("havn/mesh/v1/{f}.proto")))
    .collect();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_build::configure()
        // The links' RPC is called `Connect`, which would clash with the generated
        // `Client::connect(endpoint)` helper; clients use `Client::new(channel)` instead.
        .build_transport(false)
        .file_descriptor_set_path(out.join("havn_mesh_v1_descriptor.bin"))
        .compile_protos(&files, &[root])?;
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    Ok(())
}
