//! Derivative detection and copy disputes, on synthetic fingerprints whose overlap is known:
//! `features(n, tag)` shares the first `n` of 20 features with every other set and adds its own.
//! (Real manifests' fingerprints: integration-tests/tests/derivatives.rs.)

use cosmwasm_std::{coins, HexBinary, Uint128};
use havn_types::fingerprint::{decode, encode, signature, similarity};
use havn_workflow_registry::msg::{
    DerivativeRules, Dispute, DisputeStatus, ExecuteMsg, FingerprintResponse, OnMatch, PublishMsg,
    QueryMsg, RunTermsResponse, SimilarResponse, SimilarTo,
};
use havn_workflow_registry::state::Params;
use havn_workflow_registry::ContractError;

use crate::suite::{hash, on_workflow, publish_msg, Suite, SuiteBuilder, DENOM};

const BOND: u128 = 100_000_000;

/// A fingerprint of 20 features: the first `shared` common to every call, the rest `tag`'s own.
/// Two such sets with `shared` s have Jaccard similarity s / (40 − s).
fn fp(shared: usize, tag: &str) -> HexBinary {
    let features: Vec<String> = (0..20)
        .map(|i| match i < shared {
            true => format!("common/{i}"),
            false => format!("{tag}/{i}"),
        })
        .collect();
    encode(&signature(features.iter().map(|f| f.as_bytes()))).into()
}

fn sim(a: &HexBinary, b: &HexBinary) -> u16 {
    similarity(&decode(a).unwrap(), &decode(b).unwrap())
}

fn with_fp(name: &str, seed: u32, fingerprint: HexBinary) -> PublishMsg {
    PublishMsg {
        fingerprint: Some(fingerprint),
        ..publish_msg(name, seed)
    }
}

fn rules(s: &Suite) -> DerivativeRules {
    s.query::<Params>(&QueryMsg::Params {}).derivatives
}

fn set_rules(s: &mut Suite, rules: DerivativeRules) {
    s.admin_execute(&ExecuteMsg::UpdateDerivativeRules(rules))
        .unwrap();
}

fn funded() -> Suite {
    SuiteBuilder::new()
        .with_balance("claimant", 10 * BOND)
        .with_balance("copier", 10 * BOND)
        .with_balance("alice", 10 * BOND)
        .build()
}

#[test]
fn an_undeclared_copy_is_refused_with_the_match_and_a_declared_one_publishes() {
    let mut s = SuiteBuilder::new().build();
    let (alice, bob) = (s.addr("alice"), s.addr("bob"));
    let original = s
        .publish(&alice, with_fp("original", 1, fp(20, "a")))
        .unwrap();
    // 19 of 20 features shared: J = 19/21, about 9 048 bps.
    let similarity_bps = sim(&fp(20, "a"), &fp(19, "b"));
    assert!(
        (8_000..=10_000).contains(&similarity_bps),
        "{similarity_bps}"
    );
    assert_eq!(
        s.publish(&bob, with_fp("copy", 2, fp(19, "b")))
            .unwrap_err(),
        ContractError::UndeclaredDerivative {
            candidate: original,
            version: 1,
            similarity_bps,
            threshold_bps: 7_000,
        }
    );
    assert_eq!(s.next_id(), original + 1, "nothing stored");

    // Declared as a dependency and parent: published.
    let derived = s
        .publish(
            &bob,
            PublishMsg {
                dependencies: vec![on_workflow(original, 10_000)],
                parent: Some(original),
                ..with_fp("copy", 2, fp(19, "b"))
            },
        )
        .unwrap();
    // Building on the derivative declares the original too (an ancestor).
    s.publish(
        &bob,
        PublishMsg {
            dependencies: vec![on_workflow(derived, 10_000)],
            ..with_fp("copy of the copy", 3, fp(18, "c"))
        },
    )
    .unwrap();
    // 8 of 20 shared (J = 8/32 = 2 500 bps): unrelated, published.
    s.publish(&bob, with_fp("unrelated", 4, fp(8, "d")))
        .unwrap();
}

