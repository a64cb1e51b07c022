//! The console's handlers without a browser (tower `oneshot`): sign-in, sessions, CSRF and
//! Origin, roles, escaping of hostile text, security headers and the live stream. Officers'
//! actions are produced to librdkafka's in-memory mock cluster, a real Kafka protocol peer.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use tower::ServiceExt as _;
use wk_api::auth::Authenticator;
use wk_api::console::ConsoleService;
use wk_api::view::StateView;
use wk_bus::producer::Producer;
use wk_core::alert::AlertId;
use wk_core::config::Config;
use wk_proto::v1 as pb;

const OFFICER_PASSWORD: &str = "officer passphrase one";
const OFFICE_PASSWORD: &str = "office passphrase two";
const HOSTILE_TITLE: &str = "<script>alert('title')</script>";
const HOSTILE_LABEL: &str = "\"><img src=x onerror=alert('label')>";

fn cheap_hash(password: &str) -> String {
    let params = argon2::Params::new(1024, 1, 1, None).expect("params");
    wk_web::password::hash_with(password, params).expect("hash")
}

struct App {
    router: Router,
    view: StateView,
    offices: wk_api::offices::OfficesView,
    silences: tokio::sync::watch::Sender<Arc<wk_core::silence::SilenceBook>>,
    _cluster: MockCluster<'static, DefaultProducerContext>,
}

fn config(brokers: &str, free_attempts: u32) -> Config {
    let text = format!(
        r#"
[kafka]
brokers = "{brokers}"
alerts_topic = "alerts"
produce_timeout = "5s"

[api]
listen = "127.0.0.1:0"
http_listen = "127.0.0.1:0"

[web]
time_zone = "Asia/Manila"
free_attempts = {free_attempts}

[[offices]]
id = "ng-maiduguri"
name = "Maiduguri sub-office"
token_sha256 = "{office_token}"
password_argon2 = "{office_hash}"

[[offices]]
id = "ss-juba"
token_sha256 = "{juba_token}"
country = "SS"
place = "Juba"
time_zone = "Africa/Juba"
check_in = {{ every = "6h" }}

[[duty_officers]]
id = "maria.santos"
name = "Maria Santos"
token_sha256 = "{officer_token}"
password_argon2 = "{officer_hash}"

[consoles.manila]
webhook_url = "http://127.0.0.1:9/hook"
signing_secret = "manila-secret-0123456789"
emails = ["duty.manila@example.org"]

[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
from = "Watchkeeper <alerts@example.org>"

[dispatcher]
console = "manila"
"#,
        office_token = "1".repeat(64),
        juba_token = "2".repeat(64),
        officer_token = "3".repeat(64),
        office_hash = cheap_hash(OFFICE_PASSWORD),
        officer_hash = cheap_hash(OFFICER_PASSWORD),
    );
    Config::from_toml(&text, Vec::new()).expect("valid configuration")
}

fn app_with(free_attempts: u32) -> App {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster
        .create_topic("watchkeeper.silences", 1, 1)
        .expect("silences topic");
    let config = config(&cluster.bootstrap_servers(), free_attempts);
    let view = StateView::default();
    let producer = Producer::new(&config.kafka).expect("producer");
    let authenticator = Authenticator::new(&config.offices, &config.duty_officers);
    let console = Arc::new(ConsoleService::new(
        authenticator.clone(),
        producer.clone(),
        config.kafka.alerts_topic.clone(),
        view.clone(),
        config.kafka.produce_timeout,
    ));
    let offices = wk_api::offices::OfficesView::new(&config.offices);
    let (silences, book) = tokio::sync::watch::channel(Arc::default());
    let silence_service = Arc::new(wk_api::silences::SilenceService::new(
        &config,
        authenticator.clone(),
        producer.clone(),
        book,
        view.clone(),
    ));
    let check_ins = Arc::new(wk_api::checkin::CheckIns::new(
        authenticator.clone(),
        producer,
        config.kafka.alerts_topic.clone(),
        config.kafka.produce_timeout,
        &config.offices,
    ));
    let web = Arc::new(
        wk_web::WebState::new(&config, console.clone(), view.clone())
            .with_offices(Arc::new(wk_api::offices::OfficeService::new(
                authenticator,
                offices.clone(),
                check_ins,
            )))
            .with_silences(silence_service),
    );
    let http = wk_api::http::HttpState {
        console,
        links: None,
        consoles: config.consoles.clone(),
    };
    App {
        router: wk_web::app(http, web),
        view,
        offices,
        silences,
        _cluster: cluster,
    }
}

fn app() -> App {
    app_with(5)
}

impl App {
    /// An open alert of `office` under `key` appears in the api's view.
    fn observe(&self, office: &str, key: &str, title: &str, severity: pb::Severity) -> String {
        observe(&self.view, office, key, title, severity)
    }
}

fn observe(
    view: &StateView,
    office: &str,
    key: &str,
    title: &str,
    severity: pb::Severity,
) -> String {
    let id = AlertId::for_dedup_key(office, key);
    let state = pb::EscalationState {
        alert_id: id.to_string(),
        incident: 1,
        status: pb::AlertStatus::Open as i32,
        occurrences: 1,
        first_seen: Some(prost_types::Timestamp {
            seconds: 1_790_000_000,
            nanos: 0,
        }),
        alert: Some(pb::Alert {
            office_id: office.into(),
            severity: severity as i32,
            category: pb::Category::SecurityIncident as i32,
            title: title.into(),
            description: format!("{HOSTILE_TITLE} in the description"),
            country: "NG".into(),
            place: "Maiduguri".into(),
            labels: [("source".to_owned(), HOSTILE_LABEL.to_owned())]
                .into_iter()
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    view.observe(id, state);
    id.to_string()
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().iter().find_map(|c| {
            let (pair, _) = c.split_once(';')?;
            let (key, value) = pair.split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_owned())
        })
    }

    /// The value of `<input … name="csrf" value="…">` or `<meta name="csrf" content="…">`.
    fn csrf(&self) -> String {
        let after = self
            .body
            .split("name=\"csrf\" content=\"")
            .nth(1)
            .expect("a csrf meta tag");
        after.split('"').next().expect("closing quote").to_owned()
    }
}

async fn send(app: &App, request: Request<Body>) -> Reply {
    let response = app
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path).header(header::HOST, "console.test");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::empty()).expect("request")
}

