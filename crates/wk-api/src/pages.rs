//! The HTML pages an email link opens: one shape for all, readable on a phone (a viewport,
//! large text and a large button), every value escaped; and what they say about the alert, so
//! a duty officer woken at 3 a.m. sees what they are acting on.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use wk_proto::v1 as pb;

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

/// A complete page with `title` (escaped here) and `body` (already safe HTML). Styled by the
/// web console's stylesheet (no inline style: the listener's CSP forbids it), found relative
/// to the link's own address (`<base>/a/<alert>/<action>`), so a path prefix works.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_about(status, title, body, None)
}

/// [`page`], linking to `alert`'s page in the console rather than to the board.
pub(crate) fn page_about(
    status: StatusCode,
    title: &str,
    body: &str,
    alert: Option<wk_core::alert::AlertId>,
) -> Response {
    let console = alert.map_or_else(
        || "../../console/".to_owned(),
        |id| format!("../../console/alerts/{id}"),
    );
    page_under(status, title, body, "../../", &console)
}

/// [`page`] for an address `root` below the listener's root (`../../` for `a/<alert>/<action>`),
/// its hint linking to `console`.
pub(crate) fn page_under(
    status: StatusCode,
    title: &str,
    body: &str,
    root: &str,
    console: &str,
) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <link rel=\"stylesheet\" href=\"{root}console/static/console.css\">\
         <link rel=\"icon\" href=\"{root}console/static/icon.svg\" type=\"image/svg+xml\"></head>\
         <body class=\"link-page\"><main><h1>{title}</h1>{body}\
         <p class=\"hint\"><a href=\"{console}\">Open the operations console</a></p></main></body></html>",
        title = escape(title),
    );
    (status, Html(html)).into_response()
}

fn severity(alert: &pb::Alert) -> String {
    pb::Severity::try_from(alert.severity)
        .map(|s| s.as_str_name().trim_start_matches("SEVERITY_").to_owned())
        .unwrap_or_else(|_| "UNKNOWN".to_owned())
}

fn time(at: Option<&prost_types::Timestamp>) -> String {
    at.and_then(|at| wk_core::Timestamp::from_seconds_nanos(at.seconds, at.nanos))
        .map_or_else(|| "unknown".to_owned(), |at| format!("{at} (UTC)"))
}

/// Where the incident stands, in words: open, or acknowledged or resolved by whom.
pub(crate) fn standing(state: &pb::EscalationState) -> String {
    let by = state
        .status_by
        .as_ref()
        .map(|by| format!("{} ({})", by.actor, by.channel))
        .unwrap_or_default();
    match pb::AlertStatus::try_from(state.status) {
        Ok(pb::AlertStatus::Acknowledged) => format!("acknowledged by {by}"),
        Ok(pb::AlertStatus::Resolved) => format!("resolved by {by}"),
        _ => "open, not acknowledged".to_owned(),
    }
}

/// The alert as a short table: severity, title, office, place, when, and where it stands.
pub(crate) fn summary(state: &pb::EscalationState) -> String {
    let Some(alert) = &state.alert else {
        return String::new();
    };
    let rows = [
        ("Severity", severity(alert)),
        ("Title", alert.title.clone()),
        ("Office", alert.office_id.clone()),
        ("Place", format!("{}, {}", alert.place, alert.country)),
        ("Occurred at", time(alert.occurred_at.as_ref())),
        ("Incident", state.incident.to_string()),
        ("Now", standing(state)),
    ];
    let mut html = String::from("<table class=\"fields\">");
    for (label, value) in rows {
        html.push_str(&format!(
            "<tr><th scope=\"row\">{label}</th><td>{}</td></tr>",
            escape(&value)
        ));
    }
    html.push_str("</table>");
    html
}
