//! Any bytes as a `torch` pipeline's manifest, through the check every node and validator runs
//! before a job (`TorchPipeline::from_manifest`: modules, input, the step graph over named values,
//! loop and size bounds, the output): a typed error or a pipeline, never a panic; one that passes
//! is within the bounds, has a fingerprint, and survives its JSON round trip. The check lives in `havn-workflow`,
//! which has no LibTorch, so neither does the target.
#![no_main]

use havn_mesh_common::pipeline::Manifest;
use libfuzzer_sys::fuzz_target;

use havn_workflow::spec::{TorchPipeline, MAX_STEPS, TORCH_KIND};

fuzz_target!(|data: &[u8]| {
    let Ok(mut manifest) = Manifest::parse(data) else {
        return;
    };
    // Every input is judged as a torch pipeline, whatever kind it names.
    manifest.pipeline.kind = TORCH_KIND.into();
    let Ok(pipeline) = TorchPipeline::from_manifest(&manifest) else {
        return;
    };
    assert!((1..=MAX_STEPS).contains(&pipeline.steps.len()));
    assert_eq!(pipeline.module_loads().unwrap().len(), pipeline.modules.len());
    // Every accepted manifest has its artifact set and a fingerprint.
    pipeline.artifact_hashes().unwrap();
    assert_eq!(
        havn_workflow::fingerprint::fingerprint(&manifest).unwrap().len(),
        havn_types::fingerprint::SLOTS
    );
    let _ = pipeline.total_units();
    let json = serde_json::to_value(&pipeline).unwrap();
    let again: TorchPipeline = serde_json::from_value(json).unwrap();
    assert_eq!(again, pipeline);
});
