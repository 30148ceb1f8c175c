use cosmwasm_std::Uint128;
use havn_types::{Asset, Split};
use havn_workflow_registry::msg::{
    ConfigResponse, LineageResponse, PublishMsg, QueryMsg, RunTermsResponse, VersionsResponse,
    WorkflowsResponse,
};
use havn_workflow_registry::state::{ArtifactKind, Params};

use crate::suite::*;

fn ids(res: WorkflowsResponse) -> Vec<u64> {
    res.workflows.into_iter().map(|w| w.id).collect()
}

#[test]
fn config_and_params() {
    let suite = SuiteBuilder::new().build();
    let config: ConfigResponse = suite.query(&QueryMsg::Config {});
    assert_eq!(config.admin, suite.admin);
    assert_eq!(config.treasury, suite.treasury);
    assert_eq!(config.asset, Asset::Native(DENOM.into()));
    assert_eq!(config.next_id, 1);
    let params: Params = suite.query(&QueryMsg::Params {});
    assert_eq!(
        params.default_split,
        Split {
            creator: 4_500,
            upstream: 2_000,
            node: 2_500,
            validator: 500,
            treasury: 500
        }
    );
    assert_eq!(
        (
            params.max_dependencies,
            params.max_royalty_depth,
            params.max_royalty_payees
        ),
        (8, 4, 32)
    );
}

#[test]
fn pagination_is_capped() {
    let mut suite = SuiteBuilder::new().build();
    let (alice, bob) = (suite.addr("alice"), suite.addr("bob"));
    for i in 0..35 {
        let who = if i % 2 == 0 {
            alice.clone()
        } else {
            bob.clone()
        };
        suite
            .publish(&who, publish_msg(&format!("wf{i}"), i))
            .unwrap();
    }
    let all = |start_after, limit| QueryMsg::Workflows { start_after, limit };
    assert_eq!(
        ids(suite.query(&all(None, None))),
        (1..=10).collect::<Vec<_>>(),
        "default 10"
    );
    assert_eq!(
        ids(suite.query(&all(None, Some(100)))).len(),
        30,
        "at most 30"
    );
    assert_eq!(
        ids(suite.query(&all(Some(30), Some(100)))),
        vec![31, 32, 33, 34, 35]
    );

    let by = |creator: &cosmwasm_std::Addr, start_after, limit| QueryMsg::WorkflowsByCreator {
        creator: creator.to_string(),
        start_after,
        limit,
    };
    let alices = ids(suite.query(&by(&alice, None, Some(100))));
    assert_eq!(alices.len(), 18);
    assert!(alices.iter().all(|id| id % 2 == 1));
    assert_eq!(
        ids(suite.query(&by(&bob, Some(10), Some(3)))),
        vec![12, 14, 16]
    );
    assert!(suite
        .query_err(&by(&cosmwasm_std::Addr::unchecked("nope"), None, None))
        .contains("Error decoding bech32"));

    let alice_id = 1;
    for seed in 100..140 {
        suite
            .execute(
                &alice,
                &havn_workflow_registry::msg::ExecuteMsg::NewVersion {
                    id: alice_id,
                    content_hash: hash(seed),
                    fingerprint: Some(havn_types::fingerprint::placeholder(&hash(seed))),
                    artifacts: vec![],
                },
            )
            .unwrap();
    }
    let versions: VersionsResponse = suite.query(&QueryMsg::Versions {
        id: alice_id,
        start_after: Some(5),
        limit: Some(100),
    });
    assert_eq!(versions.versions.first().map(|v| v.version), Some(6));
    assert_eq!(versions.versions.len(), 30);
}

#[test]
fn unknown_and_malformed_lookups_are_clear_errors() {
    let suite = SuiteBuilder::new().build();
    assert!(suite
        .query_err(&QueryMsg::Workflow { id: 4 })
        .contains("workflow 4 not found"));
    assert!(suite
        .query_err(&QueryMsg::RunTerms { id: 4 })
        .contains("workflow 4 not found"));
    assert!(suite
        .query_err(&QueryMsg::RoyaltyStack { id: 4 })
        .contains("workflow 4 not found"));
    assert!(suite
        .query_err(&QueryMsg::Lineage { id: 4, depth: None })
        .contains("workflow 4 not found"));
    assert!(suite
        .query_err(&QueryMsg::Versions {
            id: 4,
            start_after: None,
            limit: None
        })
        .contains("workflow 4 not found"));
    assert!(suite
        .query_err(&QueryMsg::WorkflowByHash {
            content_hash: hash(1)
        })
        .contains("not found"));
    assert!(suite
        .query_err(&QueryMsg::WorkflowByHash {
            content_hash: "xyz".into()
        })
        .contains("Invalid"));
}

