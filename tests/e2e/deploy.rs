//! What can be checked of `deploy/` here: every manifest parses as YAML with the expected
//! shape (probes, a grace period longer than ours, disruption budgets), and every shipped
//! configuration passes `watchkeeper check-config`. (Docker and Kubernetes do not run here.)

use std::process::Command;

use wk_e2e::app::binary;
use wk_e2e::{python, workspace_root};

/// Runs check-config on `path` with the secrets its deployment would get from the environment.
fn check_config(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut command = Command::new(binary());
    command
        .arg("check-config")
        .arg(path)
        .env(
            "WATCHKEEPER__CONSOLES__MANILA__SIGNING_SECRET",
            "a-long-enough-secret-0001",
        )
        .env(
            "WATCHKEEPER__CONSOLES__PANAMA__SIGNING_SECRET",
            "a-long-enough-secret-0002",
        );
    if text.contains("[links]") {
        command.env(
            "WATCHKEEPER__LINKS__SECRET",
            "a-links-secret-that-is-long-enough-0123",
        );
    }
    if text.contains("username =") {
        command.env("WATCHKEEPER__SMTP__PASSWORD", "smtp-password");
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn manifests_parse_and_shipped_configurations_pass_check_config() {
    let out = tempfile::tempdir().unwrap();
    let stdout = wk_e2e::run_ok(
        Command::new(python())
            .arg(workspace_root().join("tests/support/check_deploy.py"))
            .arg(workspace_root().join("deploy"))
            .arg(out.path()),
    );
    let summary: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    let documents = summary["documents"].as_array().unwrap();
    let kinds: Vec<&str> = documents
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "Namespace",
        "Secret",
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "compose",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    let deployments: Vec<&serde_json::Value> = documents
        .iter()
        .filter(|d| d["kind"] == "Deployment")
        .collect();
    assert_eq!(deployments.len(), 2);
    for deployment in deployments {
        // Our shutdown_grace in the ConfigMap is 30 s, plus 5 s of producer flush.
        assert!(deployment["grace"].as_u64().unwrap() > 35, "{deployment}");
    }
    assert!(
        documents
            .iter()
            .any(|d| d["probes"] == serde_json::json!(["livenessProbe", "readinessProbe"]))
    );
    let compose = documents.iter().find(|d| d["kind"] == "compose").unwrap();
    assert_eq!(
        compose["services"],
        serde_json::json!([
            "api",
            "console-manila",
            "console-panama",
            "dispatcher",
            "kafka",
            "smtp"
        ])
    );

    let root = workspace_root().join("deploy");
    for config in [
        root.join("watchkeeper.example.toml"),
        root.join("compose/watchkeeper.toml"),
    ] {
        check_config(&config);
    }
    let embedded = summary["configs"].as_array().unwrap();
    assert_eq!(embedded.len(), 1);
    check_config(std::path::Path::new(embedded[0].as_str().unwrap()));
}
