//! The whole loop, publish → request → attest → record → split → claim, with real secp256k1
//! signatures, once with $HAI as a cw20 token and once as a bank denom. Expected amounts are
//! computed here from the published terms, not read back from the contracts.

use cosmwasm_std::Uint128;
use havn_integration_tests::{hash, outcomes, simple_workflow, Suite, SuiteBuilder, HAI};
use havn_payout::msg::{QueryMsg as PayoutQuery, WorkflowEarningsResponse};
use havn_payout::ContractError as PayoutError;
use havn_types::Verdict;
use havn_workflow_registry::msg::{
    ArtifactKind, DependencyMsg, DependencyTarget, PublishMsg, QueryMsg as RegistryQuery,
    RoyaltyStackResponse,
};

const PRICE: u128 = 1_000 * HAI;

/// floor(fee × bps / 10 000), in plain integers.
fn part(fee: u128, bps: u128) -> u128 {
    fee * bps / 10_000
}

fn full_loop(mut s: Suite) {
    // Two upstream workflows by other creators, and the creator's workflow built on both and on
    // an external LoRA: weights 50 / 30 / 20 % of the upstream pool.
    let a = s
        .publish("upstream-a", simple_workflow("base-diffusion", 10 * HAI))
        .unwrap();
    let b = s
        .publish("upstream-b", simple_workflow("style-encoder", 10 * HAI))
        .unwrap();
    let lora = s.addr("lora-artist");
    let workflow = s
        .publish(
            "creator",
            PublishMsg {
                name: "watercolor-portraits".into(),
                content_hash: hash("watercolor-portraits v1").to_hex(),
                price: Uint128::new(PRICE),
                split: None,
                dependencies: vec![
                    DependencyMsg {
                        target: DependencyTarget::Workflow { id: a },
                        weight_bps: 5000,
                    },
                    DependencyMsg {
                        target: DependencyTarget::Workflow { id: b },
                        weight_bps: 3000,
                    },
                    DependencyMsg {
                        target: DependencyTarget::Artifact {
                            kind: ArtifactKind::Lora,
                            content_hash: hash("watercolor.safetensors").to_hex(),
                            payee: lora.to_string(),
                        },
                        weight_bps: 2000,
                    },
                ],
                parent: None,
                artifacts: vec![],
                metadata: None,
                fingerprint: Some(havn_types::fingerprint::placeholder(
                    &hash("watercolor-portraits v1").to_hex(),
                )),
            },
        )
        .unwrap();
    // The default split 45 / 20 / 25 / 5 / 5 %; the upstream 20 % goes 10 / 6 / 4 %.
    let stack: RoyaltyStackResponse =
        s.query(&s.registry, &RegistryQuery::RoyaltyStack { id: workflow });
    assert_eq!(stack.upstream_bps, 2000);

    // The caller pays a little over the price (odd, so rounding shows).
    let fee = PRICE + 7;
    let caller_before = s.balance_of("caller");
    let job = s
        .request("caller", workflow, fee, "a portrait of Ada")
        .unwrap();
    assert_eq!(caller_before - s.balance_of("caller"), fee);
    assert_eq!(s.escrowed(), fee);
    assert_eq!(s.balance(&s.log.clone()), fee);

    // Four of five validators sign the node's result; anyone relays it.
    let result = s.result(job, "node", "png bytes", Verdict::Valid, &[0, 1, 2, 3]);
    let res = s.record(vec![result]).unwrap();
    assert_eq!(outcomes(&res), vec![(job, "recorded".to_string())]);
    // Nothing is paid while the result can still be challenged.
    assert_eq!(s.escrowed(), fee);
    assert_eq!(s.balance(&s.payout.clone()), 0);
    s.pass_window();
    s.finalize(&[job]).unwrap();
    assert_eq!(s.escrowed(), 0);
    assert_eq!(s.balance(&s.log.clone()), 0);
    assert_eq!(s.balance(&s.payout.clone()), fee);

    // The validators' 5 %: 80 % waits in the re-execution pot for drawn re-executions (none
    // here: no seeds), the rest goes to the four signers.
    let pool = part(fee, 500);
    let pot = pool * 8_000 / 10_000;
    let each_validator = (pool - pot) / 4;
    let expected = [
        ("creator", part(fee, 4500)),
        ("upstream-a", part(fee, 1000)),
        ("upstream-b", part(fee, 600)),
        ("lora-artist", part(fee, 400)),
        ("node", part(fee, 2500)),
        ("validator-0", each_validator),
        ("validator-1", each_validator),
        ("validator-2", each_validator),
        ("validator-3", each_validator),
    ];
    let paid_out: u128 = expected.iter().map(|(_, a)| a).sum();
    let treasury = fee - paid_out - pot;
    assert!(treasury >= part(fee, 500));

    for (who, amount) in expected {
        let before = s.balance_of(who);
        s.claim(who).unwrap();
        assert_eq!((who, s.balance_of(who) - before), (who, amount));
    }
    // The validator that did not sign earned nothing.
    let absent = s.validator(4);
    assert_eq!(
        s.claim("validator-4").unwrap_err(),
        PayoutError::NothingToClaim {
            address: absent.to_string()
        }
    );
    // The treasury (the governance contract) gets its share and every rounding remainder.
    let governance = s.governance.clone();
    let before = s.balance(&governance);
    s.execute(
        "holder",
        &s.payout.clone(),
        &havn_payout::msg::ExecuteMsg::ReleaseTreasury {},
        &[],
    )
    .unwrap();
    assert_eq!(s.balance(&governance) - before, treasury);

    // Proof of usage: the workflow earned the fee across one run.
    let earned: WorkflowEarningsResponse = s.query(
        &s.payout,
        &PayoutQuery::WorkflowEarnings {
            workflow_id: workflow,
        },
    );
    assert_eq!((earned.runs, earned.total_fees.u128()), (1, fee));
    assert_eq!(
        earned.upstream.u128(),
        part(fee, 1000) + part(fee, 600) + part(fee, 400)
    );
    assert_eq!(earned.treasury.u128(), treasury);
    let stats: havn_execution_log::state::WorkflowStats = s.query(
        &s.log,
        &havn_execution_log::msg::QueryMsg::WorkflowStats {
            workflow_id: workflow,
        },
    );
    assert_eq!((stats.runs, stats.total_fees.u128()), (1, fee));
    // Everything owed was paid: payout holds only the pot.
    assert_eq!(s.payout_totals().pot.u128(), pot);
    assert_eq!(s.payout_totals().owed, Uint128::new(pot));
    assert_eq!(s.balance(&s.payout.clone()), pot);
}

