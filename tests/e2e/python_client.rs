//! The ingest API driven by a client we did not write: Python grpcio with stubs generated from
//! `proto/` by grpcio-tools.

use std::process::Command;
use std::time::Duration;

use wk_e2e::app::{OFFICE, Stack, TOKEN};
use wk_e2e::{python, wait_until, workspace_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_grpcio_client_submits_and_reads_field_violations() {
    let stack = Stack::start(2).await;
    let mut command = Command::new(python());
    command
        .arg(workspace_root().join("tests/support/grpc_client.py"))
        .args([&format!("127.0.0.1:{}", stack.app.api_port), TOKEN, OFFICE])
        .arg(workspace_root().join("proto"));
    let report: serde_json::Value =
        serde_json::from_slice(&wk_e2e::run_ok_async(command).await).unwrap();
    let alert_id = report["accepted"]["alert_id"].as_str().unwrap().to_owned();
    assert_eq!(
        alert_id,
        wk_core::alert::AlertId::for_dedup_key(OFFICE, "python-flood-1").to_string()
    );
    assert_eq!(report["accepted"]["duplicate"], false);
    assert_eq!(report["invalid"]["code"], "INVALID_ARGUMENT");
    assert_eq!(
        report["invalid"]["fields"],
        serde_json::json!(["country", "place"])
    );

    // A 17,000-character country and 40 bad label names: still INVALID_ARGUMENT at a stock
    // grpcio client, with bounded messages and a bounded list of fields.
    assert_eq!(
        report["huge_country"]["code"], "INVALID_ARGUMENT",
        "{report}"
    );
    assert_eq!(
        report["huge_country"]["fields"],
        serde_json::json!(["country"])
    );
    assert!(
        report["huge_country"]["message_chars"].as_u64().unwrap() < 200,
        "{report}"
    );
    assert_eq!(report["bad_labels"]["code"], "INVALID_ARGUMENT", "{report}");
    let fields = report["bad_labels"]["fields"].as_array().unwrap();
    assert_eq!(
        fields.len(),
        wk_core::validate::limits::LISTED_VIOLATIONS,
        "{report}"
    );
    assert_eq!(fields[0], "labels", "{report}");
    assert_eq!(fields[fields.len() - 1], "alert", "{report}");

    let delivered = wait_until(Duration::from_secs(45), || {
        stack.manila.received_for(&alert_id).len() == 1
    })
    .await;
    assert!(delivered, "{}", stack.app.log());
    let body = stack.manila.received_for(&alert_id)[0].json();
    assert_eq!(body["alert"]["severity"], "emergency");
    assert_eq!(body["alert"]["category"], "natural_hazard");
    assert_eq!(body["alert"]["labels"]["source"], "python");
}
