//! `watchkeeper send`, the field office's CLI client, submits from flags and from a JSON file
//! and reports refusals with their fields.

use std::process::Command;
use std::time::Duration;

use wk_e2e::app::{OFFICE, Stack, TOKEN, binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_submits_from_a_json_file_and_from_flags() {
    let stack = Stack::start(1).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alert.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "office_id": OFFICE,
            "severity": "emergency",
            "category": "medical",
            "title": "Medical evacuation needed",
            "description": "Driver injured on the Bama road",
            "country": "NG",
            "place": "Bama",
            "latitude": 11.52,
            "longitude": 13.68,
            "staff_affected": 1,
            "dedup_key": "medevac-1",
            "labels": {"vehicle": "LC-12"}
        })
        .to_string(),
    )
    .unwrap();
    let endpoint = stack.app.endpoint();
    let run = |args: Vec<String>| {
        let endpoint = endpoint.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new(binary())
                    .args(["send", "--server", &endpoint, "--json"])
                    .args(args)
                    .env("WATCHKEEPER_TOKEN", TOKEN)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };

    let output = run(vec!["--file".into(), file.display().to_string()]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let accepted: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let alert_id = accepted["alert_id"].as_str().unwrap().to_owned();
    stack
        .expect_webhooks(&stack.manila, &alert_id, 1, Duration::from_secs(45))
        .await;
    let body = stack.manila.received_for(&alert_id)[0].json();
    assert_eq!(body["alert"]["category"], "medical");
    assert_eq!(body["alert"]["labels"]["vehicle"], "LC-12");

    let flags = [
        "--office",
        OFFICE,
        "--severity",
        "sev1",
        "--title",
        "Flags",
        "--country",
        "XX",
        "--place",
        "Bama",
    ];
    let output = run(flags.iter().map(|flag| flag.to_string()).collect()).await;
    assert!(!output.status.success());
    let refused: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(refused["code"], "InvalidArgument");
    let fields: Vec<&str> = refused["field_violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|violation| violation["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["severity", "country"]);
}