#[test]
fn fingerprints_are_required_while_detection_is_on_and_must_be_512_bytes() {
    let mut s = SuiteBuilder::new().build();
    let alice = s.addr("alice");
    let bare = PublishMsg {
        fingerprint: None,
        ..publish_msg("bare", 1)
    };
    assert_eq!(
        s.publish(&alice, bare.clone()).unwrap_err(),
        ContractError::FingerprintRequired
    );
    assert_eq!(
        s.publish(&alice, with_fp("short", 1, HexBinary::from(vec![0u8; 508])))
            .unwrap_err(),
        ContractError::InvalidFingerprint {
            len: 508,
            expected: 512
        }
    );
    // Detection off: a fingerprint is optional, and a given one is still indexed.
    set_rules(
        &mut s,
        DerivativeRules {
            threshold_bps: 0,
            ..Default::default()
        },
    );
    let id = s.publish(&alice, bare).unwrap();
    let f: FingerprintResponse = s.query(&QueryMsg::Fingerprint { id, version: None });
    assert_eq!((f.version, f.fingerprint), (1, None));
    let id = s.publish(&alice, with_fp("given", 2, fp(20, "a"))).unwrap();
    let f: FingerprintResponse = s.query(&QueryMsg::Fingerprint { id, version: None });
    assert_eq!(f.fingerprint, Some(fp(20, "a")));
    assert!(s
        .query_err(&QueryMsg::Fingerprint {
            id,
            version: Some(9)
        })
        .contains("not found"));
}

#[test]
fn the_derive_rule_publishes_an_undeclared_copy_as_a_derivative_of_its_match() {
    let mut s = SuiteBuilder::new().build();
    let (alice, bob) = (s.addr("alice"), s.addr("bob"));
    let original = s
        .publish(&alice, with_fp("original", 1, fp(20, "a")))
        .unwrap();
    let other = s.publish(&alice, with_fp("other", 2, fp(0, "z"))).unwrap();
    set_rules(
        &mut s,
        DerivativeRules {
            on_match: OnMatch::Derive { weight_bps: 3_000 },
            ..Default::default()
        },
    );
    // No dependencies: the match takes the whole upstream pool, at the default split's share.
    let copy = s.publish(&bob, with_fp("copy", 3, fp(19, "b"))).unwrap();
    let w = s.workflow(copy);
    assert_eq!(w.parent, Some(original));
    assert_eq!(w.dependencies.len(), 1);
    assert_eq!(w.dependencies[0].weight_bps, 10_000);
    assert_eq!(w.split.upstream, 2_000);
    // With a declared dependency: scaled to 70 %, the match gets 30 %.
    let copy = s
        .publish(
            &bob,
            PublishMsg {
                dependencies: vec![on_workflow(other, 10_000)],
                ..with_fp("copy 2", 4, fp(19, "c"))
            },
        )
        .unwrap();
    let w = s.workflow(copy);
    let weights: Vec<u16> = w.dependencies.iter().map(|d| d.weight_bps).collect();
    assert_eq!(weights, vec![7_000, 3_000]);
    assert_eq!(w.parent, Some(original));
}

#[test]
fn a_new_version_may_resemble_its_own_workflow_but_not_an_undeclared_one() {
    let mut s = SuiteBuilder::new().build();
    let (alice, bob) = (s.addr("alice"), s.addr("bob"));
    let original = s
        .publish(&alice, with_fp("original", 1, fp(20, "a")))
        .unwrap();
    let mine = s.publish(&bob, with_fp("mine", 2, fp(0, "m"))).unwrap();
    let version = |seed: u32, fingerprint: HexBinary| ExecuteMsg::NewVersion {
        id: mine,
        content_hash: hash(seed),
        artifacts: vec![],
        fingerprint: Some(fingerprint),
    };
    // Close to its own version 1: fine.
    s.execute(&bob, &version(3, fp(2, "m"))).unwrap();
    // Turning into the original: refused, dependencies are fixed.
    assert_eq!(
        s.execute(&bob, &version(4, fp(19, "x"))).unwrap_err(),
        ContractError::VersionMatches {
            candidate: original,
            version: 1,
            similarity_bps: sim(&fp(20, "a"), &fp(19, "x")),
            threshold_bps: 7_000,
        }
    );
    assert_eq!(
        s.execute(
            &bob,
            &ExecuteMsg::NewVersion {
                id: mine,
                content_hash: hash(5),
                artifacts: vec![],
                fingerprint: None,
            }
        )
        .unwrap_err(),
        ContractError::FingerprintRequired
    );
    assert_eq!(s.workflow(mine).version, 2);
}

