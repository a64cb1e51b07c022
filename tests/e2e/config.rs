//! `check-config` accepts the shipped example and reports every error of a broken file with its
//! field; `serve` with an invalid file exits 64 before binding any port.

use std::process::Command;

use wk_e2e::app::binary;
use wk_e2e::{free_port, workspace_root};

#[test]
fn the_deploy_example_passes_check_config() {
    let example = workspace_root().join("deploy/watchkeeper.example.toml");
    wk_e2e::run_ok(
        Command::new(binary())
            .arg("check-config")
            .arg(&example)
            .envs(wk_e2e::EXAMPLE_SECRETS),
    );
}

#[test]
fn a_broken_config_reports_every_error_and_serve_refuses_it_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    let port = free_port();
    std::fs::write(
        &path,
        format!(
            r#"[kafka]
brokers = "127.0.0.1:9"
partitions = 0
[api]
listen = "127.0.0.1:{port}"
[[offices]]
id = "Bad Office"
token_sha256 = "nothex"
[consoles.manila]
webhook_url = "not a url"
signing_secret = "short"
[smtp]
host = "127.0.0.1"
port = 25
security = "none"
from = "nobody"
[dispatcher]
console = "manila"
"#
        ),
    )
    .unwrap();
    let output = Command::new(binary())
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let report = String::from_utf8_lossy(&output.stderr);
    for field in [
        "kafka.partitions",
        "offices[0].id",
        "offices[0].token_sha256",
        "consoles.manila.webhook_url",
        "smtp.from",
        "dispatcher.console",
    ] {
        assert!(report.contains(field), "{field} missing from:\n{report}");
    }

    let output = Command::new(binary())
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    // Nothing was bound: the api port is still free.
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the api port was never bound");
}

#[test]
fn malformed_toml_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, line) in [
        (
            "unclosed.toml",
            "[kafka]\nbrokers = \"127.0.0.1:9092\"\n[api\nlisten = 1\n",
            3,
        ),
        ("string.toml", "[kafka]\nbrokers = \"127.0.0.1:9092\n", 2),
        ("binary.toml", "[kafka]\n\u{0}\u{1}\u{2}", 2),
        ("type.toml", "kafka = 5\n", 0),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let output = Command::new(binary())
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{name}: {report}");
        assert!(!report.contains("panicked"), "{name}: {report}");
        if line > 0 {
            assert!(report.contains(&format!("line {line}")), "{name}: {report}");
        } else {
            // A value of the wrong type is named by its path, in our words.
            assert!(
                report.contains("kafka: invalid type: integer `5`, expected a table"),
                "{name}: {report}"
            );
        }
    }
}
