use cosmwasm_std::{coins, Addr, HexBinary};
use havn_types::AssetError;
use havn_workflow_registry::msg::{
    AssetsResponse, ExecuteMsg, HashOwnerResponse, PublishMsg, QueryMsg, VersionsResponse,
};
use havn_workflow_registry::state::{ArtifactKind, FlagReason, RegisteredAsset};
use havn_workflow_registry::{ContractError, MAX_ARTIFACTS};

use crate::suite::*;

fn register(kind: ArtifactKind, seed: u32, payee: Option<&Addr>) -> ExecuteMsg {
    ExecuteMsg::RegisterAsset {
        kind,
        content_hash: hash(seed),
        payee: payee.map(|p| p.to_string()),
    }
}

fn asset(suite: &Suite, seed: u32) -> RegisteredAsset {
    suite.query(&QueryMsg::Asset {
        content_hash: hash(seed),
    })
}

/// A publish whose manifest uses `artifacts` (seeds), with `deps`.
fn using(
    name: &str,
    seed: u32,
    artifacts: &[u32],
    deps: Vec<havn_workflow_registry::msg::DependencyMsg>,
) -> PublishMsg {
    PublishMsg {
        artifacts: artifacts.iter().map(|s| hash(*s)).collect(),
        dependencies: deps,
        ..publish_msg(name, seed)
    }
}

#[test]
fn an_asset_has_one_owner_and_is_listed() {
    let mut suite = SuiteBuilder::new().with_balance("bob", 10).build();
    let (bob, carol) = (suite.addr("bob"), suite.addr("carol"));
    suite
        .execute(&bob, &register(ArtifactKind::Lora, 900, None))
        .unwrap();
    suite
        .execute(&bob, &register(ArtifactKind::Model, 901, Some(&carol)))
        .unwrap();
    let a = asset(&suite, 900);
    assert_eq!(
        (a.owner.clone(), a.payee.clone(), a.kind),
        (bob.clone(), bob.clone(), ArtifactKind::Lora)
    );
    assert_eq!(a.flag, None);
    assert_eq!(asset(&suite, 901).payee, carol);
    // One hash, one owner, whoever asks second.
    assert_eq!(
        suite
            .execute(&carol, &register(ArtifactKind::Lora, 900, None))
            .unwrap_err(),
        ContractError::AssetTaken {
            hash: hash(900),
            owner: bob.to_string()
        }
    );
    assert_eq!(
        suite
            .execute(
                &bob,
                &ExecuteMsg::RegisterAsset {
                    kind: ArtifactKind::Lora,
                    content_hash: "abcd".into(),
                    payee: None
                }
            )
            .unwrap_err(),
        ContractError::InvalidContentHash {
            hash: "abcd".into()
        }
    );
    assert!(suite
        .execute(
            &bob,
            &ExecuteMsg::RegisterAsset {
                kind: ArtifactKind::Lora,
                content_hash: hash(902),
                payee: Some("not an address".into())
            }
        )
        .is_err());
    assert_eq!(
        suite
            .execute_with_funds(
                &bob,
                &register(ArtifactKind::Lora, 903, None),
                &coins(1, DENOM)
            )
            .unwrap_err(),
        ContractError::Asset(AssetError::Unexpected {
            funds: "1uhai".into()
        })
    );
    assert_eq!(suite.bank_balance(&bob), 10);
    let all: AssetsResponse = suite.query(&QueryMsg::Assets {
        start_after: None,
        limit: None,
    });
    assert_eq!(all.assets.len(), 2);
    let after: AssetsResponse = suite.query(&QueryMsg::Assets {
        start_after: Some(all.assets[0].content_hash.to_hex()),
        limit: Some(5),
    });
    assert_eq!(after.assets, all.assets[1..].to_vec());
    assert!(suite
        .query_err(&QueryMsg::Asset {
            content_hash: hash(999)
        })
        .contains("is not registered"));
}