#[test]
fn similar_lists_the_closest_and_buckets_keep_their_earliest_members() {
    let mut s = SuiteBuilder::new().build();
    let alice = s.addr("alice");
    set_rules(
        &mut s,
        DerivativeRules {
            threshold_bps: 0,
            bucket_cap: 3,
            ..Default::default()
        },
    );
    // Five identical fingerprints: buckets of 3 keep ids 1 to 3.
    for seed in 1..=5 {
        s.publish(&alice, with_fp("same", seed, fp(20, "a")))
            .unwrap();
    }
    let near = s.publish(&alice, with_fp("near", 6, fp(16, "n"))).unwrap();
    let r: SimilarResponse = s.query(&QueryMsg::Similar {
        to: SimilarTo::Fingerprint {
            fingerprint: fp(20, "a"),
        },
        limit: None,
    });
    let ids: Vec<(u64, u16)> = r.matches.iter().map(|m| (m.id, m.similarity_bps)).collect();
    assert_eq!(r.threshold_bps, 0);
    assert_eq!(&ids[..3], &[(1, 10_000), (2, 10_000), (3, 10_000)]);
    assert!(r.matches.iter().all(|m| !m.over_threshold));
    assert!(!ids.iter().any(|(id, _)| *id == 4 || *id == 5));
    // A workflow's own neighbours, itself left out.
    let r: SimilarResponse = s.query(&QueryMsg::Similar {
        to: SimilarTo::Workflow { id: near },
        limit: Some(1),
    });
    assert_eq!(r.matches.len(), 1);
    assert!(r.matches[0].id <= 3 && r.matches[0].similarity_bps < 10_000);
    assert!(s
        .query_err(&QueryMsg::Similar {
            to: SimilarTo::Fingerprint {
                fingerprint: HexBinary::from(vec![1u8; 3]),
            },
            limit: None,
        })
        .contains("a fingerprint is 512 bytes; got 3"));
}

#[test]
fn after_a_band_layout_change_reindex_makes_earlier_versions_findable_again() {
    let mut s = SuiteBuilder::new().build();
    let (alice, bob) = (s.addr("alice"), s.addr("bob"));
    let original = s
        .publish(&alice, with_fp("original", 1, fp(20, "a")))
        .unwrap();
    set_rules(
        &mut s,
        DerivativeRules {
            band_rows: 8,
            ..Default::default()
        },
    );
    // The original sits in buckets of 4 rows: under 8 rows nothing finds it.
    s.publish(&bob, with_fp("copy", 2, fp(19, "b"))).unwrap();
    s.execute(
        &bob,
        &ExecuteMsg::Reindex {
            start_after: None,
            limit: None,
        },
    )
    .unwrap();
    assert_eq!(
        s.publish(&bob, with_fp("copy 2", 3, fp(19, "c")))
            .unwrap_err(),
        ContractError::UndeclaredDerivative {
            candidate: original,
            version: 1,
            similarity_bps: sim(&fp(20, "a"), &fp(19, "c")),
            threshold_bps: 7_000,
        }
    );
}

#[test]
fn governance_alone_sets_the_rules_and_bad_ones_are_refused() {
    let mut s = SuiteBuilder::new().build();
    let alice = s.addr("alice");
    assert_eq!(rules(&s), DerivativeRules::default());
    assert_eq!(
        s.execute(
            &alice,
            &ExecuteMsg::UpdateDerivativeRules(DerivativeRules::default())
        )
        .unwrap_err(),
        ContractError::NotAdmin
    );
    let bad = [
        (
            DerivativeRules {
                threshold_bps: 10_001,
                ..Default::default()
            },
            "threshold_bps must be at most 10000",
        ),
        (
            DerivativeRules {
                band_rows: 3,
                ..Default::default()
            },
            "band_rows must be 1, 2, 4, 8 or 16",
        ),
        (
            DerivativeRules {
                bucket_cap: 65,
                ..Default::default()
            },
            "bucket_cap must be 1..=64",
        ),
        (
            DerivativeRules {
                max_candidates: 0,
                ..Default::default()
            },
            "max_candidates must be 1..=64",
        ),
        (
            DerivativeRules {
                on_match: OnMatch::Derive { weight_bps: 0 },
                ..Default::default()
            },
            "a derivative's weight must be 1..=10000",
        ),
        (
            DerivativeRules {
                dispute_bond: Uint128::zero(),
                ..Default::default()
            },
            "dispute_bond must be above 0",
        ),
        (
            DerivativeRules {
                dispute_reward_bps: 10_001,
                ..Default::default()
            },
            "dispute_reward_bps must be at most 10000",
        ),
    ];
    for (rules_, reason) in bad {
        let err = s
            .admin_execute(&ExecuteMsg::UpdateDerivativeRules(rules_))
            .unwrap_err()
            .message();
        assert!(err.contains(reason), "{err}");
    }
    assert_eq!(rules(&s), DerivativeRules::default());
}

