//! What both console benchmarks build: a console on a view holding `open` alerts, with the
//! actions' producer on librdkafka's in-memory mock cluster (nothing here is produced).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use prost::Message as _;
use wk_core::Timestamp;
use wk_core::headcount::{Answer, Headcount, HeadcountId, Reply, Roster, Scope, Start, Via, split};

use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use wk_api::auth::Authenticator;
use wk_api::console::ConsoleService;
use wk_api::view::StateView;
use wk_bus::producer::Producer;
use wk_core::alert::AlertId;
use wk_core::config::Config;
use wk_proto::v1 as pb;

pub const OFFICER: &str = "bench.officer";
pub const PASSWORD: &str = "bench officer passphrase";

pub struct Console {
    pub router: axum::Router,
    pub view: StateView,
    pub headcounts: Option<Arc<wk_api::headcounts::HeadcountService>>,
    pub cluster: MockCluster<'static, DefaultProducerContext>,
}

pub fn console() -> Console {
    console_with(None)
}

/// A console whose `[headcounts]` roster is the file at `roster`, when given.
pub fn console_with(roster: Option<&std::path::Path>) -> Console {
    let headcounts = roster
        .map(|path| {
            format!(
                "[headcounts]\nroster = \"{}\"\n[links]\nbase_url = \"http://127.0.0.1:9\"\n\
                 secret = \"bench-links-secret-0123456789abcdef\"\n",
                path.display()
            )
        })
        .unwrap_or_default();
    let cluster = MockCluster::new(1).expect("mock cluster");
    let params = argon2::Params::new(1024, 1, 1, None).expect("params");
    let hash = wk_web::password::hash_with(PASSWORD, params).expect("hash");
    let text = format!(
        r#"
[kafka]
brokers = "{brokers}"
[api]
listen = "127.0.0.1:0"
http_listen = "127.0.0.1:0"
[web]
time_zone = "Asia/Manila"
session_max = "24h"
[[offices]]
id = "ng-maiduguri"
token_sha256 = "{token}"
[[duty_officers]]
id = "{OFFICER}"
token_sha256 = "{officer_token}"
password_argon2 = "{hash}"
[consoles.manila]
webhook_url = "http://127.0.0.1:9/hook"
signing_secret = "manila-secret-0123456789"
[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
from = "Watchkeeper <alerts@example.org>"
[dispatcher]
console = "manila"
{headcounts}
"#,
        brokers = cluster.bootstrap_servers(),
        token = "1".repeat(64),
        officer_token = "3".repeat(64),
    );
    let config = Config::from_toml(&text, Vec::new()).expect("valid configuration");
    let view = StateView::default();
    let console = Arc::new(ConsoleService::new(
        Authenticator::new(&config.offices, &config.duty_officers),
        Producer::new(&config.kafka).expect("producer"),
        config.kafka.alerts_topic.clone(),
        view.clone(),
        config.kafka.produce_timeout,
    ));
    let mut web = wk_web::WebState::new(&config, console.clone(), view.clone());
    if let Some(settings) = &config.headcounts {
        let service = wk_api::headcounts::HeadcountService::new(
            Authenticator::new(&config.offices, &config.duty_officers),
            Producer::new(&config.kafka).expect("producer"),
            config.kafka.alerts_topic.clone(),
            config.kafka.produce_timeout,
            settings.clone(),
            config
                .offices
                .iter()
                .map(|office| office.id.clone())
                .collect(),
        )
        .expect("roster");
        web = web.with_headcounts(Arc::new(service));
    }
    let web = Arc::new(web);
    let http = wk_api::http::HttpState {
        console,
        links: None,
        consoles: config.consoles.clone(),
    };
    Console {
        headcounts: web.headcounts.clone(),
        router: wk_web::app(http, web),
        view,
        cluster,
    }
}

/// A realistic open alert: 6 timeline entries, 2 notifications, labels, a description.
pub fn state(n: u64, now_s: i64) -> (AlertId, pb::EscalationState) {
    let id = AlertId::for_dedup_key("ng-maiduguri", &format!("bench-{n}"));
    let at = |s: i64| {
        Some(prost_types::Timestamp {
            seconds: s,
            nanos: 0,
        })
    };
    let severity = [1, 2, 2, 3, 3, 4][(n % 6) as usize];
    let state = pb::EscalationState {
        alert_id: id.to_string(),
        incident: 1,
        status: if n.is_multiple_of(5) { 2 } else { 1 },
        step: 0,
        occurrences: 1 + (n % 3) as u32,
        first_seen: at(now_s - (n as i64 % 86_400)),
        last_seen: at(now_s),
        step_timer: at(now_s + 300),
        route: "default".into(),
        chain: Some(pb::Chain {
            id: "default".into(),
            steps: vec![pb::ChainStep {
                timeout_ms: 300_000,
                targets: vec!["console:manila".into()],
            }],
            ..Default::default()
        }),
        notifications: vec![
            pb::Notification {
                id: format!("{id}.i1.r0.s0.webhook-manila"),
                recipient: Some(pb::notification::Recipient::WebhookConsole("manila".into())),
                purpose: 1,
                status: 2,
                ..Default::default()
            },
            pb::Notification {
                id: format!("{id}.i1.r0.s0.email-1"),
                recipient: Some(pb::notification::Recipient::EmailAddress(
                    "duty.manila@example.org".into(),
                )),
                purpose: 1,
                status: 2,
                ..Default::default()
            },
        ],
        timeline: (0..6)
            .map(|i| pb::TimelineEntry {
                since_first_seen_ms: None,
                at: at(now_s - 60 + i),
                event: Some(pb::timeline_entry::Event::Notified(format!(
                    "{id}.i1.r0.s0.webhook-manila"
                ))),
            })
            .collect(),
        alert: Some(pb::Alert {
            office_id: "ng-maiduguri".into(),
            severity,
            category: 1,
            title: format!("Checkpoint closed on the A3 near km {n}"),
            description: "Two vehicles blocking the road; staff turned back. ".repeat(4),
            country: "NG".into(),
            place: "Maiduguri".into(),
            labels: [("team".to_owned(), "wash".to_owned())]
                .into_iter()
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    (id, state)
}

/// The `name=value` of a `Set-Cookie` header.
pub fn cookie_of(set_cookie: &axum::http::HeaderValue) -> String {
    set_cookie
        .to_str()
        .ok()
        .and_then(|text| text.split(';').next())
        .expect("a cookie")
        .to_owned()
}

/// The CSRF token a console page carries in its `<meta name="csrf">`.
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a console page carries its CSRF token")
        .to_owned()
}

/// Signs the bench officer in through the router; the session cookie.
pub async fn sign_in(router: &axum::Router) -> String {
    let form = router
        .clone()
        .oneshot(
            Request::get("/console/sign-in")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let cookie = cookie_of(&form.headers()[header::SET_COOKIE]);
    let body = String::from_utf8(
        form.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let csrf = csrf_of(&body);
    let form = format!(
        "csrf={csrf}&user={}&password={}",
        OFFICER,
        PASSWORD.replace(' ', "+")
    );
    let reply = router
        .clone()
        .oneshot(
            Request::post("/console/sign-in")
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap(),
        )
        .await
        .unwrap();
    reply
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("wk_session="))
        .expect("signed in")
}

/// `people` staff of ng-maiduguri in zones of 100, the first of each a warden.
pub fn roster(people: usize) -> String {
    let mut text = String::from("id,name,office,country,zone,emails,warden,from,until\n");
    for n in 0..people {
        let warden = if n % 100 == 0 { "yes" } else { "" };
        text.push_str(&format!(
            "p-{n:05},Staff Member {n:05},ng-maiduguri,NG,zone-{:03},staff-{n:05}@staff.test,{warden},,\n",
            n / 100
        ));
    }
    text
}

/// A headcount of everyone on `roster` in its parts, as the api's follower gets their state
/// records (of every 30 people: 1 needs help, 2 are not in the area, 17 are safe, 10 have not
/// answered); and the records' total bytes.
pub fn headcount_parts(roster: &Roster) -> (Vec<pb::HeadcountState>, usize) {
    let at = Timestamp::from_unix_millis(1_795_000_000_000);
    let day: jiff::civil::Date = "2026-12-01".parse().unwrap();
    let start = Start {
        id: HeadcountId("019ad2c0-bench".into()),
        started_by: OFFICER.into(),
        drill: false,
        alert: None,
        scope: "country NG".into(),
        cycle_ms: 15 * 60_000,
        cycles: 4,
        members: roster.select(&Scope::Country("NG".into()), day),
        part: 0,
        parts: 1,
        contacts: Vec::new(),
    };
    let mut bytes = 0;
    let states = split(start)
        .into_iter()
        .map(|part| {
            let members: Vec<String> = part.members.iter().map(|m| m.id.clone()).collect();
            let mut headcount = Headcount::start(part, at);
            while headcount.poll_action().is_some() {}
            for (n, person) in members.iter().enumerate() {
                let reply = match n % 30 {
                    0 => Reply::NeedHelp,
                    1 | 2 => Reply::NotInArea,
                    3..=19 => Reply::Safe,
                    _ => continue,
                };
                let answer = Answer {
                    reply,
                    at: at.saturating_add_millis(60_000),
                    via: Via::Link,
                    text: String::new(),
                    place: String::new(),
                    late: false,
                };
                headcount.handle_answer(person, answer);
            }
            let record = wk_bus::headcount_codec::encode_headcount(&headcount.snapshot(), 1);
            bytes += record.len();
            match pb::StateRecord::decode(&record[..]).unwrap().machine {
                Some(pb::state_record::Machine::Headcount(state)) => state,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    (states, bytes)
}
