use super::*;
use crate::alert::{AlertId, Category, Severity};
use crate::escalation::{Action, Escalation, Recipient};
use crate::time::Timestamp;
use crate::validate::AlertDraft;

const EXAMPLE: &str = include_str!("../../../../deploy/watchkeeper.example.toml");

fn example() -> Config {
    let secrets = [
        (
            "WATCHKEEPER__CONSOLES__MANILA__SIGNING_SECRET",
            "0123456789abcdef-manila",
        ),
        (
            "WATCHKEEPER__CONSOLES__PANAMA__SIGNING_SECRET",
            "0123456789abcdef-panama",
        ),
        ("WATCHKEEPER__SMTP__PASSWORD", "password"),
    ];
    Config::from_toml(EXAMPLE, secrets.map(|(k, v)| (k.to_owned(), v.to_owned()))).unwrap()
}

fn at(text: &str) -> Timestamp {
    let instant: jiff::Timestamp = text.parse().unwrap();
    Timestamp::from_unix_millis(instant.as_millisecond())
}

fn alert(category: Category, severity: Severity, country: &str, now: Timestamp) -> crate::Alert {
    AlertDraft {
        office_id: "ng-maiduguri".into(),
        severity: Some(severity),
        category: Some(category),
        title: "t".into(),
        country: country.into(),
        place: "p".into(),
        occurred_at: Some(now),
        ..AlertDraft::default()
    }
    .validate(now, AlertId::fresh(now, [0; 10]))
    .unwrap()
}

fn first_step_emails(config: &Config, alert: crate::Alert, now: Timestamp) -> Vec<String> {
    let mut escalation = Escalation::route(alert, &config.policy, now);
    std::iter::from_fn(|| escalation.poll_action())
        .filter_map(
            |Action::Deliver(notification)| match notification.recipient {
                Recipient::Email { address } => Some(address),
                Recipient::Webhook { .. } => None,
            },
        )
        .collect()
}

#[test]
fn the_deploy_example_routes_like_an_operations_centre() {
    let config = example();
    let now = at("2026-11-24T01:00:00Z");
    let route = |category, severity, country| {
        let subject = alert(category, severity, country, now);
        let (route, chain) = config.policy.route(&subject);
        Some((route.to_owned(), chain.id.clone()))
    };
    assert_eq!(
        route(Category::Abduction, Severity::Warning, "NG"),
        Some(("abduction-or-hostage".into(), "crisis".into()))
    );
    assert_eq!(
        route(Category::CivilUnrest, Severity::Emergency, "HT"),
        Some(("life-threatening".into(), "urgent".into()))
    );
    assert_eq!(
        route(Category::Medical, Severity::Critical, "KE"),
        Some(("medical-evacuation".into(), "urgent".into()))
    );
    assert_eq!(
        route(Category::Crime, Severity::Critical, "AF"),
        Some(("default".into(), "standard".into()))
    );

    // An abduction in Nigeria reaches HQ's crisis team, the Manila console and duty officer
    // on call, and the Dakar regional security officer, all in the first step.
    let emails = first_step_emails(
        &config,
        alert(Category::Abduction, Severity::Critical, "NG", now),
        now,
    );
    assert_eq!(
        emails,
        [
            "crisis.team@hq.example.org",
            "duty.officer@manila.ops.example.org",
            "ops.centre@manila.ops.example.org",
            "jose.reyes@ops.example.org",
            "awa.diop@ops.example.org",
        ]
    );
}

#[test]
fn follow_the_sun_reaches_manila_by_day_and_panama_by_night() {
    let config = example();
    // 09:00 in Manila (week two of the rotation: jose) and 21:00 in Manila (08:00 in Panama).
    for (now, on_call) in [
        ("2026-11-10T01:00:00Z", "jose.reyes@ops.example.org"),
        ("2026-11-10T13:00:00Z", "ana.herrera@ops.example.org"),
        // The next evening, the daily Panama rotation has handed over.
        ("2026-11-11T13:00:00Z", "luis.moreno@ops.example.org"),
    ] {
        let now = at(now);
        let emails = first_step_emails(
            &config,
            alert(Category::Crime, Severity::Critical, "PH", now),
            now,
        );
        assert!(emails.contains(&on_call.to_owned()), "{now}: {emails:?}");
    }
}

#[test]
fn policy_errors_name_their_fields() {
    let broken = EXAMPLE
        .replace(
            "people = [\"maria.santos\", \"jose.reyes\"]",
            "people = [\"maria.santos\", \"nobody\"]",
        )
        .replace(
            "time_zone = \"Asia/Manila\"",
            "time_zone = \"Asia/Atlantis\"",
        )
        .replace("window = \"06:00-18:00\"", "window = \"6am to 6pm\"")
        .replace(
            "security_officer = \"rso-cairo\"",
            "security_officer = \"rso-alexandria\"",
        )
        .replace(
            "targets = [\"person:hq.crisis\"]",
            "targets = [\"pager:hq\"]",
        )
        .replace("chain = \"informational\"", "chain = \"missing\"")
        .replace("failover = \"panama\"", "failover = \"lima\"");
    let secrets =
        [("WATCHKEEPER__SMTP__PASSWORD", "password")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    let ConfigErrors(errors) = Config::from_toml(&broken, secrets).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    for field in [
        "consoles.manila.failover",
        "schedules[0].layers[0].time_zone",
        "schedules[0].layers[0].window",
        "schedules[0].layers[0].people[1]",
        "regions[3].security_officer",
        "chains[0].steps[2].targets[0]",
        "routing.routes[3].chain",
    ] {
        assert!(fields.contains(&field), "{field} not reported: {errors:#?}");
    }
}
