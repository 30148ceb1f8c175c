//! The main job runs end to end on the devnet and pays everyone exactly the fee.

#[test]
fn the_demo_settles_a_job_on_the_devnet_and_pays_everyone_the_whole_fee() {
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
    // The router's RecordExecution tx put a valid quorum on chain.
    assert!(r.record_signers.len() >= 4, "{:?}", r.record_signers);
    assert!(r.record_gas > 100_000, "{}", r.record_gas);
    assert_eq!(r.record_tx.len(), 64);
    // Every party's cw20 balance rose by exactly its share; the shares add up to the fee.
    let total: u128 = r.balances.iter().map(|(_, b, a)| a - b).sum();
    assert_eq!(total, r.fee, "every unit of the fee is paid out");
    // The default split 45 / 20 / 25 / 5 / 5 %; the upstream 20 % is half the base workflow's
    // creator's, half the LoRA artist's.
    assert_eq!(r.received("creator"), Some(r.fee * 45 / 100));
    assert_eq!(r.received("upstream-a"), Some(r.fee * 10 / 100));
    assert_eq!(r.received("lora-artist"), Some(r.fee * 10 / 100));
    assert_eq!(r.received("node"), Some(r.fee * 25 / 100));
}
