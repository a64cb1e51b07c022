//! Unit tests of `content`: subjects, bodies and payloads of every purpose.

use super::*;
use wk_core::alert::{AlertId, Category, Coordinates, Severity};
use wk_core::escalation::EndedSilence;

fn alert() -> Alert {
    Alert {
        id: AlertId::for_dedup_key("ng-maiduguri", "gate"),
        office_id: "ng-maiduguri".into(),
        severity: Severity::Critical,
        category: Category::SecurityIncident,
        title: "Armed men <at> the gate".into(),
        description: "Two vehicles & no injuries".into(),
        country: "NG".into(),
        place: "Maiduguri".into(),
        coordinates: Some(Coordinates {
            latitude: 11.85,
            longitude: 13.16,
        }),
        occurred_at: Timestamp::from_unix_millis(1_795_000_000_000),
        staff_affected: 12,
        dedup_key: Some("gate".into()),
        labels: [("team".to_owned(), "wash".to_owned())]
            .into_iter()
            .collect(),
        origin: None,
    }
}

fn context<'a>(alert: &'a Alert, purpose: &'a Purpose) -> Context<'a> {
    Context {
        alert,
        notification_id: "d-1",
        purpose,
        incident: 1,
        first_seen: alert.occurred_at,
        occurrences: 1,
        links: None,
        time_zone: None,
        console_url: None,
    }
}

#[test]
fn emails_lead_with_severity_title_and_place_in_the_recipients_zone() {
    let alert = alert();
    let purpose = Purpose::Step { step: 0, round: 0 };
    let manila = jiff::tz::TimeZone::get("Asia/Manila").expect("tzdb");
    let zoned = Context {
        time_zone: Some(&manila),
        console_url: Some("https://wk.example.org/console/alerts/x".into()),
        ..context(&alert, &purpose)
    };
    let text = email_text(&zoned);
    assert!(
        text.starts_with("CRITICAL: Armed men <at> the gate — Maiduguri, Nigeria (NG)\n"),
        "{text}"
    );
    // 1_795_000_000_000 ms is 2026-11-18T11:06:40Z: 19:06 in Manila.
    assert!(
        text.contains("Occurred at: 2026-11-18 19:06 PST (11:06 UTC)"),
        "{text}"
    );
    assert!(text.contains("Open in the console: https://wk.example.org/console/alerts/x"));
    let html = email_html(&zoned);
    assert!(
        html.contains("<h2>CRITICAL: Armed men &lt;at&gt; the gate"),
        "{html}"
    );
    assert!(
        html.contains(
            "<a href=\"https://wk.example.org/console/alerts/x\">Open in the console</a>"
        )
    );
    // Without a zone: UTC alone.
    let text = email_text(&context(&alert, &purpose));
    assert!(text.contains("Occurred at: 2026-11-18T11:06:40Z"), "{text}");
}

#[test]
fn every_field_appears_in_each_part() {
    let alert = alert();
    let first = Purpose::Step { step: 0, round: 0 };
    let context = context(&alert, &first);
    let text = email_text(&context);
    let html = email_html(&context);
    for needle in [
        "CRITICAL",
        "Security incident",
        "ng-maiduguri",
        "Nigeria (NG)",
        "Maiduguri",
        "11.85000, 13.16000",
        "12",
        "gate",
        "team=wash",
        &alert.id.to_string(),
    ] {
        assert!(text.contains(needle), "text lacks {needle}");
        assert!(html.contains(needle), "html lacks {needle}");
    }
    assert!(text.contains("Two vehicles & no injuries"));
    assert!(html.contains("Armed men &lt;at&gt; the gate"));
    assert!(html.contains("Two vehicles &amp; no injuries"));
    assert_eq!(
        email_subject(&context),
        "[CRITICAL] ng-maiduguri: Armed men <at> the gate"
    );
}

