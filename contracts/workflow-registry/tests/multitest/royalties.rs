//! The royalty stack end to end. Expected values are worked out by hand from the rule in
//! docs/workflow-registry.md, not read back from the contract.

use cosmwasm_std::Addr;
use havn_workflow_registry::msg::{
    ExecuteMsg, PublishMsg, QueryMsg, RoyaltyShare, RoyaltyStackResponse, RunTermsResponse,
};
use havn_workflow_registry::state::{ArtifactKind, FlagReason};

use crate::suite::*;

struct Diamond {
    suite: Suite,
    alice: Addr,
    bob: Addr,
    model: Addr,
    lora: Addr,
    a: u64,
    b: u64,
    c: u64,
}

/// A (alice) uses a model; B (bob) uses A and a LoRA; C uses A and B: A is reached twice.
fn diamond() -> Diamond {
    let mut suite = SuiteBuilder::new().build();
    let (alice, bob, carol) = (suite.addr("alice"), suite.addr("bob"), suite.addr("carol"));
    let (model, lora) = (suite.addr("model-author"), suite.addr("lora-author"));
    let a = suite
        .publish(
            &alice,
            PublishMsg {
                split: Some(split(5_000, 2_000, 2_000, 500, 500)),
                dependencies: vec![on_artifact(ArtifactKind::Model, 90, &model, 10_000)],
                ..publish_msg("a", 1)
            },
        )
        .unwrap();
    let b = suite
        .publish(
            &bob,
            PublishMsg {
                dependencies: vec![
                    on_workflow(a, 6_000),
                    on_artifact(ArtifactKind::Lora, 91, &lora, 4_000),
                ],
                ..publish_msg("b", 2)
            },
        )
        .unwrap();
    let c = suite
        .publish(
            &carol,
            PublishMsg {
                split: Some(split(4_000, 3_000, 2_000, 500, 500)),
                dependencies: vec![on_workflow(a, 5_000), on_workflow(b, 5_000)],
                parent: Some(b),
                ..publish_msg("c", 3)
            },
        )
        .unwrap();
    Diamond {
        suite,
        alice,
        bob,
        model,
        lora,
        a,
        b,
        c,
    }
}

fn stack(suite: &Suite, id: u64) -> Vec<(Addr, u16)> {
    let res: RoyaltyStackResponse = suite.query(&QueryMsg::RoyaltyStack { id });
    assert_eq!(
        res.shares.iter().map(|s| u32::from(s.bps)).sum::<u32>(),
        u32::from(res.upstream_bps),
        "stack sums to the upstream share"
    );
    res.shares
        .into_iter()
        .map(|RoyaltyShare { payee, bps }| (payee, bps))
        .collect()
}

fn sorted(mut v: Vec<(Addr, u16)>) -> Vec<(Addr, u16)> {
    v.sort();
    v
}

#[test]
fn single_level_stack() {
    let d = diamond();
    // A: all of its 2000 upstream bps to the model author.
    assert_eq!(stack(&d.suite, d.a), vec![(d.model.clone(), 2_000)]);
    // B (default split, 2000 upstream): A's 60 % splits 5000:2000 between alice and A's upstream
    // (the model): 857.14 and 342.86 bps; the LoRA keeps 40 % = 800. The 1 bps left by rounding
    // goes to the largest remainder, the model (.86).
    assert_eq!(
        stack(&d.suite, d.b),
        sorted(vec![
            (d.alice.clone(), 857),
            (d.model.clone(), 343),
            (d.lora.clone(), 800)
        ])
    );
}

#[test]
fn diamond_merges_and_flows_through_every_level() {
    let d = diamond();
    // C (3000 upstream bps), A and B at 50 % each:
    //   via A: alice 50%·5/7 = 35.714 %, model 50%·2/7 = 14.286 %
    //   via B: bob 50%·45/65 = 34.615 %; B's upstream 15.385 % over B's pool:
    //          alice ·0.428571 = 6.593 %, model ·0.171429 = 2.637 %, lora ·0.4 = 6.154 %
    //   alice 42.308 % → 1269.23, bob 1038.46, model 16.923 % → 507.69, lora 184.62 bps;
    //   floors sum to 2998; the two left go to the largest remainders: model (.69) and lora (.62).
    let expected = sorted(vec![
        (d.alice.clone(), 1_269),
        (d.bob.clone(), 1_038),
        (d.model.clone(), 508),
        (d.lora.clone(), 185),
    ]);
    assert_eq!(stack(&d.suite, d.c), expected);
    let terms: RunTermsResponse = d.suite.query(&QueryMsg::RunTerms { id: d.c });
    assert_eq!(
        terms
            .royalty_stack
            .into_iter()
            .map(|s| (s.payee, s.bps))
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(terms.split, split(4_000, 3_000, 2_000, 500, 500));
}

#[test]
fn depth_cap_folds_deeper_royalties_into_the_last_creator() {
    let mut suite = SuiteBuilder::new()
        .with_params(havn_workflow_registry::state::Params {
            max_royalty_depth: 1,
            ..Default::default()
        })
        .build();
    let (alice, bob, model) = (
        suite.addr("alice"),
        suite.addr("bob"),
        suite.addr("model-author"),
    );
    let a = suite
        .publish(
            &alice,
            PublishMsg {
                dependencies: vec![on_artifact(ArtifactKind::Model, 90, &model, 10_000)],
                ..publish_msg("a", 1)
            },
        )
        .unwrap();
    let b = suite
        .publish(
            &bob,
            PublishMsg {
                dependencies: vec![on_workflow(a, 10_000)],
                ..publish_msg("b", 2)
            },
        )
        .unwrap();
    // One level deep: B's whole upstream share goes to A's creator; the model is beyond the cap.
    assert_eq!(stack(&suite, b), vec![(alice, 2_000)]);
}

#[test]
fn royalties_follow_the_workflow_to_its_new_owner() {
    let mut d = diamond();
    let dave = d.suite.addr("dave");
    d.suite
        .execute(
            &d.alice.clone(),
            &ExecuteMsg::TransferOwnership {
                id: d.a,
                new_creator: dave.to_string(),
            },
        )
        .unwrap();
    d.suite
        .execute(&dave, &ExecuteMsg::AcceptOwnership { id: d.a })
        .unwrap();
    let expected = sorted(vec![
        (dave, 1_269),
        (d.bob.clone(), 1_038),
        (d.model.clone(), 508),
        (d.lora.clone(), 185),
    ]);
    assert_eq!(stack(&d.suite, d.c), expected);
}

#[test]
fn a_flagged_upstream_earns_nothing_while_flagged() {
    let mut d = diamond();
    d.suite
        .admin_execute(&ExecuteMsg::Flag {
            id: d.a,
            reason: FlagReason::Stolen,
            note: None,
        })
        .unwrap();
    let treasury = d.suite.treasury.clone();
    assert_eq!(
        stack(&d.suite, d.c),
        sorted(vec![
            (treasury, 1_269),
            (d.bob.clone(), 1_038),
            (d.model.clone(), 508),
            (d.lora.clone(), 185)
        ])
    );
    // A derivative of B is still runnable; B itself is unaffected apart from A's share.
    let terms: RunTermsResponse = d.suite.query(&QueryMsg::RunTerms { id: d.b });
    assert!(terms.runnable);
    d.suite
        .admin_execute(&ExecuteMsg::Unflag { id: d.a })
        .unwrap();
    assert!(stack(&d.suite, d.c).contains(&(d.alice.clone(), 1_269)));
}
