//! A field office's alert travels gRPC → Kafka → dispatcher → signed webhook and email; repeats
//! are folded; bad input, bad tokens and other offices' ids are refused with the right codes.

use std::time::Duration;

use tonic::Code;
use tonic_types::StatusExt as _;
use wk_core::Timestamp;
use wk_core::alert::AlertId;
use wk_core::escalation::Recipient;
use wk_e2e::app::{
    MANILA_DUTY, MANILA_SECRET, OFFICE, OTHER_OFFICE, OTHER_TOKEN, Stack, TOKEN, alert, authorized,
};
use wk_e2e::wait_until;
use wk_proto::v1 as pb;

const DELIVERY: Duration = Duration::from_secs(45);

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_reaches_the_manila_console_and_duty_officer_exactly_once() {
    // One partition, so the dispatcher handles records in submission order and a later
    // alert's arrival proves the earlier repeat was processed.
    let stack = Stack::start(1).await;
    let mut client = stack.app.client().await;

    let submitted = pb::SubmitAlertRequest {
        alert: Some(alert("Armed men at the gate", "gate-1")),
    };
    let first = client
        .submit_alert(authorized(submitted.clone(), TOKEN))
        .await
        .unwrap()
        .into_inner();
    let alert_id = AlertId::for_dedup_key(OFFICE, "gate-1").to_string();
    assert_eq!(first.alert_id, alert_id);
    assert!(!first.duplicate);

    let arrived = wait_until(DELIVERY, || {
        stack.manila.received_for(&alert_id).len() == 1 && stack.smtp.emails().len() == 1
    })
    .await;
    assert!(
        arrived,
        "no webhook and email within {DELIVERY:?}:\n{}",
        stack.app.log()
    );

    // The webhook: signed over the exact body, idempotency key = delivery id, every field.
    let webhook = &stack.manila.received_for(&alert_id)[0];
    let signature = webhook.header("watchkeeper-signature");
    wk_core::signing::verify(&signature, &webhook.body, &[MANILA_SECRET], now(), 300)
        .expect("the webhook signature verifies with the console's secret");
    assert!(
        wk_core::signing::verify(
            &signature,
            &webhook.body,
            &["another-secret-entirely"],
            now(),
            300
        )
        .is_err()
    );
    let body = webhook.json();
    let delivery_id = format!("{alert_id}.i1.r0.s0.webhook-manila");
    assert_eq!(webhook.header("idempotency-key"), delivery_id);
    assert_eq!(body["delivery_id"], delivery_id);
    assert_eq!(body["type"], "alert.raised");
    let fields = &body["alert"];
    assert_eq!(fields["office_id"], OFFICE);
    assert_eq!(fields["severity"], "critical");
    assert_eq!(fields["category"], "security_incident");
    assert_eq!(fields["title"], "Armed men at the gate");
    assert_eq!(fields["country"], "NG");
    assert_eq!(fields["country_name"], "Nigeria");
    assert_eq!(fields["place"], "Maiduguri");
    assert_eq!(fields["coordinates"]["latitude"], 11.8464);
    assert_eq!(fields["staff_affected"], 12);
    assert_eq!(fields["dedup_key"], "gate-1");
    assert_eq!(fields["labels"]["team"], "wash");

    // The email: subject with severity, office and title; both parts carry every field.
    let email = &stack.smtp.emails()[0];
    assert_eq!(
        email.subject,
        "[CRITICAL] ng-maiduguri: Armed men at the gate"
    );
    assert_eq!(email.envelope_to, MANILA_DUTY);
    let mailbox = Recipient::Email {
        address: MANILA_DUTY.into(),
    }
    .key();
    assert_eq!(
        email.message_id,
        format!("<{alert_id}.i1.r0.s0.{mailbox}@watchkeeper.test>")
    );
    for needle in [
        "Security incident",
        "Nigeria (NG)",
        "Maiduguri",
        "11.84640, 13.16030",
        "gate-1",
        "team=wash",
        alert_id.as_str(),
        "Two vehicles at the gate.",
    ] {
        assert!(
            email.text.contains(needle),
            "text part lacks {needle:?}:\n{}",
            email.text
        );
        assert!(
            email.html.contains(needle),
            "html part lacks {needle:?}:\n{}",
            email.html
        );
    }

    assert!(email.text.contains("Staff affected: 12"));
    assert!(
        email
            .html
            .contains("<th align=\"left\">Staff affected</th><td>12</td>")
    );

    // The same alert again: same id, marked duplicate, and nobody is notified twice.
    let again = client
        .submit_alert(authorized(submitted, TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.alert_id, alert_id);
    assert!(again.duplicate);
    let marker = client
        .submit_alert(authorized(
            pb::SubmitAlertRequest {
                alert: Some(alert("Marker", "marker-1")),
            },
            TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    let marker_seen = wait_until(DELIVERY, || {
        stack.manila.received_for(&marker.alert_id).len() == 1
    })
    .await;
    assert!(marker_seen, "{}", stack.app.log());
    assert_eq!(
        stack.manila.received_for(&alert_id).len(),
        1,
        "the repeat was notified"
    );
    assert!(wait_until(DELIVERY, || stack.smtp.emails().len() == 2).await);
    let subjects: Vec<String> = stack
        .smtp
        .emails()
        .into_iter()
        .map(|email| email.subject)
        .collect();
    assert_eq!(
        subjects,
        [
            "[CRITICAL] ng-maiduguri: Armed men at the gate",
            "[CRITICAL] ng-maiduguri: Marker"
        ]
    );

    // SIGTERM drains: the process commits its offsets and exits successfully.
    let mut stack = stack;
    let status = stack.app.terminate().expect("watchkeeper was running");
    assert!(status.success(), "{status:?}:\n{}", stack.app.log());
    assert!(
        stack
            .app
            .log()
            .contains("dispatcher stopped; offsets committed"),
        "{}",
        stack.app.log()
    );
}

fn violations(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .expect("INVALID_ARGUMENT carries google.rpc.BadRequest")
        .field_violations
        .into_iter()
        .map(|violation| violation.field)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_bad_tokens_and_other_offices_are_refused() {
    let stack = Stack::start(1).await;
    let mut client = stack.app.client().await;

    let mut invalid = alert("", "bad-1");
    invalid.severity = 0;
    invalid.country = "XX".into();
    invalid.coordinates = Some(pb::Coordinates {
        latitude: 95.0,
        longitude: 13.0,
    });
    invalid.labels.insert("bad key".into(), "v".into());
    let status = client
        .submit_alert(authorized(
            pb::SubmitAlertRequest {
                alert: Some(invalid.clone()),
            },
            TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&status),
        [
            "severity",
            "title",
            "country",
            "coordinates.latitude",
            "labels[\"bad key\"]"
        ]
    );
    assert!(
        status
            .message()
            .contains(r#"country: "XX" is not an ISO 3166-1 alpha-2 code"#),
        "{}",
        status.message()
    );

    let missing = client
        .submit_alert(authorized(pb::SubmitAlertRequest { alert: None }, TOKEN))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(violations(&missing), ["alert"]);

    let valid = pb::SubmitAlertRequest {
        alert: Some(alert("Checkpoint closed", "cp-1")),
    };
    for token in ["not-a-known-token-at-all-000000", ""] {
        let status = client
            .submit_alert(authorized(valid.clone(), token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "token {token:?}");
    }
    let status = client
        .submit_alert(tonic::Request::new(valid.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // A real token, but for another office than the alert's.
    let status = client
        .submit_alert(authorized(valid.clone(), OTHER_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains(OTHER_OFFICE));

    // A message over the configured limit (64 KiB here) is refused before it is decoded.
    let mut huge = alert("Huge", "huge-1");
    huge.description = "x".repeat(70_000);
    let status = client
        .submit_alert(authorized(
            pb::SubmitAlertRequest { alert: Some(huge) },
            TOKEN,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{status:?}"
    );

    // A batch answers each item separately, in order.
    let mut other_office = alert("Not ours", "other-1");
    other_office.office_id = OTHER_OFFICE.into();
    let batch = pb::SubmitAlertsRequest {
        alerts: vec![alert("Batch item", "batch-1"), invalid, other_office],
    };
    let results = client
        .submit_alerts(authorized(batch, TOKEN))
        .await
        .unwrap()
        .into_inner()
        .results;
    use pb::submit_alerts_result::Outcome;
    assert_eq!(results.len(), 3);
    match &results[0].outcome {
        Some(Outcome::Accepted(accepted)) => {
            assert_eq!(
                accepted.alert_id,
                AlertId::for_dedup_key(OFFICE, "batch-1").to_string()
            );
        }
        other => panic!("first item: {other:?}"),
    }
    match &results[1].outcome {
        Some(Outcome::Error(error)) => {
            assert_eq!(error.code, Code::InvalidArgument as i32);
            let fields: Vec<&str> = error
                .field_violations
                .iter()
                .map(|v| v.field.as_str())
                .collect();
            assert_eq!(
                fields,
                [
                    "severity",
                    "title",
                    "country",
                    "coordinates.latitude",
                    "labels[\"bad key\"]"
                ]
            );
        }
        other => panic!("second item: {other:?}"),
    }
    match &results[2].outcome {
        Some(Outcome::Error(error)) => assert_eq!(error.code, Code::PermissionDenied as i32),
        other => panic!("third item: {other:?}"),
    }

    // The accepted batch item is delivered; nothing refused ever is.
    let batch_id = AlertId::for_dedup_key(OFFICE, "batch-1").to_string();
    stack
        .expect_webhooks(&stack.manila, &batch_id, 1, DELIVERY)
        .await;
    assert_eq!(stack.manila.received().len(), 1);
}