#[test]
fn later_notifications_say_why_they_are_sent() {
    let alert = alert();
    let escalated = Purpose::Step { step: 1, round: 0 };
    assert!(
        email_subject(&context(&alert, &escalated))
            .ends_with("— not acknowledged: escalation step 2 (round 1)")
    );
    let failover = Purpose::Failover {
        from: "manila".into(),
        step: 0,
        round: 0,
    };
    assert!(
        email_text(&context(&alert, &failover))
            .contains("Situation: console manila unreachable: failover")
    );
    let body: serde_json::Value =
        serde_json::from_slice(&webhook_body(&context(&alert, &failover))).unwrap();
    assert_eq!(body["type"], "alert.failover");
    assert_eq!(body["failover_from"], "manila");
    assert_eq!(body["step"], 0);
    assert_eq!(
        context(&alert, &Purpose::Exhausted).kind(),
        "alert.exhausted"
    );
}

#[test]
fn a_notification_after_a_silence_says_it_comes_from_an_ended_silence() {
    let alert = alert();
    let after = Purpose::AfterSilence {
        step: 0,
        round: 1,
        ended: Box::new(EndedSilence {
            silence: "019a-silence".into(),
            by: "maria.santos".into(),
            comment: "generator test".into(),
        }),
    };
    let subject = email_subject(&context(&alert, &after));
    assert!(
        subject.ends_with(
            "— SILENCE ENDED, still not acknowledged (silenced by maria.santos: generator test)"
        ),
        "{subject}"
    );
    let body: serde_json::Value =
        serde_json::from_slice(&webhook_body(&context(&alert, &after))).unwrap();
    assert_eq!(body["type"], "alert.unsilenced");
    assert_eq!(body["step"], 0);
    assert_eq!(body["silence"]["id"], "019a-silence");
    assert_eq!(body["silence"]["created_by"], "maria.santos");
}

#[test]
fn emails_carry_the_recipients_links() {
    let alert = alert();
    let first = Purpose::Step { step: 0, round: 0 };
    let mut context = context(&alert, &first);
    context.links = Some(ActionLinks {
        acknowledge: "https://wk.example.org/a/x/acknowledge?r=a&e=1&s=ff".into(),
        resolve: "https://wk.example.org/a/x/resolve?r=a&e=1&s=ee".into(),
    });
    assert!(email_text(&context).contains(
        "Acknowledge (stops the escalation): https://wk.example.org/a/x/acknowledge?r=a&e=1&s=ff"
    ));
    let html = email_html(&context);
    assert!(html.contains("href=\"https://wk.example.org/a/x/acknowledge?r=a&amp;e=1&amp;s=ff\""));
    // The links are inside the document, not after it.
    let link = html.find("Acknowledge (stops").unwrap();
    assert!(link < html.find("</body></html>").unwrap());
    assert!(html.trim_end().ends_with("</body></html>"));
}

#[test]
fn webhook_body_is_json_with_the_alert() {
    let alert = alert();
    let first = Purpose::Step { step: 0, round: 0 };
    let body: serde_json::Value =
        serde_json::from_slice(&webhook_body(&context(&alert, &first))).unwrap();
    assert_eq!(body["type"], "alert.raised");
    assert_eq!(body["delivery_id"], "d-1");
    assert_eq!(body["alert"]["severity"], "critical");
    assert_eq!(body["alert"]["coordinates"]["latitude"], 11.85);
    assert_eq!(body["alert"]["labels"]["team"], "wash");
}

#[test]
fn a_focal_point_learns_who_acted_and_when_with_the_title_only() {
    let alert = alert();
    let purpose = Purpose::Informed {
        resolved: false,
        by: "maria.santos".into(),
        at: Timestamp::from_unix_millis(1_795_000_060_000),
    };
    let context = context(&alert, &purpose);
    assert_eq!(
        email_subject(&context),
        "Your alert was acknowledged: Armed men <at> the gate"
    );
    let text = email_text(&context);
    assert!(
        text.starts_with(
            "The operations centre's duty officer maria.santos acknowledged your alert \"Armed men <at> the gate\" at 2026-11-18T"
        ),
        "{text}"
    );
    for hidden in ["Two vehicles", "11.85", "wash", "Acknowledge (stops"] {
        assert!(!text.contains(hidden), "{hidden} in {text}");
        assert!(!email_html(&context).contains(hidden), "{hidden}");
    }
    assert!(email_html(&context).contains("Armed men &lt;at&gt; the gate"));
}
