//! Any bytes as a workflow manifest: a typed error or a manifest, never a panic; a manifest
//! that parses survives its own JSON round trip unchanged.
#![no_main]

use havn_mesh_common::pipeline::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = Manifest::parse(data) else {
        return;
    };
    let again = serde_json::to_vec(&manifest).expect("a parsed manifest serializes");
    let reparsed = Manifest::parse(&again).expect("a serialized manifest parses");
    assert_eq!(reparsed, manifest);
    // Its output spec, where the pipeline names one, is read as a node reads it.
    if let Some(output) = manifest.pipeline.config.get("output") {
        let _ = serde_json::from_value::<havn_outputs::OutputSpec>(output.clone());
    }
});