#[test]
fn full_loop_with_cw20_hai() {
    full_loop(SuiteBuilder::new().build());
}

#[test]
fn full_loop_with_native_hai() {
    full_loop(SuiteBuilder::new().native().build());
}

#[test]
fn stake_weighted_validator_shares_follow_the_signers_stake() {
    let mut s = SuiteBuilder::new()
        .validator_stakes(&[3_000 * HAI, 1_000 * HAI, 1_000 * HAI, 1_000 * HAI])
        .payout_params(|p| p.validator_shares = havn_payout::state::ValidatorShares::StakeWeighted)
        .build();
    let workflow = s
        .publish("creator", simple_workflow("solo", 100 * HAI))
        .unwrap();
    let fee = 100 * HAI;
    let job = s.request("caller", workflow, fee, "x").unwrap();
    // 3000 + 1000 + 1000 of 6000 stake is a quorum; the pool splits 3 : 1 : 1.
    let result = s.result(job, "node", "out", Verdict::Valid, &[0, 1, 2]);
    let res = s.settle(vec![result]).unwrap();
    assert_eq!(outcomes(&res), vec![(job, "recorded".to_string())]);
    let signers = part(fee, 500) / 5;
    assert_eq!(s.earnings(&s.validator(0)).earned.u128(), signers * 3 / 5);
    assert_eq!(s.earnings(&s.validator(1)).earned.u128(), signers / 5);
    assert_eq!(s.earnings(&s.validator(3)).earned.u128(), 0);
}

#[test]
fn a_batch_of_jobs_settles_in_one_record_and_one_distribution() {
    let mut s = SuiteBuilder::new().build();
    let workflow = s
        .publish("creator", simple_workflow("batch", 10 * HAI))
        .unwrap();
    let jobs: Vec<u64> = (0..10)
        .map(|i| {
            s.request("caller", workflow, 10 * HAI, &format!("input {i}"))
                .unwrap()
        })
        .collect();
    let results = jobs
        .iter()
        .map(|&j| {
            s.result(
                j,
                "node",
                &format!("out {j}"),
                Verdict::Valid,
                &[0, 1, 2, 3, 4],
            )
        })
        .collect();
    let res = s.record(results).unwrap();
    assert_eq!(outcomes(&res).len(), 10);
    s.pass_window();
    let res = s.finalize(&jobs).unwrap();
    let distributions = res
        .events
        .iter()
        .filter(|e| e.ty == "wasm" && e.attributes.iter().any(|a| a.value == "distribute"))
        .count();
    assert_eq!(distributions, 1);
    assert_eq!(s.payout_totals().jobs_paid, 10);
    // No dependencies: the creator takes 65 % of 100 $HAI.
    assert_eq!(s.earnings(&s.addr("creator")).earned.u128(), 65 * HAI);
}
