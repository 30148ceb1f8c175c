//! Provable draws through the real contracts: validators commit seeds before an epoch, the drawn
//! re-execution is paid from payout's pot once the seed is revealed, and the drawn validator that
//! signed structurally is slashed on anyone's report.

use havn_execution_log::msg::{EpochResponse, ExecuteMsg as LogMsg, QueryMsg as LogQuery};
use havn_integration_tests::{
    hash, outcomes, simple_workflow, SuiteBuilder, HAI, MIN_STAKE, REEXECUTED, VALIDATORS,
};
use havn_types::sampling::{draw_threshold, drawn, epoch_secret, seed_commitment};
use havn_types::{Check, Verdict};

fn secret(i: usize, epoch: u64) -> [u8; 32] {
    epoch_secret(&[i as u8 + 40; 32], epoch)
}

#[test]
fn a_drawn_reexecution_is_paid_from_the_pot_and_a_drawn_structural_vote_is_slashed() {
    let mut s = SuiteBuilder::new().build();
    let log = s.log.clone();
    let workflow = s
        .publish("creator", simple_workflow("txt2img", 100 * HAI))
        .unwrap();
    let params: havn_execution_log::state::Params = s.query(&log, &LogQuery::Params {});
    let now: EpochResponse = s.query(&log, &LogQuery::Epoch { epoch: None });
    let epoch = now.current + 1;
    for i in 0..VALIDATORS {
        let commitment = seed_commitment(&secret(i, epoch)).to_vec().into();
        let msg = LogMsg::CommitSeed { epoch, commitment };
        s.execute(&format!("validator-{i}"), &log, &msg, &[])
            .unwrap();
    }
    // Into the committed epoch.
    s.advance_blocks(epoch * params.epoch_blocks - s.app.block_info().height);
    let info: EpochResponse = s.query(&log, &LogQuery::Epoch { epoch: None });
    assert_eq!((info.epoch, info.committed), (epoch, VALIDATORS as u32));
    let threshold = draw_threshold(params.p_min_bps, VALIDATORS as u32);
    assert_eq!(info.threshold.u64(), threshold);

    let job = s.request("caller", workflow, 100 * HAI, "prompt").unwrap();
    // An output both validator 0 and validator 1 are drawn for (one in ~500).
    let output = (0..100_000)
        .map(|k| format!("png {k}"))
        .find(|o| {
            let h = hash(o).to_array().unwrap();
            drawn(&secret(0, epoch), job, &h, threshold)
                && drawn(&secret(1, epoch), job, &h, threshold)
        })
        .unwrap();
    // Validator 0 re-executes as drawn; validator 1 signs structurally anyway.
    let votes = [
        (0, Verdict::Valid, REEXECUTED),
        (1, Verdict::Valid, Check::Structural),
        (2, Verdict::Valid, Check::Structural),
        (3, Verdict::Valid, Check::Structural),
    ];
    let res = s
        .settle(vec![s.result_votes(job, "node", &output, &votes)])
        .unwrap();
    assert_eq!(outcomes(&res), vec![(job, "recorded".to_string())]);
    let pot = s.payout_totals().pot.u128();
    assert_eq!(pot, (100 * HAI * 500 / 10_000) * 8_000 / 10_000);

    // Before the reveal, nothing can be claimed.
    let claim = LogMsg::ClaimReexecutions { job_ids: vec![job] };
    let res = s.execute("validator-0", &log, &claim, &[]).unwrap();
    assert!(res.events.iter().any(|e| e
        .attributes
        .iter()
        .any(|a| a.value.contains("no revealed seed"))));
    assert_eq!(s.payout_totals().pot.u128(), pot);

    s.advance_blocks(params.epoch_blocks);
    for i in 0..VALIDATORS {
        let msg = LogMsg::RevealSeed {
            epoch,
            secret: secret(i, epoch).to_vec().into(),
        };
        s.execute(&format!("validator-{i}"), &log, &msg, &[])
            .unwrap();
    }
    let earned =
        |s: &havn_integration_tests::Suite, i: usize| s.earnings(&s.validator(i)).earned.u128();
    let before = earned(&s, 0);
    s.execute("validator-0", &log, &claim, &[]).unwrap();
    let reward = pot / 100;
    assert_eq!(earned(&s, 0) - before, reward, "1 % of the pot");
    assert_eq!(s.payout_totals().pot.u128(), pot - reward);
    // Once only; and a structural vote is no re-execution to be paid for.
    s.execute("validator-0", &log, &claim, &[]).unwrap();
    let before2 = earned(&s, 2);
    s.execute("validator-2", &log, &claim, &[]).unwrap();
    assert_eq!(earned(&s, 0) - before, reward);
    assert_eq!(earned(&s, 2), before2);

    // Validator 1 was drawn and did not re-execute: anyone proves it.
    let report = LogMsg::ReportLazy {
        job_id: job,
        validator: s.validator(1).to_string(),
    };
    let reporter = s.balance_of("anyone");
    s.execute("anyone", &log, &report, &[]).unwrap();
    let slash = MIN_STAKE / 100;
    assert_eq!(
        s.operator("validator-1").validator_stake.u128(),
        MIN_STAKE - slash
    );
    assert_eq!(s.balance_of("anyone") - reporter, slash / 10);
    assert!(s.execute("anyone", &log, &report, &[]).is_err(), "once");
    // Everything still adds up: payout holds the claimable balances and the pot.
    let t = s.payout_totals();
    assert_eq!(s.balance(&s.payout.clone()), t.owed.u128());
}
