//! A staff headcount end to end: started over a 5-person office and a visitor through the
//! Headcounts API, every question arrives by mail, people answer through the signed links
//! (confirmation page, then the button), "I need help" raises the critical alert to Manila,
//! the counts follow, and a dispatcher killed mid-headcount resumes without asking anyone
//! twice; an organisation-wide headcount starts in parts and counts as one, and SIGHUP reads
//! the roster again.

use std::time::Duration;

use wk_e2e::app::{MANILA_DUTY, OFFICE, OFFICER_TOKEN, Stack, authorized};
use wk_e2e::{wait_for, wait_until};
use wk_proto::v1 as pb;
use wk_proto::v1::headcounts_client::HeadcountsClient;

const DEADLINE: Duration = Duration::from_secs(60);

fn roster(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("roster.csv");
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let later = today.saturating_add(jiff::Span::new().days(10));
    std::fs::write(
        &path,
        format!(
            "id,name,office,country,zone,emails,warden,from,until\n\
             p1,Amina Bello,{OFFICE},NG,north,amina@staff.test,yes,,\n\
             p2,Musa Ibrahim,{OFFICE},NG,north,musa@staff.test,,,\n\
             p3,Grace Okafor,{OFFICE},NG,south,grace@staff.test,,,\n\
             p4,Chinedu Obi,{OFFICE},NG,south,chinedu@staff.test,,,\n\
             p5,Fatima Yusuf,{OFFICE},NG,south,fatima@staff.test,yes,,\n\
             v1,Jean Dupont,{OFFICE},NG,north,jean@visitor.test,,{today},{later}\n\
             s1,Hodan Ali,so-mogadishu,SO,mogadishu,hodan@staff.test,yes,,\n"
        ),
    )
    .unwrap();
    path
}

/// A stack whose `[headcounts]` roster is `roster(dir)`, and a Headcounts client.
async fn headcount_stack(
    dir: &std::path::Path,
) -> (Stack, HeadcountsClient<tonic::transport::Channel>) {
    let section = format!("\n[headcounts]\nroster = \"{}\"\n", roster(dir).display());
    let stack = Stack::with_policy(1, section).await;
    let client = HeadcountsClient::new(wk_e2e::channel(&stack.app.endpoint()).await);
    (stack, client)
}