#[test]
fn governance_flags_and_unflags_a_registration_and_nobody_else_may() {
    let mut suite = SuiteBuilder::new().build();
    let bob = suite.addr("bob");
    suite
        .execute(&bob, &register(ArtifactKind::Model, 900, None))
        .unwrap();
    let flag = |seed: u32, note: Option<String>| ExecuteMsg::FlagAsset {
        content_hash: hash(seed),
        reason: FlagReason::Stolen,
        note,
    };
    let unflag = |seed: u32| ExecuteMsg::UnflagAsset {
        content_hash: hash(seed),
    };
    assert_eq!(
        suite.execute(&bob, &flag(900, None)).unwrap_err(),
        ContractError::NotAdmin
    );
    assert_eq!(
        suite.execute(&bob, &unflag(900)).unwrap_err(),
        ContractError::NotAdmin
    );
    assert_eq!(
        suite.admin_execute(&flag(901, None)).unwrap_err(),
        ContractError::UnknownAsset { hash: hash(901) }
    );
    assert_eq!(
        suite
            .admin_execute(&flag(900, Some("x".repeat(257))))
            .unwrap_err(),
        ContractError::NoteTooLong { len: 257, max: 256 }
    );
    assert_eq!(
        suite.admin_execute(&unflag(900)).unwrap_err(),
        ContractError::AssetNotFlagged { hash: hash(900) }
    );
    suite
        .admin_execute(&flag(900, Some("a copy of carol's model".into())))
        .unwrap();
    assert_eq!(asset(&suite, 900).flag.unwrap().reason, FlagReason::Stolen);
    assert_eq!(
        suite.admin_execute(&flag(900, None)).unwrap_err(),
        ContractError::AssetAlreadyFlagged { hash: hash(900) }
    );
    suite.admin_execute(&unflag(900)).unwrap();
    assert_eq!(asset(&suite, 900).flag, None);
}

#[test]
fn a_registered_asset_the_manifest_uses_must_be_credited_to_its_payee() {
    let mut suite = SuiteBuilder::new().build();
    let (alice, bob) = (suite.addr("alice"), suite.addr("bob"));
    suite
        .execute(&bob, &register(ArtifactKind::Lora, 900, None))
        .unwrap();
    let uncredited = ContractError::UncreditedAsset {
        hash: hash(900),
        kind: "lora",
        payee: bob.to_string(),
    };
    // Left out: refused, naming the dependency to add. Nothing is published.
    assert_eq!(
        suite
            .publish(&alice, using("skips", 1, &[900, 5], vec![]))
            .unwrap_err(),
        uncredited
    );
    // Credited to someone else: refused.
    assert_eq!(
        suite
            .publish(
                &alice,
                using(
                    "steals",
                    1,
                    &[900],
                    vec![on_artifact(ArtifactKind::Lora, 900, &alice, 10_000)]
                ),
            )
            .unwrap_err(),
        ContractError::AssetPayeeMismatch {
            hash: hash(900),
            payee: bob.to_string()
        }
    );
    // Even unused, a registered asset is credited to its payee only.
    assert_eq!(
        suite
            .publish(
                &alice,
                using(
                    "claims",
                    1,
                    &[],
                    vec![on_artifact(ArtifactKind::Lora, 900, &alice, 10_000)]
                ),
            )
            .unwrap_err(),
        ContractError::AssetPayeeMismatch {
            hash: hash(900),
            payee: bob.to_string()
        }
    );
    // Declared to its payee: published, the set recorded sorted and once each.
    let a = suite
        .publish(
            &alice,
            using(
                "credits",
                1,
                &[900, 5, 900],
                vec![on_artifact(ArtifactKind::Lora, 900, &bob, 10_000)],
            ),
        )
        .unwrap();
    let owner: HashOwnerResponse = suite.query(&QueryMsg::WorkflowByHash {
        content_hash: hash(1),
    });
    let mut want: Vec<HexBinary> = [5, 900]
        .iter()
        .map(|s| HexBinary::from_hex(&hash(*s)).unwrap())
        .collect();
    want.sort();
    assert_eq!((owner.id, owner.artifacts.clone()), (a, want.clone()));
    let versions: VersionsResponse = suite.query(&QueryMsg::Versions {
        id: a,
        start_after: None,
        limit: None,
    });
    assert_eq!(versions.versions[0].artifacts, want);
    // Built on a workflow that credits it: its stack pays the LoRA.
    suite
        .publish(
            &alice,
            using("derived", 2, &[900], vec![on_workflow(a, 10_000)]),
        )
        .unwrap();
    // Not built on it: refused.
    let other = suite
        .publish(&alice, using("other", 3, &[], vec![]))
        .unwrap();
    assert_eq!(
        suite
            .publish(
                &alice,
                using("wrong-base", 4, &[900], vec![on_workflow(other, 10_000)])
            )
            .unwrap_err(),
        uncredited
    );
    // Unregistered artifacts ask for nothing; a flagged (stolen) registration is not enforced.
    suite
        .publish(&alice, using("free", 6, &[7, 8], vec![]))
        .unwrap();
    suite
        .admin_execute(&ExecuteMsg::FlagAsset {
            content_hash: hash(900),
            reason: FlagReason::Stolen,
            note: None,
        })
        .unwrap();
    suite
        .publish(&alice, using("after-flag", 9, &[900], vec![]))
        .unwrap();
}