#[test]
fn run_terms_has_everything_to_price_a_run() {
    let mut suite = SuiteBuilder::new().build();
    let (alice, model) = (suite.addr("alice"), suite.addr("model-author"));
    let id = suite
        .publish(
            &alice,
            PublishMsg {
                dependencies: vec![on_artifact(ArtifactKind::Model, 9, &model, 10_000)],
                ..publish_msg("wf", 1)
            },
        )
        .unwrap();
    suite
        .execute(
            &alice,
            &havn_workflow_registry::msg::ExecuteMsg::NewVersion {
                id,
                content_hash: hash(2),
                fingerprint: Some(havn_types::fingerprint::placeholder(&hash(2))),
                artifacts: vec![],
            },
        )
        .unwrap();
    let terms: RunTermsResponse = suite.query(&QueryMsg::RunTerms { id });
    assert!(terms.runnable);
    assert_eq!((terms.version, terms.content_hash.to_hex()), (2, hash(2)));
    assert_eq!((terms.creator, terms.price), (alice, Uint128::new(100)));
    assert_eq!(terms.split, Split::DEFAULT);
    assert_eq!(terms.royalty_stack.len(), 1);
    assert_eq!(
        (
            terms.royalty_stack[0].payee.clone(),
            terms.royalty_stack[0].bps
        ),
        (model, 2_000)
    );
}

#[test]
fn lineage_walks_ancestors_breadth_first() {
    let mut suite = SuiteBuilder::new().build();
    let (alice, model) = (suite.addr("alice"), suite.addr("model-author"));
    // 1 <- 2 <- 3 <- 4, and 4 also depends on 1 directly; 4 also uses a model.
    let one = suite.publish(&alice, publish_msg("one", 1)).unwrap();
    let two = suite
        .publish(
            &alice,
            PublishMsg {
                dependencies: vec![on_workflow(one, 10_000)],
                parent: Some(one),
                ..publish_msg("two", 2)
            },
        )
        .unwrap();
    let three = suite
        .publish(
            &alice,
            PublishMsg {
                dependencies: vec![on_workflow(two, 10_000)],
                ..publish_msg("three", 3)
            },
        )
        .unwrap();
    let deps = vec![
        on_workflow(three, 4_000),
        on_workflow(one, 3_000),
        on_artifact(ArtifactKind::Model, 9, &model, 3_000),
    ];
    let four = suite
        .publish(
            &alice,
            PublishMsg {
                dependencies: deps,
                parent: Some(three),
                ..publish_msg("four", 4)
            },
        )
        .unwrap();

    let lineage: LineageResponse = suite.query(&QueryMsg::Lineage {
        id: four,
        depth: None,
    });
    let got: Vec<(u64, u8, Option<u64>)> = lineage
        .ancestors
        .iter()
        .map(|a| (a.id, a.depth, a.parent))
        .collect();
    // `one` is reached directly (depth 1) and through 3 <- 2 (depth 3): reported once, shallowest.
    assert_eq!(
        got,
        vec![(three, 1, None), (one, 1, None), (two, 2, Some(one))]
    );
    assert_eq!(lineage.artifacts.len(), 1);
    assert!(!lineage.truncated);

    let shallow: LineageResponse = suite.query(&QueryMsg::Lineage {
        id: four,
        depth: Some(1),
    });
    assert_eq!(
        shallow.ancestors.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![three, one]
    );
    let none: LineageResponse = suite.query(&QueryMsg::Lineage {
        id: one,
        depth: None,
    });
    assert!(none.ancestors.is_empty());
}

#[test]
fn lineage_is_capped_at_thirty() {
    let params = Params {
        max_dependencies: 32,
        max_royalty_payees: 64,
        ..Params::default()
    };
    let mut suite = SuiteBuilder::new().with_params(params).build();
    let alice = suite.addr("alice");
    let roots: Vec<u64> = (0..31)
        .map(|i| {
            suite
                .publish(&alice, publish_msg(&format!("root{i}"), i))
                .unwrap()
        })
        .collect();
    // 31 dependencies with weights 322 × 30 + 340 = 10 000.
    let deps = roots
        .iter()
        .enumerate()
        .map(|(i, id)| on_workflow(*id, if i == 0 { 340 } else { 322 }))
        .collect();
    let top = suite
        .publish(
            &alice,
            PublishMsg {
                dependencies: deps,
                ..publish_msg("top", 99)
            },
        )
        .unwrap();
    let lineage: LineageResponse = suite.query(&QueryMsg::Lineage {
        id: top,
        depth: None,
    });
    assert_eq!(lineage.ancestors.len(), 30);
    assert!(lineage.truncated);
}
