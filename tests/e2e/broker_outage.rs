//! With the broker down, a submission is answered UNAVAILABLE in bounded time, never OK; once
//! the broker is back, submissions succeed and are delivered again.

use std::time::{Duration, Instant};

use tonic::Code;
use wk_e2e::app::{Stack, TOKEN, alert, authorized};
use wk_e2e::wait_until;
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
    assert!(
        wait_until(Duration::from_secs(45), || stack
            .manila
            .received_for(&before.alert_id)
            .len()
            == 1)
        .await,
        "{}",
        stack.app.log()
    );

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
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        let result = client
            .submit_alert(authorized(
                pb::SubmitAlertRequest {
                    alert: Some(alert("After", "after-1")),
                },
                TOKEN,
            ))
            .await;
        match result {
            Ok(response) => break response.into_inner(),
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(
                    Instant::now() < deadline,
                    "no success within 60 s of the restart:\n{}",
                    stack.app.log()
                );
            }
        }
    };
    assert!(
        wait_until(Duration::from_secs(60), || stack
            .manila
            .received_for(&after.alert_id)
            .len()
            == 1)
        .await,
        "not delivered after the broker came back:\n{}",
        stack.app.log()
    );
}