/// A copy the index cannot see (here: published while detection was off), disputed.
fn disputed() -> (Suite, u64, u64) {
    let mut s = funded();
    let (alice, copier) = (s.addr("alice"), s.addr("copier"));
    let original = s
        .publish(&alice, with_fp("original", 1, fp(20, "a")))
        .unwrap();
    set_rules(
        &mut s,
        DerivativeRules {
            threshold_bps: 0,
            ..Default::default()
        },
    );
    let copy = s.publish(&copier, with_fp("copy", 2, fp(19, "b"))).unwrap();
    set_rules(&mut s, DerivativeRules::default());
    (s, original, copy)
}

fn open(s: &mut Suite, copy: u64, original: u64, bond: u128) -> Result<u64, crate::suite::Failure> {
    let claimant = s.addr("claimant");
    let res = s.execute_with_funds(
        &claimant,
        &ExecuteMsg::OpenDispute {
            copy,
            original,
            note: Some("9048 bps, undeclared".into()),
        },
        &coins(bond, DENOM),
    )?;
    Ok(res
        .events
        .iter()
        .flat_map(|e| &e.attributes)
        .find(|a| a.key == "dispute_id")
        .unwrap()
        .value
        .parse()
        .unwrap())
}

#[test]
fn an_upheld_dispute_pays_the_claimant_and_redirects_the_copys_creator_share() {
    let (mut s, original, copy) = disputed();
    let (claimant, copier, alice) = (s.addr("claimant"), s.addr("copier"), s.addr("alice"));
    let id = open(&mut s, copy, original, BOND).unwrap();
    let d: Dispute = s.query(&QueryMsg::Dispute { id });
    assert_eq!(
        (d.copy, d.original, d.status),
        (copy, original, DisputeStatus::Open)
    );
    assert_eq!(
        (d.copy_hash.to_hex(), d.original_hash.to_hex()),
        (hash(2), hash(1))
    );
    s.execute_with_funds(
        &copier,
        &ExecuteMsg::DefendDispute { id },
        &coins(BOND, DENOM),
    )
    .unwrap();
    let treasury = s.bank_balance(&s.treasury.clone());
    s.admin_execute(&ExecuteMsg::ResolveDispute { id, upheld: true })
        .unwrap();
    // Bond back plus half the copier's; the other half to the treasury.
    assert_eq!(s.bank_balance(&claimant), 10 * BOND + BOND / 2);
    assert_eq!(s.bank_balance(&copier), 9 * BOND);
    assert_eq!(s.bank_balance(&s.treasury.clone()), treasury + BOND / 2);
    assert_eq!(s.bank_balance(&s.registry.clone()), 0);
    assert_eq!(s.workflow(copy).copy_of, Some(original));
    let terms: RunTermsResponse = s.query(&QueryMsg::RunTerms { id: copy });
    assert_eq!(terms.creator, alice);
    assert!(
        terms.runnable,
        "callers of the copy keep working; the original's creator earns"
    );
    let d: Dispute = s.query(&QueryMsg::Dispute { id });
    assert_eq!(d.status, DisputeStatus::Upheld);
    // Decided: no second decision, and no new dispute on a marked copy.
    assert_eq!(
        s.admin_execute(&ExecuteMsg::ResolveDispute { id, upheld: false })
            .unwrap_err(),
        ContractError::DisputeClosed { id }
    );
    assert_eq!(
        open(&mut s, copy, original, BOND).unwrap_err(),
        ContractError::AlreadyACopy {
            id: copy,
            of: original
        }
    );
}

#[test]
fn a_rejected_dispute_pays_the_accused_even_unanswered() {
    let (mut s, original, copy) = disputed();
    let (claimant, copier) = (s.addr("claimant"), s.addr("copier"));
    let id = open(&mut s, copy, original, BOND).unwrap();
    let treasury = s.bank_balance(&s.treasury.clone());
    s.admin_execute(&ExecuteMsg::ResolveDispute { id, upheld: false })
        .unwrap();
    assert_eq!(s.bank_balance(&claimant), 9 * BOND);
    assert_eq!(s.bank_balance(&copier), 10 * BOND + BOND / 2);
    assert_eq!(s.bank_balance(&s.treasury.clone()), treasury + BOND / 2);
    assert_eq!(s.workflow(copy).copy_of, None);
    let terms: RunTermsResponse = s.query(&QueryMsg::RunTerms { id: copy });
    assert_eq!(terms.creator, copier);
    // Closed: the workflow may be disputed again.
    let again = open(&mut s, copy, original, BOND).unwrap();
    assert_eq!(again, id + 1);
}