fn post(path: &str, cookie: &str, origin: Option<&str>, form: &[(&str, &str)]) -> Request<Body> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request = Request::post(path)
        .header(header::HOST, "console.test")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    request.body(Body::from(body)).expect("request")
}

const ORIGIN: &str = "http://console.test";

/// Signs in; returns the session cookie (`wk_session=…`) and the board's CSRF token.
async fn sign_in(app: &App, user: &str, password: &str) -> (String, String) {
    let form = send(app, get("/console/sign-in", None)).await;
    assert_eq!(form.status, StatusCode::OK);
    let pre = format!(
        "wk_sign_in={}",
        form.cookie("wk_sign_in").expect("sign-in cookie")
    );
    let csrf = form.csrf();
    let reply = send(
        app,
        post(
            "/console/sign-in",
            &pre,
            Some(ORIGIN),
            &[("csrf", &csrf), ("user", user), ("password", password)],
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let session = reply.cookie("wk_session").expect("session cookie");
    let set = reply.cookies().join("\n");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = format!("wk_session={session}");
    let board = send(app, get("/console/", Some(&cookie))).await;
    assert_eq!(board.status, StatusCode::OK);
    (cookie, board.csrf())
}

#[tokio::test]
async fn a_duty_officer_signs_in_sees_the_board_and_signs_out() {
    let app = app();
    app.observe(
        "ng-maiduguri",
        "k1",
        "Checkpoint closed on the A3",
        pb::Severity::Critical,
    );
    // Not signed in: sent to the sign-in page.
    let reply = send(&app, get("/console/", None)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers[header::LOCATION], "sign-in");

    let (cookie, csrf) = sign_in(&app, "maria.santos", OFFICER_PASSWORD).await;
    let board = send(&app, get("/console/", Some(&cookie))).await;
    assert!(board.body.contains("Checkpoint closed on the A3"));
    assert!(board.body.contains("Maria Santos"));
    assert!(board.body.contains("Critical"), "severity as text");
    assert!(
        board.body.contains("<title>(1) Board"),
        "unacknowledged count in the title"
    );
    assert!(
        board.body.contains("PST"),
        "times in the officer's zone (Asia/Manila)"
    );

    let out = send(
        &app,
        post(
            "/console/sign-out",
            &cookie,
            Some(ORIGIN),
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let reply = send(&app, get("/console/", Some(&cookie))).await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "the session is gone after sign-out"
    );
}

#[tokio::test]
async fn the_boards_free_text_search_reads_the_whole_alert() {
    let app = app();
    app.observe(
        "ng-maiduguri",
        "k1",
        "Checkpoint closed on the A3",
        pb::Severity::Critical,
    );
    app.observe(
        "ng-maiduguri",
        "k2",
        "Flooding near the warehouse",
        pb::Severity::Warning,
    );
    let (cookie, _) = sign_in(&app, "maria.santos", OFFICER_PASSWORD).await;
    let board = send(&app, get("/console/?q=checkpoint+A3", Some(&cookie))).await;
    assert_eq!(board.status, StatusCode::OK);
    assert!(
        board.body.contains("Checkpoint closed on the A3"),
        "{}",
        board.body
    );
    assert!(!board.body.contains("Flooding near the warehouse"));
    let board = send(&app, get("/console/?q=WAREHOUSE", Some(&cookie))).await;
    assert!(board.body.contains("Flooding near the warehouse"));
    assert!(!board.body.contains("Checkpoint closed on the A3"));
    let board = send(&app, get("/console/?q=juba", Some(&cookie))).await;
    assert!(!board.body.contains("Checkpoint closed") && !board.body.contains("Flooding"));
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_slowed_down() {
    let app = app_with(2);
    let form = send(&app, get("/console/sign-in", None)).await;
    let pre = format!("wk_sign_in={}", form.cookie("wk_sign_in").expect("cookie"));
    let csrf = form.csrf();
    let attempt = |password: &'static str| {
        post(
            "/console/sign-in",
            &pre,
            Some(ORIGIN),
            &[
                ("csrf", &csrf),
                ("user", "maria.santos"),
                ("password", password),
            ],
        )
    };
    for _ in 0..2 {
        let reply = send(&app, attempt("wrong")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(reply.body.contains("not recognised"));
    }
    let reply = send(&app, attempt("wrong")).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "the third failure is counted"
    );
    // Now even the right password must wait.
    let reply = send(&app, attempt(OFFICER_PASSWORD)).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.body.contains("Too many failed sign-ins"));
    // An unknown account is refused like a wrong password.
    let reply = send(
        &app,
        post(
            "/console/sign-in",
            &pre,
            Some(ORIGIN),
            &[("csrf", &csrf), ("user", "nobody"), ("password", "x")],
        ),
    )
    .await;
    assert!(matches!(
        reply.status,
        StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
    ));
}

#[tokio::test]
async fn sign_in_needs_its_forms_token() {
    let app = app();
    let reply = send(
        &app,
        post(
            "/console/sign-in",
            "wk_sign_in=abc",
            Some(ORIGIN),
            &[
                ("csrf", "other"),
                ("user", "maria.santos"),
                ("password", OFFICER_PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.cookie("wk_session").is_none());
}

/// Every POST of the console is refused without its form's token, with a wrong one, from
/// another origin (403) and under a session the server never issued (401); `fields` is the
/// form without its token.
async fn assert_post_checked(
    app: &App,
    path: &str,
    cookie: &str,
    csrf: &str,
    fields: &[(&str, &str)],
) {
    let mut wrong = fields.to_vec();
    wrong.push(("csrf", "0000"));
    let mut genuine = fields.to_vec();
    genuine.push(("csrf", csrf));
    let attempts = [
        (
            "no token",
            post(path, cookie, Some(ORIGIN), fields),
            StatusCode::FORBIDDEN,
        ),
        (
            "a wrong token",
            post(path, cookie, Some(ORIGIN), &wrong),
            StatusCode::FORBIDDEN,
        ),
        (
            "another origin",
            post(path, cookie, Some("https://evil.example"), &genuine),
            StatusCode::FORBIDDEN,
        ),
        (
            "a forged session",
            post(path, "wk_session=forged", Some(ORIGIN), &genuine),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (what, request, refusal) in attempts {
        let reply = send(app, request).await;
        assert_eq!(reply.status, refusal, "{path} with {what}: {}", reply.body);
    }
}

#[tokio::test]
async fn posts_without_the_csrf_token_or_from_another_origin_are_refused() {
    let app = app();
    let id = app.observe(
        "ng-maiduguri",
        "k1",
        "Convoy stopped",
        pb::Severity::Critical,
    );
    let (cookie, csrf) = sign_in(&app, "maria.santos", OFFICER_PASSWORD).await;
    let path = format!("/console/alerts/{id}/acknowledge");
    assert_post_checked(&app, &path, &cookie, &csrf, &[("incident", "1")]).await;
    // The same request, from this console with its token, is recorded (the mock broker
    // acknowledged the action) and leads back to the alert.
    let ok = send(
        &app,
        post(
            &path,
            &cookie,
            Some(ORIGIN),
            &[("csrf", &csrf), ("incident", "1")],
        ),
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.headers[header::LOCATION], format!("../{id}"));
    // A note needs text.
    let empty = send(
        &app,
        post(
            &format!("/console/alerts/{id}/note"),
            &cookie,
            Some(ORIGIN),
            &[("csrf", &csrf), ("text", "  ")],
        ),
    )
    .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_office_sees_only_its_own_alerts_and_acts_on_none() {
    let app = app();
    let own = app.observe("ng-maiduguri", "k1", "Our compound", pb::Severity::Critical);
    let other = app.observe("ss-juba", "k1", "Juba road closed", pb::Severity::Emergency);
    let (cookie, csrf) = sign_in(&app, "ng-maiduguri", OFFICE_PASSWORD).await;
    let board = send(&app, get("/console/", Some(&cookie))).await;
    assert!(board.body.contains("Our compound"));
    assert!(!board.body.contains("Juba road closed"));
    assert!(
        !board.body.contains("bulk-acknowledge"),
        "no actions for an office"
    );
    let page = send(
        &app,
        get(&format!("/console/alerts/{other}"), Some(&cookie)),
    )
    .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("Juba road closed"));
    let page = send(&app, get(&format!("/console/alerts/{own}"), Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Acknowledge</button>"));
    let act = send(
        &app,
        post(
            &format!("/console/alerts/{own}/acknowledge"),
            &cookie,
            Some(ORIGIN),
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(act.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn hostile_text_is_escaped_everywhere() {
    let app = app();
    let id = app.observe("ng-maiduguri", "k1", HOSTILE_TITLE, pb::Severity::Emergency);
    let (cookie, _) = sign_in(&app, "maria.santos", OFFICER_PASSWORD).await;
    for path in [
        "/console/".to_owned(),
        format!("/console/alerts/{id}"),
        "/console/rows".to_owned(),
    ] {
        let reply = send(&app, get(&path, Some(&cookie))).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(
            !reply.body.contains("<script>alert"),
            "{path}: {}",
            reply.body
        );
        assert!(!reply.body.contains("<img src=x"), "{path}");
        assert!(
            reply.body.contains("alert(") || path.ends_with("rows"),
            "{path}: the text is shown, as text"
        );
    }
    let page = send(&app, get(&format!("/console/alerts/{id}"), Some(&cookie))).await;
    assert!(
        page.body.contains("&lt;script&gt;") || page.body.contains("&#60;script&#62;"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn every_page_carries_a_strict_content_security_policy() {
    let app = app();
    for path in [
        "/console/sign-in",
        "/console/static/console.js",
        "/a/x/acknowledge",
        "/healthz",
    ] {
        let reply = send(&app, get(path, None)).await;
        let csp = reply.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
            "{path}: {csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(reply.headers[header::X_FRAME_OPTIONS], "DENY");
    }
    // No page carries inline script or style.
    let sign_in = send(&app, get("/console/sign-in", None)).await;
    assert!(!sign_in.body.contains("<script>") && !sign_in.body.contains("style="));
}

/// Opens the event stream at `request`; its body.
async fn stream(app: &App, request: Request<Body>) -> Body {
    app.router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible")
        .into_body()
}

async fn next_event(body: &mut Body) -> String {
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    text
}

#[tokio::test]
async fn the_live_stream_sends_changes_and_replays_what_a_reconnection_missed() {
    let app = app();
    let (cookie, _) = sign_in(&app, "maria.santos", OFFICER_PASSWORD).await;
    let seq = app.view.seq();
    let response = app
        .router
        .clone()
        .oneshot(get(&format!("/console/events?after={seq}"), Some(&cookie)))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let id = app.observe("ng-maiduguri", "k9", HOSTILE_TITLE, pb::Severity::Critical);
    let event = next_event(&mut body).await;
    assert!(event.starts_with("event: row"), "{event}");
    assert!(event.contains(&id));
    assert!(event.contains(&format!("id: {}", seq + 1)), "{event}");
    assert!(!event.contains("<script>"), "rendered, escaped: {event}");
    drop(body);

    // Two more changes while disconnected; resuming from `seq + 1` replays both, in order.
    app.observe("ng-maiduguri", "k10", "Second", pb::Severity::Warning);
    app.observe("ng-maiduguri", "k11", "Third", pb::Severity::Info);
    let request = Request::get("/console/events")
        .header(header::COOKIE, &cookie)
        .header("last-event-id", (seq + 1).to_string())
        .body(Body::empty())
        .expect("request");
    let mut body = stream(&app, request).await;
    let second = next_event(&mut body).await;
    assert!(
        second.contains("Second") && second.contains(&format!("id: {}", seq + 2)),
        "{second}"
    );
    let third = next_event(&mut body).await;
    assert!(
        third.contains("Third") && third.contains(&format!("id: {}", seq + 3)),
        "{third}"
    );

    // The board's filters apply to the stream: a critical alert is `gone` from a board that
    // shows emergencies only.
    let seq = app.view.seq();
    let request = Request::get(format!("/console/events?min=emergency&after={seq}"))
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .expect("request");
    let mut body = app
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible")
        .into_body();
    app.observe(
        "ng-maiduguri",
        "k12",
        "Critical only",
        pb::Severity::Critical,
    );
    let event = next_event(&mut body).await;
    assert!(event.starts_with("event: gone"), "{event}");
    drop(body);

    // From a number this process never issued (it restarted): reload.
    let mut body = stream(&app, get("/console/events?after=999999", Some(&cookie))).await;
    let event = next_event(&mut body).await;
    assert!(event.starts_with("event: reload"), "{event}");
}

/// The officer actions produced to the (mock) alerts topic: (alert id, actor, channel).
fn produced_actions(app: &App, expected: usize) -> Vec<(String, String, String)> {
    produced(app, expected, |event| match event.event {
        Some(pb::alert_event::Event::Acknowledged(by)) => {
            Some((event.alert_id, by.actor, by.channel))
        }
        _ => None,
    })
}

/// The first `expected` records on the (mock) alerts topic that `pick` takes.
fn produced<T>(app: &App, expected: usize, pick: impl Fn(pb::AlertEvent) -> Option<T>) -> Vec<T> {
    use prost::Message as _;
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    use rdkafka::message::Message as _;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", app._cluster.bootstrap_servers())
        .set("group.id", "handler-test")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&["alerts"]).expect("subscribe");
    let mut found = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while found.len() < expected && std::time::Instant::now() < deadline {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let event =
            pb::AlertEvent::decode(message.payload().unwrap_or_default()).expect("an AlertEvent");
        found.extend(pick(event));
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_acknowledgement_records_each_alert_as_the_officer_on_the_console_channel() {
    let app = app();
    let a = app.observe("ng-maiduguri", "b1", "First", pb::Severity::Critical);
    let b = app.observe("ng-maiduguri", "b2", "Second", pb::Severity::Warning);
    let (cookie, csrf) = sign_in(&app, "maria.santos", OFFICER_PASSWORD).await;
    let first = format!("{a}:1");
    let second = format!("{b}:1");
    let mut request = post(
        "/console/bulk-acknowledge",
        &cookie,
        Some(ORIGIN),
        &[
            ("csrf", &csrf),
            ("alert", &first),
            ("alert", &second),
            ("alert", "not-an-alert"),
        ],
    );
    request
        .headers_mut()
        .insert("x-requested-with", "watchkeeper".parse().expect("header"));
    let reply = send(&app, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.body.contains("2 alert(s) acknowledged; 1 not"),
        "{}",
        reply.body
    );
    let mut produced = produced_actions(&app, 2);
    produced.sort();
    let mut expected = vec![
        (a, "maria.santos".to_owned(), "console".to_owned()),
        (b, "maria.santos".to_owned(), "console".to_owned()),
    ];
    expected.sort();
    assert_eq!(produced, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_offices_page_shows_the_watches_live_and_officers_pause_them_on_the_console_channel() {
    let app = app();
    let (cookie, csrf) = sign_in(&app, "maria.santos", OFFICER_PASSWORD).await;
    let page = send(&app, get("/console/offices", Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("ss-juba") && page.body.contains("every 6h"),
        "{}",
        page.body
    );
    assert!(page.body.contains("watch-new"), "never checked in: new");
    assert!(
        !page.body.contains("ng-maiduguri ·"),
        "an office without a schedule is not listed"
    );
    assert!(page.body.contains("offices/ss-juba/pause"));

    // Without its token, or from elsewhere: refused, nothing produced.
    assert_post_checked(
        &app,
        "/console/offices/ss-juba/pause",
        &cookie,
        &csrf,
        &[("reason", "x")],
    )
    .await;
    // A reason is required, hours are whole.
    let reply = send(
        &app,
        post(
            "/console/offices/ss-juba/pause",
            &cookie,
            Some(ORIGIN),
            &[("csrf", &csrf), ("reason", " "), ("hours", "")],
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);

    // The live stream sends the table again when a watch changes.
    // From where the page stands (its data-seq): nothing until a change.
    let seq = page
        .body
        .split("data-seq=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's version")
        .to_owned();
    let mut events = stream(
        &app,
        get(
            &format!("/console/offices/events?after={seq}"),
            Some(&cookie),
        ),
    )
    .await;

    let reply = send(
        &app,
        post(
            "/console/offices/ss-juba/pause",
            &cookie,
            Some(ORIGIN),
            &[
                ("csrf", &csrf),
                ("reason", "Generator test <b>"),
                ("hours", "4"),
            ],
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let paused = produced(&app, 1, |event| match event.event {
        Some(pb::alert_event::Event::Paused(pause)) => Some((event.office_id, pause)),
        _ => None,
    });
    let [(office, pause)] = paused.as_slice() else {
        panic!("{paused:?}")
    };
    assert_eq!(office, "ss-juba");
    assert_eq!(pause.reason, "Generator test <b>");
    let by = pause.by.as_ref().expect("by");
    assert_eq!(
        (by.actor.as_str(), by.channel.as_str()),
        ("maria.santos", "console")
    );
    assert!(pause.until.is_some());

    // The dispatcher's state for it comes back through the changelog.
    app.offices.observe(pb::OfficeWatchState {
        office_id: "ss-juba".into(),
        status: pb::WatchStatus::Paused as i32,
        pause: Some(pb::PauseRecord {
            at: Some(prost_types::Timestamp {
                seconds: 1_795_000_000,
                nanos: 0,
            }),
            pause: Some(pause.clone()),
        }),
        ..Default::default()
    });
    let event = next_event(&mut events).await;
    assert!(event.starts_with("event: offices"), "{event}");
    // Escaped in the fragment as everywhere.
    assert!(event.contains("Generator test &#60;b&#62;"), "{event}");
    assert!(!event.contains("<b>"), "{event}");
    assert!(event.contains("offices/ss-juba/resume"), "{event}");

    // A page that missed a change (rendered before it, subscribed after) gets the table at once.
    let mut late = stream(
        &app,
        get(
            &format!("/console/offices/events?after={seq}"),
            Some(&cookie),
        ),
    )
    .await;
    let event = next_event(&mut late).await;
    assert!(event.contains("watch-paused"), "{event}");

    // A field office sees only its own watch (none here) and no forms.
    let (office_cookie, _) = sign_in(&app, "ng-maiduguri", OFFICE_PASSWORD).await;
    let page = send(&app, get("/console/offices", Some(&office_cookie))).await;
    assert!(
        page.body.contains("No office has a check-in schedule"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("ss-juba"));
}

/// Follows the (mock) silences topic into the app's book, as the binary's follower does.
fn follow_silences(
    app: &App,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    use rdkafka::message::Message as _;
    let servers = app._cluster.bootstrap_servers();
    let sender = app.silences.clone();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", servers)
            .set("group.id", "silences-follower")
            .set("auto.offset.reset", "earliest")
            .set("topic.metadata.refresh.interval.ms", "200")
            .create()
            .expect("consumer");
        let mut partitions = rdkafka::TopicPartitionList::new();
        partitions
            .add_partition_offset("watchkeeper.silences", 0, rdkafka::Offset::Beginning)
            .expect("partition");
        consumer.assign(&partitions).expect("assign");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut book = wk_core::silence::SilenceBook::default();
        while std::time::Instant::now() < deadline
            && !stop.load(std::sync::atomic::Ordering::Relaxed)
        {
            let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let silence =
                wk_bus::silence_codec::decode_silence(message.payload().unwrap_or_default())
                    .expect("a silence record");
            book.insert(silence);
            sender.send_replace(Arc::new(book.clone()));
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn officers_create_preview_and_expire_silences_and_the_board_marks_what_they_hold() {
    let app = app();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let follower = follow_silences(&app, stop.clone());
    let (cookie, csrf) = sign_in(&app, "maria.santos", OFFICER_PASSWORD).await;
    let held = app.observe(
        "ng-maiduguri",
        "gen",
        "Generator test",
        pb::Severity::Warning,
    );
    let emergency = app.observe("ng-maiduguri", "gate", "Armed men", pb::Severity::Emergency);
    let form = [
        ("csrf", csrf.as_str()),
        ("matchers", "office=\"ng-maiduguri\""),
        ("duration", "2h"),
        ("comment", "generator <test>"),
    ];
    // A preview names what it would match, and what it may not silence.
    let preview = send(
        &app,
        post("/console/silences/preview", &cookie, Some(ORIGIN), &form),
    )
    .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains(&format!("alerts/{held}")),
        "{}",
        preview.body
    );
    assert!(
        preview
            .body
            .contains("not silenced: emergency alerts are never silenced"),
        "{}",
        preview.body
    );
    // Bad matchers are refused with the field named; a POST without the token is refused.
    let bad = [
        ("csrf", csrf.as_str()),
        ("matchers", "severity=~\"(\""),
        ("duration", "2h"),
        ("comment", "x"),
    ];
    let refused = send(&app, post("/console/silences", &cookie, Some(ORIGIN), &bad)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("matchers[0]"), "{}", refused.body);
    assert_post_checked(&app, "/console/silences", &cookie, &csrf, &form[1..]).await;
    // Created: durable on the topic, listed (escaped) with who and why.
    let created = send(
        &app,
        post("/console/silences", &cookie, Some(ORIGIN), &form),
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let page = send(&app, get("/console/silences", Some(&cookie))).await;
    assert!(
        page.body.contains("generator &#60;test&#62;"),
        "{}",
        page.body
    );
    assert!(page.body.contains("maria.santos"));
    let book = app.silences.borrow().clone();
    let silence = book.iter().next().expect("the silence").clone();
    assert_eq!(silence.created_by, "maria.santos");
    // The dispatcher marks the alert it holds; the board shows the badge and filters by it.
    let mut state = app.view.get(held.parse().unwrap()).unwrap();
    state.silence = Some(pb::Silencing {
        silence: silence.id.clone(),
        by: "maria.santos".into(),
        until: Some(prost_types::Timestamp {
            seconds: 1_790_007_200,
            nanos: 0,
        }),
        comment: "generator <test>".into(),
        exempt: String::new(),
    });
    app.view.observe(held.parse().unwrap(), state);
    let board = send(&app, get("/console/?silenced=yes", Some(&cookie))).await;
    assert!(
        board.body.contains("silenced by maria.santos until"),
        "{}",
        board.body
    );
    assert!(board.body.contains(&format!("alert-{held}")));
    assert!(
        !board.body.contains(&format!("alert-{emergency}")),
        "filtered out"
    );
    let board = send(&app, get("/console/?silenced=no", Some(&cookie))).await;
    assert!(!board.body.contains(&format!("alert-{held}")));
    // Expired early: the end is now, nothing deleted.
    let expire = send(
        &app,
        post(
            &format!("/console/silences/{}/expire", silence.id),
            &cookie,
            Some(ORIGIN),
            &[("csrf", csrf.as_str())],
        ),
    )
    .await;
    assert_eq!(expire.status, StatusCode::SEE_OTHER, "{}", expire.body);
    let book = app.silences.borrow().clone();
    let expired = book.get(&silence.id).expect("still there");
    assert_eq!(
        expired.expired.as_ref().map(|e| e.by.as_str()),
        Some("maria.santos")
    );
    let page = send(&app, get("/console/silences", Some(&cookie))).await;
    assert!(
        page.body.contains("expired early by maria.santos"),
        "{}",
        page.body
    );
    // The follower's consumer goes before the mock cluster does.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    follower.await.expect("follower");
    drop(app);
}
