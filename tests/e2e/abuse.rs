//! Abuse: one office flooding the api is refused with RESOURCE_EXHAUSTED (with RetryInfo)
//! while another office goes on unaffected, and nothing the api accepted is lost.

use std::time::Duration;

use tonic::Code;
use tonic_types::StatusExt as _;
use wk_e2e::app::{OTHER_OFFICE, OTHER_TOKEN, Stack, TOKEN, alert, authorized};
use wk_e2e::wait_until;
use wk_proto::v1 as pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_office_is_rate_limited_and_the_other_offices_are_not() {
    let env = vec![
        ("WATCHKEEPER__API__OFFICE_RATE".to_owned(), "2".to_owned()),
        ("WATCHKEEPER__API__OFFICE_BURST".to_owned(), "10".to_owned()),
    ];
    let stack = Stack::with_env(1, String::new(), env).await;
    let mut client = stack.app.client().await;
    let mut accepted = Vec::new();
    let mut limited = 0;
    for index in 0..30 {
        let request = pb::SubmitAlertRequest {
            alert: Some(alert("Flood", &format!("flood-{index}"))),
        };
        match client.submit_alert(authorized(request, TOKEN)).await {
            Ok(response) => accepted.push(response.into_inner().alert_id),
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(status.message().contains("ng-maiduguri"), "{status:?}");
                let retry = status.get_details_retry_info().expect("RetryInfo");
                assert!(
                    retry
                        .retry_delay
                        .is_some_and(|delay| delay <= Duration::from_secs(1))
                );
                limited += 1;
            }
        }
    }
    // The burst of 10, plus what 2/s refilled while the loop ran.
    assert!(
        (10..20).contains(&accepted.len()),
        "accepted {}",
        accepted.len()
    );
    assert_eq!(accepted.len() + limited, 30);

    // Another office has its own allowance.
    for index in 0..5 {
        let mut other = alert("Calm", &format!("calm-{index}"));
        other.office_id = OTHER_OFFICE.into();
        let request = pb::SubmitAlertRequest { alert: Some(other) };
        client
            .submit_alert(authorized(request, OTHER_TOKEN))
            .await
            .expect("the other office is not limited");
    }

    // A batch larger than the burst can never pass: refused whole, without a retry time.
    let batch = pb::SubmitAlertsRequest {
        alerts: (0..11)
            .map(|index| {
                let mut other = alert("Batch", &format!("batch-{index}"));
                other.office_id = OTHER_OFFICE.into();
                other
            })
            .collect(),
    };
    let status = client
        .submit_alerts(authorized(batch, OTHER_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("split the batch"), "{status:?}");

    // Nothing accepted is lost: every accepted flood alert reaches Manila.
    let delivered = wait_until(Duration::from_secs(60), || {
        accepted
            .iter()
            .all(|id| !stack.manila.received_for(id).is_empty())
    })
    .await;
    assert!(
        delivered,
        "accepted alerts not all notified:\n{}",
        stack.app.log()
    );
}
