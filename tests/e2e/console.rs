//! The web console in a real browser: Debian's Chromium driven by playwright-core
//! (`tests/browser/console.mjs`, installed by `./dev setup`) against the whole stack — Tansu,
//! the SMTP sink, the test consoles and the watchkeeper binary. Two duty officers (Manila and
//! Panama) and a field office each sign in with their own browser; alerts are submitted over
//! gRPC by `watchkeeper send`. Screenshots go to `target/browser/`.

use std::process::Stdio;
use std::time::Duration;

use wk_e2e::app::{
    OFFICE, OFFICE_PASSWORD, OFFICER, OFFICER_PASSWORD, PANAMA_OFFICER, PANAMA_OFFICER_PASSWORD,
    Stack, TOKEN, WATCHED_OFFICE, WATCHED_TOKEN, binary,
};
use wk_e2e::{unique_name, workspace_root};

/// The script's own waits are bounded (10–15 s each); this bounds the whole run.
const BROWSER_RUN: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread")]
async fn duty_officers_see_and_acknowledge_alerts_live_in_chromium() {
    let root = workspace_root();
    let script = root.join("tests/browser/console.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `./dev setup` (npm ci in tests/browser)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is not installed: run `./dev setup`"
    );
    let stack = Stack::start(3).await;
    let shots = root.join("target/browser");
    let mut node = tokio::process::Command::new("node");
    node.arg(&script)
        .current_dir(root.join("tests/browser"))
        .env(
            "WK_CONSOLE_URL",
            format!("http://127.0.0.1:{}/console/", stack.settings.http_port),
        )
        .env("WK_BIN", binary())
        .env("WK_API", stack.app.endpoint())
        .env("WK_OFFICE", OFFICE)
        .env("WK_OFFICE_TOKEN", TOKEN)
        .env("WK_WATCHED_OFFICE", WATCHED_OFFICE)
        .env("WK_WATCHED_TOKEN", WATCHED_TOKEN)
        .env("WK_OFFICE_PASSWORD", OFFICE_PASSWORD)
        .env("WK_OFFICER", OFFICER)
        .env("WK_OFFICER_PASSWORD", OFFICER_PASSWORD)
        .env("WK_PANAMA_OFFICER", PANAMA_OFFICER)
        .env("WK_PANAMA_OFFICER_PASSWORD", PANAMA_OFFICER_PASSWORD)
        .env("WK_SCREENSHOTS", &shots)
        .env("WK_RUN", unique_name("run"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(BROWSER_RUN, node.output())
        .await
        .expect("the browser run finishes within 5 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser test failed ({}):\n{stdout}\n{stderr}\n--- watchkeeper log ---\n{}",
        output.status,
        stack.app.log()
    );
    let figures = stdout
        .lines()
        .find_map(|line| line.strip_prefix("FIGURES "))
        .expect("the script reports its figures");
    std::fs::write(shots.join("figures.json"), figures).expect("figures written");
    eprintln!("{stdout}");
    for shot in ["board.png", "alert.png", "board-phone.png"] {
        assert!(shots.join(shot).is_file(), "{shot} written");
    }
    // Nothing of the hostile alert's text, nor any address, reached the log.
    let log = stack.app.log();
    assert!(!log.contains("__pwned"), "alert text in the log");
    assert!(
        !log.contains("Armed men at the compound gate"),
        "alert text in the log"
    );
}
