//! The main job runs end to end and pays everyone exactly the fee.

#[test]
fn the_demo_settles_a_job_on_chain_and_pays_everyone_the_whole_fee() {
    let dir = tempfile::tempdir().unwrap();
    let r = havn_demo::run(dir.path()).unwrap();
    assert_eq!(r.outcome, "valid");
    // The node ran the text-to-image workflow on LibTorch; every validator re-executed it.
    assert!(r.runtime.starts_with("tch 0.24.0"), "{}", r.runtime);
    let png = std::fs::read(&r.output_path).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(hex::encode(havn_mesh_common::sha256(&png)), r.output_hash);
    assert!(
        r.verdicts.iter().all(|v| v.starts_with("exact:")),
        "{:?}",
        r.verdicts
    );
    assert!(
        r.attestations >= 4,
        "quorum of 5 equal validators: {}",
        r.attestations
    );
    let total: u128 = r.claims.iter().map(|(_, a)| a).sum::<u128>() + r.treasury;
    assert_eq!(total, r.fee, "every unit of the fee is paid out");
    // The default split 45 / 20 / 25 / 5 / 5 %; the upstream 20 % is half the base workflow's
    // creator's, half the LoRA artist's.
    let paid = |who: &str| r.claims.iter().find(|(w, _)| w == who).map(|(_, a)| *a);
    assert_eq!(paid("creator"), Some(r.fee * 45 / 100));
    assert_eq!(paid("upstream-a"), Some(r.fee * 10 / 100));
    assert_eq!(paid("lora-artist"), Some(r.fee * 10 / 100));
    assert_eq!(paid("node"), Some(r.fee * 25 / 100));
}