#[test]
fn bad_dispute_calls_are_refused_and_move_nothing() {
    let (mut s, original, copy) = disputed();
    let (alice, copier, claimant) = (s.addr("alice"), s.addr("copier"), s.addr("claimant"));
    let cases = [
        (
            copy,
            original,
            BOND - 1,
            ContractError::WrongBond {
                required: Uint128::new(BOND),
                paid: Uint128::new(BOND - 1),
            },
        ),
        (copy, copy, BOND, ContractError::SelfDispute { id: copy }),
        (
            original,
            copy,
            BOND,
            ContractError::OriginalIsNewer {
                copy: original,
                original: copy,
            },
        ),
        (copy, 99, BOND, ContractError::UnknownWorkflow { id: 99 }),
    ];
    for (c, o, bond, want) in cases {
        assert_eq!(open(&mut s, c, o, bond).unwrap_err(), want);
    }
    assert_eq!(s.bank_balance(&claimant), 10 * BOND);
    // A declared derivative is no copy.
    let derived = s
        .publish(
            &alice,
            PublishMsg {
                dependencies: vec![on_workflow(original, 10_000)],
                ..with_fp("derived", 3, fp(0, "d"))
            },
        )
        .unwrap();
    assert_eq!(
        open(&mut s, derived, original, BOND).unwrap_err(),
        ContractError::AlreadyDeclared {
            copy: derived,
            original
        }
    );
    let id = open(&mut s, copy, original, BOND).unwrap();
    assert_eq!(
        open(&mut s, copy, original, BOND).unwrap_err(),
        ContractError::DisputeOpen {
            id: copy,
            dispute: id
        }
    );
    // Only the accused workflow's creator defends, once, with the same bond.
    assert_eq!(
        s.execute_with_funds(
            &alice,
            &ExecuteMsg::DefendDispute { id },
            &coins(BOND, DENOM)
        )
        .unwrap_err(),
        ContractError::NotCreator { id: copy }
    );
    assert_eq!(
        s.execute_with_funds(&copier, &ExecuteMsg::DefendDispute { id }, &coins(1, DENOM))
            .unwrap_err(),
        ContractError::WrongBond {
            required: Uint128::new(BOND),
            paid: Uint128::one()
        }
    );
    s.execute_with_funds(
        &copier,
        &ExecuteMsg::DefendDispute { id },
        &coins(BOND, DENOM),
    )
    .unwrap();
    assert_eq!(
        s.execute_with_funds(
            &copier,
            &ExecuteMsg::DefendDispute { id },
            &coins(BOND, DENOM)
        )
        .unwrap_err(),
        ContractError::AlreadyDefended { id }
    );
    assert_eq!(
        s.execute(&copier, &ExecuteMsg::ResolveDispute { id, upheld: false })
            .unwrap_err(),
        ContractError::NotAdmin
    );
    assert_eq!(
        s.admin_execute(&ExecuteMsg::ResolveDispute {
            id: 42,
            upheld: true
        })
        .unwrap_err(),
        ContractError::UnknownDispute { id: 42 }
    );
    assert_eq!(
        s.execute_with_funds(
            &claimant,
            &ExecuteMsg::ResolveDispute { id, upheld: true },
            &coins(1, DENOM)
        )
        .unwrap_err()
        .message(),
        "this message takes no funds; attached: 1uhai"
    );
    assert_eq!(
        s.bank_balance(&s.registry.clone()),
        2 * BOND,
        "both bonds held"
    );
}

#[test]
fn disputes_bond_through_the_cw20_too() {
    let mut s = SuiteBuilder::new()
        .with_cw20()
        .with_balance("claimant", 10 * BOND)
        .build();
    let (alice, claimant) = (s.addr("alice"), s.addr("claimant"));
    s.publish(&alice, with_fp("original", 1, fp(20, "a")))
        .unwrap();
    s.publish(&alice, with_fp("unrelated", 2, fp(0, "b")))
        .unwrap();
    // Native funds are the wrong asset here.
    assert!(s
        .execute(
            &claimant,
            &ExecuteMsg::OpenDispute {
                copy: 2,
                original: 1,
                note: None
            }
        )
        .unwrap_err()
        .message()
        .contains("pay through that token's Send"));
    let token = s.token.clone().unwrap();
    s.send_cw20(
        &token,
        &claimant,
        BOND,
        &havn_workflow_registry::msg::ReceiveMsg::OpenDispute {
            copy: 2,
            original: 1,
            note: None,
        },
    )
    .unwrap();
    assert_eq!(s.cw20_balance(&s.registry.clone()), BOND);
    s.admin_execute(&ExecuteMsg::ResolveDispute {
        id: 1,
        upheld: false,
    })
    .unwrap();
    assert_eq!(s.cw20_balance(&claimant), 9 * BOND);
    assert_eq!(s.cw20_balance(&alice), BOND / 2);
    assert_eq!(s.cw20_balance(&s.registry.clone()), 0);
}
