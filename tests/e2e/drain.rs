//! SIGTERM under load: the process stops accepting, finishes what is in flight, commits what is
//! done and exits within its grace period; after a restart every alert that was answered OK is
//! delivered. Nothing accepted is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use wk_e2e::app::{Stack, TOKEN, alert, authorized};
use wk_e2e::wait_until;
use wk_proto::v1 as pb;

const SUBMITTERS: usize = 8;
const PER_SUBMITTER: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_nothing_accepted() {
    let mut stack = Stack::start(3).await;
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut submitters = Vec::new();
    for submitter in 0..SUBMITTERS {
        let mut client = stack.app.client().await;
        let accepted = accepted.clone();
        let count = count.clone();
        submitters.push(tokio::spawn(async move {
            for n in 0..PER_SUBMITTER {
                let request = pb::SubmitAlertRequest {
                    alert: Some(alert("Load", &format!("drain-{submitter}-{n}"))),
                };
                match client.submit_alert(authorized(request, TOKEN)).await {
                    Ok(response) => {
                        accepted.lock().await.push(response.into_inner().alert_id);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    // Refused or cut off by the shutdown: not accepted, nothing promised.
                    Err(_) => return,
                }
            }
        }));
    }
    stack
        .app
        .expect(Duration::from_secs(60), "load did not start", || {
            count.load(Ordering::Relaxed) >= 100
        })
        .await;
    let started = Instant::now();
    let status = tokio::task::block_in_place(|| stack.app.terminate()).expect("running");
    let took = started.elapsed();
    assert!(status.success(), "{status:?}\n{}", stack.app.log());
    // shutdown_grace is 10 s in the test configuration, plus the 5 s producer flush.
    assert!(took < Duration::from_secs(20), "shutdown took {took:?}");
    assert!(
        stack
            .app
            .log()
            .contains("dispatcher stopped; offsets committed")
    );
    for submitter in submitters {
        submitter.await.unwrap();
    }

    stack.app.restart();
    let accepted = accepted.lock().await.clone();
    assert!(accepted.len() >= 100);
    let all_delivered = wait_until(Duration::from_secs(120), || {
        let received = stack.manila.received();
        accepted.iter().all(|id| {
            received
                .iter()
                .any(|webhook| webhook.json()["alert"]["id"] == id.as_str())
        })
    })
    .await;
    let received = stack.manila.received();
    let lost: Vec<&String> = accepted
        .iter()
        .filter(|id| {
            !received
                .iter()
                .any(|webhook| webhook.json()["alert"]["id"] == id.as_str())
        })
        .collect();
    eprintln!(
        "drain: accepted {}, lost {}, webhooks received {}",
        accepted.len(),
        lost.len(),
        received.len()
    );
    assert!(
        all_delivered && lost.is_empty(),
        "lost {lost:?}\n{}",
        stack.app.log()
    );
}
