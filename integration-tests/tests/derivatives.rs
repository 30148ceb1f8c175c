//! Derivative detection on real manifests, at the shipped rules: fingerprints from
//! `havn_workflow::fingerprint` (what `havn publish` sends), the registry's index and threshold,
//! a declared derivative paying its parent through a settled job, governance changing the rules,
//! and a copy dispute decided by a vote.

use cosmwasm_std::{coins, HexBinary};
use havn_governance::msg::Action;
use havn_integration_tests::{Suite, SuiteBuilder, DENOM, HAI};
use havn_types::Verdict;
use havn_workflow_registry::msg::{
    DependencyMsg, DependencyTarget, DerivativeRules, ExecuteMsg as RegistryMsg, OnMatch,
    PublishMsg, QueryMsg as RegistryQuery, SimilarResponse, SimilarTo,
};
use havn_workflow_registry::ContractError;
use serde_json::{json, Value};

/// A manifest of the fingerprint test vectors (fixed fake artifact hashes), as text.
fn vector(name: &str) -> String {
    let vectors: Value = serde_json::from_str(include_str!(
        "../../mesh/workflow/testdata/fingerprint_vectors.json"
    ))
    .unwrap();
    let m = vectors["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap();
    m["manifest"].as_str().unwrap().to_string()
}

/// The text-to-image manifest.
fn base() -> Value {
    serde_json::from_str(&vector("image")).unwrap()
}

/// JSON with every object's keys in reverse order: the same manifest, other bytes.
fn reversed(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| format!("{}:{}", json!(k), reversed(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(reversed).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// The fingerprint and content hash a creator's `havn publish` sends for these bytes.
fn publish(name: &str, bytes: &[u8]) -> PublishMsg {
    let manifest = havn_workflow::check(bytes).unwrap();
    let sig = havn_workflow::fingerprint::fingerprint(&manifest).unwrap();
    PublishMsg {
        name: name.into(),
        content_hash: HexBinary::from(havn_mesh_common::sha256(bytes).as_slice()).to_hex(),
        price: cosmwasm_std::Uint128::new(10 * HAI),
        split: None,
        dependencies: vec![],
        parent: None,
        artifacts: vec![],
        metadata: None,
        fingerprint: Some(havn_types::fingerprint::encode(&sig).into()),
    }
}

/// `bps` of `fee`, as payout rounds it.
fn part(fee: u128, bps: u128) -> u128 {
    fee * bps / 10_000
}

fn workflow(s: &Suite, id: u64) -> havn_workflow_registry::msg::Workflow {
    s.query(&s.registry, &RegistryQuery::Workflow { id })
}

fn value(name: &str, v: &Value) -> PublishMsg {
    publish(name, v.to_string().as_bytes())
}

fn similarity(a: &PublishMsg, b: &PublishMsg) -> u16 {
    let d =
        |m: &PublishMsg| havn_types::fingerprint::decode(m.fingerprint.as_ref().unwrap()).unwrap();
    havn_types::fingerprint::similarity(&d(a), &d(b))
}

fn refused(original: u64, version: u32, similarity_bps: u16, threshold_bps: u16) -> ContractError {
    ContractError::UndeclaredDerivative {
        candidate: original,
        version,
        similarity_bps,
        threshold_bps,
    }
}

/// The copies the issue names: one parameter changed, a value renamed, the JSON reordered, a
/// sampler default swapped.
fn copies() -> Vec<(&'static str, PublishMsg)> {
    let mut one_param = base();
    one_param["pipeline"]["steps"][3]["steps"] = json!(20);
    // Every value name (what steps read and write), never a field name.
    let mut renamed = base();
    let rename = |v: &mut Value| match v.as_str() {
        Some("cond") => *v = json!("conditioning"),
        Some("latent") => *v = json!("z"),
        _ => {}
    };
    for step in renamed["pipeline"]["steps"].as_array_mut().unwrap() {
        for field in ["from", "to", "latent", "cond"] {
            if let Some(v) = step.get_mut(field) {
                rename(v);
            }
        }
        if let Some(args) = step.get_mut("args") {
            args.as_array_mut().unwrap().iter_mut().for_each(rename);
        }
    }
    let mut swapped = base();
    swapped["pipeline"]["steps"][3]["beta_end"] = json!(0.02);
    vec![
        ("one parameter changed", value("steps-20", &one_param)),
        ("a value renamed", value("renamed", &renamed)),
        (
            "reordered JSON",
            publish("reordered", reversed(&base()).as_bytes()),
        ),
        ("a sampler default swapped", value("beta", &swapped)),
    ]
}

#[test]
fn copies_are_caught_at_the_shipped_threshold_and_an_unrelated_workflow_is_not() {
    let mut s = SuiteBuilder::new().build();
    let original_msg = value("t2i", &base());
    let original = s.publish("upstream-a", original_msg.clone()).unwrap();
    for (what, copy) in copies() {
        let sim = similarity(&original_msg, &copy);
        assert!(sim >= 7_000, "{what}: {sim}");
        assert_eq!(
            s.publish("creator", copy).unwrap_err(),
            refused(original, 1, sim, 7_000),
            "{what}"
        );
    }
    // The same pipeline kind (torch), another workflow: the sentence embedder.
    let embed = publish("embed", vector("embed").as_bytes());
    assert!(similarity(&original_msg, &embed) < 1_000);
    s.publish("creator", embed).unwrap();
    // What `havn publish` shows first: the closest, over the threshold.
    let r: SimilarResponse = s.query(
        &s.registry,
        &RegistryQuery::Similar {
            to: SimilarTo::Fingerprint {
                fingerprint: copies()[0].1.fingerprint.clone().unwrap(),
            },
            limit: None,
        },
    );
    assert_eq!(r.matches[0].id, original);
    assert!(r.matches[0].over_threshold);
}

fn declaring(mut msg: PublishMsg, parent: u64) -> PublishMsg {
    msg.dependencies = vec![DependencyMsg {
        target: DependencyTarget::Workflow { id: parent },
        weight_bps: 10_000,
    }];
    msg.parent = Some(parent);
    msg
}

/// A job of `workflow` run and settled with every validator signing; returns the fee.
fn run_one(s: &mut Suite, workflow: u64) -> u128 {
    let fee = 10 * HAI;
    let job = s.request("caller", workflow, fee, "a fox").unwrap();
    let result = s.result(job, "node", "png", Verdict::Valid, &[0, 1, 2, 3, 4]);
    s.settle(vec![result]).unwrap();
    fee
}

#[test]
fn a_declared_derivative_publishes_and_pays_its_parent() {
    let mut s = SuiteBuilder::new().build();
    let original = s.publish("upstream-a", value("t2i", &base())).unwrap();
    let (_, copy) = copies().remove(0);
    let derived = s.publish("creator", declaring(copy, original)).unwrap();
    let fee = run_one(&mut s, derived);
    // The default split's 20 % upstream share, all to the one dependency's creator.
    assert_eq!(
        s.earnings(&s.addr("upstream-a")).earned.u128(),
        part(fee, 2_000)
    );
    assert_eq!(
        s.earnings(&s.addr("creator")).earned.u128(),
        part(fee, 4_500)
    );
}

#[test]
fn governance_raises_the_threshold_and_then_switches_to_auto_derivatives() {
    let mut s = SuiteBuilder::new().build();
    let original_msg = value("t2i", &base());
    let original = s.publish("upstream-a", original_msg.clone()).unwrap();
    let (_, one_param) = copies().remove(0);
    let sim = similarity(&original_msg, &one_param);
    assert!((7_000..10_000).contains(&sim), "{sim}");
    // Raised just above this copy's similarity: from the next publish it passes...
    s.set_derivative_rules(DerivativeRules {
        threshold_bps: sim + 1,
        ..Default::default()
    })
    .unwrap();
    let loose = s.publish("creator", one_param).unwrap();
    assert_eq!(workflow(&s, loose).parent, None);
    // ...while an exact restructuring (10 000 bps) is still caught.
    let (_, renamed) = copies().remove(1);
    assert_eq!(
        s.publish("creator", renamed.clone()).unwrap_err(),
        refused(original, 1, 10_000, sim + 1)
    );
    // Governance makes matches derivatives instead: the copy publishes paying the original.
    s.set_derivative_rules(DerivativeRules {
        on_match: OnMatch::Derive { weight_bps: 5_000 },
        ..Default::default()
    })
    .unwrap();
    let derived = s.publish("creator", renamed).unwrap();
    let w = workflow(&s, derived);
    assert_eq!(w.parent, Some(original));
    let fee = run_one(&mut s, derived);
    assert_eq!(
        s.earnings(&s.addr("upstream-a")).earned.u128(),
        part(fee, 2_000)
    );
}

#[test]
fn a_copy_dispute_is_decided_by_a_vote_and_moves_bonds_and_earnings_exactly() {
    let mut s = SuiteBuilder::new().native().build();
    let original = s.publish("upstream-a", value("t2i", &base())).unwrap();
    // A copy the index missed: published while governance had detection off.
    s.set_derivative_rules(DerivativeRules {
        threshold_bps: 0,
        ..Default::default()
    })
    .unwrap();
    let copy = s.publish("creator", copies().remove(0).1).unwrap();
    s.set_derivative_rules(DerivativeRules::default()).unwrap();
    let bond = DerivativeRules::default().dispute_bond.u128();
    let (holder, creator) = (s.balance_of("holder"), s.balance_of("creator"));
    let registry = s.registry.clone();
    s.execute(
        "holder",
        &registry,
        &RegistryMsg::OpenDispute {
            copy,
            original,
            note: None,
        },
        &coins(bond, DENOM),
    )
    .unwrap();
    s.execute(
        "creator",
        &registry,
        &RegistryMsg::DefendDispute { id: 1 },
        &coins(bond, DENOM),
    )
    .unwrap();
    let treasury = s.balance(&s.governance.clone());
    s.pass(vec![Action::ResolveCopyDispute {
        dispute_id: 1,
        upheld: true,
    }])
    .unwrap();
    assert_eq!(s.balance_of("holder"), holder + bond / 2);
    assert_eq!(s.balance_of("creator"), creator - bond);
    assert_eq!(s.balance(&s.governance.clone()), treasury + bond / 2);
    assert_eq!(workflow(&s, copy).copy_of, Some(original));
    // From now on the copy's creator share goes to the original's creator.
    let before = s.earnings(&s.addr("creator")).earned.u128();
    let fee = run_one(&mut s, copy);
    assert_eq!(s.earnings(&s.addr("creator")).earned.u128(), before);
    assert_eq!(
        s.earnings(&s.addr("upstream-a")).earned.u128(),
        part(fee, 6_500)
    );
}
