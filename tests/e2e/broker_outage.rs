//! With the broker down, a submission is answered UNAVAILABLE in bounded time, never OK; once
//! the broker is back, submissions succeed and are delivered again.

use std::time::{Duration, Instant};

use tonic::Code;
use wk_e2e::app::{RSO, Stack, TOKEN, alert, authorized, chain_policy};
use wk_proto::v1 as pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_answers_unavailable_and_recovers() {
    let mut stack = Stack::start(1).await;
    let mut client = stack.app.client().await;
    let before = client
        .submit_alert(authorized(
            pb::SubmitAlertRequest {
                alert: Some(alert("Before", "before-1")),
            },
            TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    stack
        .expect_webhooks(&stack.manila, &before.alert_id, 1, Duration::from_secs(45))
        .await;

    stack.broker.kill();
    for attempt in 0..3 {
        let started = Instant::now();
        let status = client
            .submit_alert(authorized(
                pb::SubmitAlertRequest {
                    alert: Some(alert("While down", &format!("down-{attempt}"))),
                },
                TOKEN,
            ))
            .await
            .expect_err("an alert must never be OK while the broker is down");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        // produce_timeout is 3 s in the test configuration; allow for a loaded machine.
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "took {:?}",
            started.elapsed()
        );
    }

    stack.broker.restart();
    let after = stack
        .submit_when_back("After", "after-1", Duration::from_secs(60))
        .await;
    stack
        .app
        .expect(
            Duration::from_secs(60),
            "not delivered after the broker came back",
            || stack.manila.received_for(&after).len() == 1,
        )
        .await;
}

/// A broker outage longer than the consumer session: the group takes the partitions away
/// (assignment lost), yet the dispatcher keeps escalating from memory, so a step that falls due
/// while the broker is away still goes out; once the broker is back, the partition is restored
/// from the changelog and a repeat carries the same Message-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_due_while_the_broker_is_away_still_goes_out() {
    // Step 2 falls due 10 s after step 1: after the 6 s session has expired.
    let policy = chain_policy("outage", "10s", &["person:rso"], "1h");
    let mut stack = Stack::with_policy(1, policy).await;
    let alert_id = stack.submit("During an outage", "outage-1").await;
    stack
        .expect_webhooks(&stack.manila, &alert_id, 1, Duration::from_secs(45))
        .await;
    stack.broker.kill();
    stack
        .app
        .expect(
            Duration::from_secs(40),
            "step 2 did not go out while the broker was away",
            || !stack.smtp.emails_to(RSO).is_empty(),
        )
        .await;
    assert!(
        stack.app.log().contains("assignment lost"),
        "the session did not expire, so this did not test a lost assignment:\n{}",
        stack.app.log()
    );

    stack.broker.restart();
    // The partition comes back: a new alert is accepted and notified.
    let after = stack
        .submit_when_back("After the outage", "outage-2", Duration::from_secs(60))
        .await;
    stack
        .expect_webhooks(&stack.manila, &after, 1, Duration::from_secs(60))
        .await;
    // Step 2 of the first alert may have been sent again after the restore: same id only.
    let ids: std::collections::HashSet<String> = stack
        .smtp
        .emails_to(RSO)
        .into_iter()
        .map(|email| email.message_id)
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
}
