//! The main job runs end to end and pays everyone exactly the fee.

#[test]
fn the_demo_settles_a_job_on_chain_and_pays_everyone_the_whole_fee() {
    let r = havn_demo::run().unwrap();
    assert_eq!(r.outcome, "valid");
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
