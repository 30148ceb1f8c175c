//! Sub-messages on the devnet behave as CosmWasm specifies: depth-first execution with replies,
//! a failed sub-call rolled back alone when its reply catches the error, the whole tx rolled back
//! when nothing does. A probe contract (contracts/testing/submsg-probe) records every step in its
//! storage. Needs `make wasm`.

mod common;

use common::{artifact, wallet, Devnet};
use havn_submsg_probe::{Call, ExecuteMsg, QueryMsg, ReplyWhen, Step};

fn step(label: &str, calls: Vec<Call>) -> Step {
    Step {
        label: label.into(),
        fail: false,
        calls,
    }
}

fn failing(label: &str, calls: Vec<Call>) -> Step {
    Step {
        label: label.into(),
        fail: true,
        calls,
    }
}

fn call(id: u64, reply_on: ReplyWhen, step: Step) -> Call {
    Call {
        id,
        reply_on,
        step,
        fail_reply: false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sub_messages_run_depth_first_and_roll_back_as_specified() {
    let devnet = Devnet::start(&["alice"], |_| {}).await;
    let c = &devnet.client;
    let alice = wallet("alice");
    let code = c
        .store_code(&alice, artifact("testing/submsg_probe"))
        .await
        .unwrap();
    let probe = c
        .instantiate(&alice, code, &serde_json::json!({}), "probe", None)
        .await
        .unwrap();
    let trace = || async {
        c.smart::<_, Vec<String>>(&probe, &QueryMsg::Trace {})
            .await
            .unwrap()
    };
    let run = |s: Step| {
        let (c, alice, probe) = (c.clone(), &alice, probe.clone());
        async move { c.execute(alice, &probe, &ExecuteMsg::Run(s), &[]).await }
    };
    let mut expected: Vec<String> = vec![];
    let push = |expected: &mut Vec<String>, items: &[&str]| {
        expected.extend(items.iter().map(|s| s.to_string()))
    };

    // A failing sub-call whose reply catches the error: only the sub-call's writes go.
    run(step(
        "a",
        vec![call(1, ReplyWhen::Error, failing("a1", vec![]))],
    ))
    .await
    .unwrap();
    push(&mut expected, &["a", "reply:1:err"]);
    assert_eq!(trace().await, expected);

    // Nothing catches it: the whole tx goes, the parent's writes too.
    let e = run(step(
        "b",
        vec![call(2, ReplyWhen::Never, failing("b1", vec![]))],
    ))
    .await
    .unwrap_err();
    assert!(e.to_string().contains("b1 failed"), "{e}");
    assert_eq!(trace().await, expected);

    // Depth first: a sub-call's own sub-calls and replies run before the next sibling.
    run(step(
        "c",
        vec![
            call(
                3,
                ReplyWhen::Always,
                step("c1", vec![call(4, ReplyWhen::Always, step("c1a", vec![]))]),
            ),
            call(5, ReplyWhen::Success, step("c2", vec![])),
        ],
    ))
    .await
    .unwrap();
    push(
        &mut expected,
        &[
            "c",
            "c1",
            "c1a",
            "reply:4:ok",
            "reply:3:ok",
            "c2",
            "reply:5:ok",
        ],
    );
    assert_eq!(trace().await, expected);

    // A reply that fails fails the tx.
    let mut d1 = call(6, ReplyWhen::Always, step("d1", vec![]));
    d1.fail_reply = true;
    let e = run(step("d", vec![d1])).await.unwrap_err();
    assert!(e.to_string().contains("reply 6 failed"), "{e}");
    assert_eq!(trace().await, expected);

    // A grandchild fails uncaught: its parent fails with it (its "e1" goes), and the
    // grandparent's reply catches that.
    run(step(
        "e",
        vec![call(
            7,
            ReplyWhen::Error,
            step(
                "e1",
                vec![call(8, ReplyWhen::Never, failing("e1a", vec![]))],
            ),
        )],
    ))
    .await
    .unwrap();
    push(&mut expected, &["e", "reply:7:err"]);
    assert_eq!(trace().await, expected);
    devnet.stop().await;
}