/// Starts a headcount of `request` through `client`; its id.
async fn start(
    client: &mut HeadcountsClient<tonic::transport::Channel>,
    request: pb::StartHeadcountRequest,
) -> String {
    client
        .start_headcount(authorized(request, OFFICER_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .headcount_id
}

/// The link of `label` in the last question mailed to `address`.
fn link(stack: &Stack, address: &str, label: &str) -> String {
    let mails = stack.smtp.emails_to(address);
    let mail = mails
        .last()
        .unwrap_or_else(|| panic!("no mail to {address}"));
    let prefix = format!("{label}: ");
    mail.text
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {label} link in:\n{}", mail.text))
        .trim()
        .to_owned()
}

use wk_e2e::hidden_field as hidden;

/// Opens `url`, checks the confirmation page, and presses its button with `extra` fields.
async fn answer(url: &str, extra: &[(&str, &str)]) -> String {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let page = client.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let mut form: Vec<(String, String)> = ["b", "e", "s"]
        .iter()
        .map(|name| ((*name).to_owned(), hidden(&page, name)))
        .collect();
    form.extend(
        extra
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    let action = url.split('?').next().unwrap();
    let done = client.post(action).form(&form).send().await.unwrap();
    assert_eq!(done.status(), 200);
    done.text().await.unwrap()
}

async fn view(
    stack: &Stack,
    id: &str,
    ready: impl Fn(&pb::HeadcountCounts) -> bool,
) -> pb::HeadcountView {
    view_when(stack, id, |view| view.all.as_ref().is_some_and(&ready)).await
}

/// The headcount's view once `ready` holds of it.
async fn view_when(
    stack: &Stack,
    id: &str,
    ready: impl Fn(&pb::HeadcountView) -> bool,
) -> pb::HeadcountView {
    let endpoint = stack.app.endpoint();
    wait_for(DEADLINE, Duration::from_millis(100), || {
        let endpoint = endpoint.clone();
        let id = id.to_owned();
        let ready = &ready;
        async move {
            let mut client = HeadcountsClient::new(wk_e2e::try_channel(&endpoint).await.ok()?);
            let request = authorized(pb::GetHeadcountRequest { headcount_id: id }, OFFICER_TOKEN);
            let view = client.get_headcount(request).await.ok()?.into_inner();
            ready(&view).then_some(view)
        }
    })
    .await
    .unwrap_or_else(|| panic!("headcount {id} not ready:\n{}", stack.app.log()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headcount_asks_everyone_takes_their_answers_and_raises_a_call_for_help() {
    let dir = tempfile::tempdir().unwrap();
    let (mut stack, mut client) = headcount_stack(dir.path()).await;
    let started = client
        .start_headcount(authorized(
            pb::StartHeadcountRequest {
                offices: vec![OFFICE.into()],
                ..Default::default()
            },
            OFFICER_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.people, 6, "5 staff and the visitor; not Mogadishu");
    assert_eq!(started.unreachable, 0);
    let id = started.headcount_id;
    let everyone = [
        "amina@staff.test",
        "musa@staff.test",
        "grace@staff.test",
        "chinedu@staff.test",
        "fatima@staff.test",
        "jean@visitor.test",
    ];
    stack
        .app
        .expect(DEADLINE, "not every question arrived", || {
            everyone
                .iter()
                .all(|address| stack.smtp.emails_to(address).len() == 1)
        })
        .await;
    assert!(stack.smtp.emails_to("hodan@staff.test").is_empty());
    let question = &stack.smtp.emails_to("grace@staff.test")[0];
    assert_eq!(question.subject, "Staff headcount: are you safe?");
    assert!(
        question.text.starts_with("Grace Okafor,"),
        "{}",
        question.text
    );

    // Amina is safe; Grace needs help.
    let done = answer(&link(&stack, "amina@staff.test", "I am safe"), &[]).await;
    assert!(done.contains("knows you are safe"), "{done}");
    let done = answer(
        &link(&stack, "grace@staff.test", "I need help"),
        &[
            ("text", "Injured, in the storeroom"),
            ("place", "Compound B"),
        ],
    )
    .await;
    assert!(done.contains("has been alerted"), "{done}");
    let counted = view(&stack, &id, |all| all.safe == 1 && all.need_help == 1).await;
    let all = counted.all.unwrap();
    assert_eq!((all.unaccounted, all.unreachable), (4, 0));

    // The call for help is a critical alert to Manila, never silenced.
    let help = |title: &str| title.contains("Staff member asking for help: Grace Okafor");
    stack
        .app
        .expect(DEADLINE, "no call for help at Manila", || {
            stack.manila.received().iter().any(|webhook| {
                let body = webhook.json();
                help(body["alert"]["title"].as_str().unwrap_or_default())
                    && body["alert"]["category"] == "staff_help"
                    && body["alert"]["place"] == "Compound B"
            })
        })
        .await;
    assert!(
        wait_until(DEADLINE, || stack
            .smtp
            .emails_to(MANILA_DUTY)
            .iter()
            .any(|email| help(&email.subject)))
        .await
    );

    // A forged link records nothing.
    let forged = link(&stack, "musa@staff.test", "I am safe").replace("s=", "s=00");
    let status = reqwest::get(&forged).await.unwrap().status();
    assert_eq!(status, 403);

    // The dispatcher is killed mid-headcount: it resumes, and nobody is asked twice.
    stack.app.restart();
    let done = answer(
        &link(&stack, "musa@staff.test", "I am not in the area"),
        &[],
    )
    .await;
    assert!(done.contains("not in the area"), "{done}");
    let counted = view(&stack, &id, |all| all.not_in_area == 1).await;
    assert_eq!(counted.all.unwrap().safe, 1);
    for address in everyone {
        let ids: std::collections::BTreeSet<String> = stack
            .smtp
            .emails_to(address)
            .into_iter()
            .map(|email| email.message_id)
            .collect();
        assert_eq!(ids.len(), 1, "{address} was asked twice: {ids:?}");
    }

    // An officer answers for Chinedu from the CLI; the export says who and how.
    let cli = |args: &[&str]| {
        let stdout = wk_e2e::run_ok(
            std::process::Command::new(wk_e2e::app::binary())
                .arg("headcount")
                .args(args)
                .args(["--server", &stack.app.endpoint()])
                .env("WATCHKEEPER_TOKEN", OFFICER_TOKEN),
        );
        String::from_utf8_lossy(&stdout).into_owned()
    };
    cli(&["answer", &id, "p4", "safe", "--method", "reached by phone"]);
    view(&stack, &id, |all| all.safe == 2).await;
    let csv = cli(&["export", &id]);
    let chinedu = csv
        .lines()
        .find(|line| line.starts_with("p4,"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        chinedu.starts_with("p4,Chinedu Obi,ng-maiduguri,south,safe,")
            && chinedu.contains(",officer,maria.santos,reached by phone,false,"),
        "{chinedu}"
    );
    let grace = csv.lines().find(|line| line.starts_with("p3,")).unwrap();
    assert!(
        grace.contains("need help") && grace.contains("Compound B"),
        "{grace}"
    );

    // Closed with a summary: the unaccounted are kept with it.
    client
        .close_headcount(authorized(
            pb::CloseHeadcountRequest {
                headcount_id: id.clone(),
                summary: "Grace evacuated; others being reached".into(),
            },
            OFFICER_TOKEN,
        ))
        .await
        .unwrap();
    let closed = view_when(&stack, &id, |view| {
        view.state
            .as_ref()
            .is_some_and(|state| state.closed.is_some())
    })
    .await
    .state
    .unwrap();
    assert_eq!(closed.unaccounted_at_close, ["p5", "v1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_responders_are_reminded_and_after_two_cycles_their_warden_answers_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let (stack, mut client) = headcount_stack(dir.path()).await;
    let id = start(
        &mut client,
        pb::StartHeadcountRequest {
            zones: vec!["south".into()],
            cycle_minutes: 1,
            cycles: 3,
            ..Default::default()
        },
    )
    .await;
    let south = [
        "grace@staff.test",
        "chinedu@staff.test",
        "fatima@staff.test",
    ];
    let count = |address: &str| stack.smtp.emails_to(address).len();
    assert!(wait_until(DEADLINE, || south.iter().all(|address| count(address) == 1)).await);
    // Grace answers at once; the others are reminded when the minute is up.
    answer(&link(&stack, "grace@staff.test", "I am safe"), &[]).await;
    stack
        .app
        .expect(Duration::from_secs(90), "no reminder", || {
            count("chinedu@staff.test") == 2 && count("fatima@staff.test") == 2
        })
        .await;
    let reminder = stack.smtp.emails_to("chinedu@staff.test").pop().unwrap();
    assert!(
        reminder.subject.contains("reminder 1"),
        "{}",
        reminder.subject
    );
    assert_eq!(
        count("grace@staff.test"),
        1,
        "an answered person is not reminded"
    );

    // After the second cycle Fatima, the zone's warden, gets the list: Chinedu and herself.
    let is_list = |email: &wk_e2e::smtp::Email| email.subject.contains("still unaccounted for");
    stack
        .app
        .expect(Duration::from_secs(90), "no warden's list", || {
            stack
                .smtp
                .emails_to("fatima@staff.test")
                .iter()
                .any(is_list)
        })
        .await;
    let list = stack
        .smtp
        .emails_to("fatima@staff.test")
        .into_iter()
        .find(is_list)
        .unwrap();
    assert!(
        list.subject
            .contains("2 still unaccounted for in zone south"),
        "{}",
        list.subject
    );
    assert!(
        list.text.contains("- Chinedu Obi (ng-maiduguri)"),
        "{}",
        list.text
    );
    assert!(!list.text.contains("Grace"), "{}", list.text);
    // She reached him by phone and answers for him from the list.
    let for_chinedu = list
        .text
        .lines()
        .skip_while(|line| !line.starts_with("- Chinedu Obi"))
        .find_map(|line| line.trim().strip_prefix("I am safe: "))
        .unwrap()
        .to_owned();
    let done = answer(&for_chinedu, &[("method", "reached by phone")]).await;
    assert!(done.contains("knows you are safe"), "{done}");
    let counted = view(&stack, &id, |all| all.safe == 2).await;
    let chinedu = counted
        .state
        .unwrap()
        .people
        .into_iter()
        .find(|person| person.member.as_ref().is_some_and(|m| m.id == "p4"))
        .unwrap();
    let answer = chinedu.answers.last().unwrap();
    assert_eq!((answer.via.as_str(), answer.by.as_str()), ("warden", "p5"));
    assert_eq!(answer.method, "reached by phone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_answer_in_chromium_and_the_officer_sees_the_counts() {
    let root = wk_e2e::workspace_root();
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `./dev setup` (npm ci in tests/browser)"
    );
    let dir = tempfile::tempdir().unwrap();
    let (stack, mut client) = headcount_stack(dir.path()).await;
    let id = start(
        &mut client,
        pb::StartHeadcountRequest {
            zones: vec!["north".into()],
            ..Default::default()
        },
    )
    .await;
    let count = |address: &str| stack.smtp.emails_to(address).len();
    assert!(
        wait_until(DEADLINE, || count("amina@staff.test") == 1
            && count("jean@visitor.test") == 1)
        .await
    );
    let mut node = tokio::process::Command::new("node");
    node.arg(root.join("tests/browser/headcount.mjs"))
        .current_dir(root.join("tests/browser"))
        .env(
            "WK_CONSOLE_URL",
            format!("http://127.0.0.1:{}/console/", stack.settings.http_port),
        )
        .env("WK_OFFICER", wk_e2e::app::OFFICER)
        .env("WK_OFFICER_PASSWORD", wk_e2e::app::OFFICER_PASSWORD)
        .env("WK_HEADCOUNT", &id)
        .env(
            "WK_HELP_ALERT",
            wk_core::AlertId::for_dedup_key(OFFICE, &format!("headcount/{id}/v1")).to_string(),
        )
        .env(
            "WK_LINK_SAFE",
            link(&stack, "amina@staff.test", "I am safe"),
        )
        .env(
            "WK_LINK_HELP",
            link(&stack, "jean@visitor.test", "I need help"),
        )
        .env("WK_SCREENSHOTS", root.join("target/browser"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), node.output())
        .await
        .expect("the browser run finishes within 3 minutes")
        .expect("node runs");
    assert!(
        output.status.success(),
        "browser test failed ({}):\n{}\n{}\n--- watchkeeper log ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        stack.app.log()
    );
    // The visitor's call for help reached Manila; nobody's words reached the log.
    assert!(
        wait_until(DEADLINE, || stack.manila.received().iter().any(|webhook| {
            webhook.json()["alert"]["title"]
                .as_str()
                .is_some_and(|title| title.contains("Jean Dupont"))
        }))
        .await
    );
    let log = stack.app.log();
    for private in [
        "Twisted ankle",
        "Guest house",
        "jean@visitor.test",
        "Jean Dupont",
    ] {
        assert!(!log.contains(private), "{private:?} in the log");
    }
}

/// 7,000 people in 40 zones of 175, two of them with an address (p-00000, a warden of
/// zone-0, and p-06999): a headcount too large for one record, started in parts.
fn large_roster(extra: &str) -> String {
    let mut text = String::from("id,name,office,country,zone,emails,warden,from,until\n");
    for index in 0..7_000 {
        let (email, warden) = match index {
            0 => ("staff-00000@staff.test", "yes"),
            6_999 => ("staff-06999@staff.test", ""),
            _ => ("", ""),
        };
        text.push_str(&format!(
            "p-{index:05},Staff Member Number {index:05},{OFFICE},NG,zone-{:02},{email},{warden},,\n",
            index % 40
        ));
    }
    text.push_str(extra);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_wide_headcount_starts_in_parts_and_counts_as_one_and_sighup_rereads_the_roster()
 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.csv");
    std::fs::write(&path, large_roster("")).unwrap();
    let stack = Stack::with_policy(
        1,
        format!("\n[headcounts]\nroster = \"{}\"\n", path.display()),
    )
    .await;
    let mut client = HeadcountsClient::new(wk_e2e::channel(&stack.app.endpoint()).await);
    let started = client
        .start_headcount(authorized(
            pb::StartHeadcountRequest {
                country: "NG".into(),
                drill: true,
                ..Default::default()
            },
            OFFICER_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((started.people, started.unreachable), (7_000, 6_998));
    let id = started.headcount_id;
    // Every part's state reached the view: the counts cover all 7,000.
    let whole = view(&stack, &id, |all| {
        all.unaccounted + all.unreachable == 7_000
    })
    .await;
    let state = whole.state.expect("state");
    assert!(state.parts >= 14, "{} parts", state.parts);
    assert_eq!(state.people.len(), 7_000);
    // Both people with an address are asked, one in the first part, one in the last.
    for address in ["staff-00000@staff.test", "staff-06999@staff.test"] {
        assert!(
            wait_until(DEADLINE, || !stack.smtp.emails_to(address).is_empty()).await,
            "no question to {address}"
        );
    }
    answer(&link(&stack, "staff-06999@staff.test", "I am safe"), &[]).await;
    view(&stack, &id, |all| all.safe == 1 && all.unaccounted == 1).await;
    client
        .close_headcount(authorized(
            pb::CloseHeadcountRequest {
                headcount_id: id.clone(),
                summary: "drill over".into(),
            },
            OFFICER_TOKEN,
        ))
        .await
        .unwrap();
    // Every part closed, each with its unaccounted.
    view_when(&stack, &id, |view| {
        view.state
            .as_ref()
            .is_some_and(|state| state.unaccounted_at_close.len() == 6_999)
    })
    .await;

    // A visitor added to the roster, the file's time kept as it was: only SIGHUP reads it.
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(
        &path,
        large_roster(&format!(
            "v-0001,Jean Dupont,{OFFICE},NG,zone-00,jean@visitor.test,,2026-01-01,2099-12-31\n"
        )),
    )
    .unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let visitor = || pb::StartHeadcountRequest {
        people: vec!["v-0001".into()],
        ..Default::default()
    };
    let refused = client
        .start_headcount(authorized(visitor(), OFFICER_TOKEN))
        .await
        .unwrap_err();
    assert!(refused.message().contains("matches nobody"), "{refused:?}");
    stack.app.hangup();
    let channel = wk_e2e::channel(&stack.app.endpoint()).await;
    let started = wait_for(DEADLINE, Duration::from_millis(100), || {
        let mut client = HeadcountsClient::new(channel.clone());
        async move {
            client
                .start_headcount(authorized(visitor(), OFFICER_TOKEN))
                .await
                .ok()
        }
    })
    .await
    .unwrap_or_else(|| panic!("the roster was not read again:\n{}", stack.app.log()));
    assert_eq!(started.into_inner().people, 1);
    assert!(stack.app.log().contains("SIGHUP"));
}