#[test]
fn a_registration_binds_later_versions_not_earlier_ones() {
    let mut suite = SuiteBuilder::new().build();
    let (alice, bob) = (suite.addr("alice"), suite.addr("bob"));
    // Published while the LoRA was unregistered: it stands, and its record is unchanged.
    let id = suite
        .publish(&alice, using("early", 1, &[900], vec![]))
        .unwrap();
    suite
        .execute(&bob, &register(ArtifactKind::Lora, 900, None))
        .unwrap();
    let owner: HashOwnerResponse = suite.query(&QueryMsg::WorkflowByHash {
        content_hash: hash(1),
    });
    assert_eq!(owner.artifacts.len(), 1);
    // A new version using it now must credit it, and its dependencies are fixed: refused.
    let version = |seed: u32, artifacts: &[u32]| ExecuteMsg::NewVersion {
        id,
        content_hash: hash(seed),
        fingerprint: Some(havn_types::fingerprint::placeholder(&hash(seed))),
        artifacts: artifacts.iter().map(|s| hash(*s)).collect(),
    };
    assert_eq!(
        suite.execute(&alice, &version(2, &[900])).unwrap_err(),
        ContractError::UncreditedAsset {
            hash: hash(900),
            kind: "lora",
            payee: bob.to_string()
        }
    );
    assert_eq!(suite.workflow(id).version, 1);
    // Without it: fine, the new set recorded.
    suite.execute(&alice, &version(2, &[7])).unwrap();
    let owner: HashOwnerResponse = suite.query(&QueryMsg::WorkflowByHash {
        content_hash: hash(2),
    });
    assert_eq!(
        (owner.version, owner.artifacts),
        (2, vec![HexBinary::from_hex(&hash(7)).unwrap()])
    );
}

#[test]
fn an_artifact_set_is_bounded_and_well_formed() {
    let mut suite = SuiteBuilder::new().build();
    let alice = suite.addr("alice");
    let many: Vec<u32> = (0..=MAX_ARTIFACTS as u32).collect();
    assert_eq!(
        suite
            .publish(&alice, using("many", 1, &many, vec![]))
            .unwrap_err(),
        ContractError::TooManyArtifacts {
            count: MAX_ARTIFACTS + 1,
            max: MAX_ARTIFACTS
        }
    );
    assert_eq!(
        suite
            .publish(
                &alice,
                PublishMsg {
                    artifacts: vec!["zz".into()],
                    ..publish_msg("bad", 1)
                }
            )
            .unwrap_err(),
        ContractError::InvalidContentHash { hash: "zz".into() }
    );
    let max: Vec<u32> = (0..MAX_ARTIFACTS as u32).collect();
    suite
        .publish(&alice, using("max", 1, &max, vec![]))
        .unwrap();
}
