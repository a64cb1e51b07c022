//! A headcount's one-click answer links: `GET /h/{headcount}/{person}/{reply}?b=&e=&s=`
//! verifies the link and shows a confirmation page whose button posts the same fields (so a
//! mail scanner that prefetches links cannot answer for anyone); "I need help" lets the person
//! say what happened and where they are; a warden answering for someone says how they reached
//! them. `POST` verifies again and records the answer once it is durable. Forged or altered
//! links get 403, expired ones 410. Every value shown is escaped.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use wk_core::config::LinksConfig;
use wk_core::headcount::links::AnswerLink;
use wk_core::headcount::{Answer, Reply, Via};
use wk_core::links::LinkError;

use crate::headcounts::HeadcountService;
use crate::ingest::now;
use crate::pages::page_under;

pub struct HeadcountLinks {
    pub service: Arc<HeadcountService>,
    pub links: LinksConfig,
}

pub fn router(state: Arc<HeadcountLinks>) -> Router {
    Router::new()
        .route("/h/{headcount}/{person}/{reply}", get(confirm).post(record))
        .with_state(state)
}

const ROOT: &str = "../../../";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_under(status, title, body, ROOT, &format!("{ROOT}console/"))
}

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

fn attribute(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

fn refused(error: Option<LinkError>) -> Response {
    match error {
        Some(LinkError::Expired) => page(
            StatusCode::GONE,
            "Link expired",
            "<p>This link has expired; nothing was recorded. Answer from the newest mail, or \
             call the operations centre.</p>",
        ),
        _ => page(
            StatusCode::FORBIDDEN,
            "Link refused",
            "<p>This link is not valid: it was altered or not issued by Watchkeeper. Nothing \
             was recorded.</p>",
        ),
    }
}

/// The link a request names, verified, and its signature; why not, otherwise (`None`: not a
/// whole link).
fn checked(
    links: &LinksConfig,
    (headcount, person, reply): (&str, &str, &str),
    encoded: &str,
) -> Result<(AnswerLink, String), Option<LinkError>> {
    let Some((link, signature)) = AnswerLink::parse(headcount, person, reply, encoded) else {
        return Err(None);
    };
    link.verify(&links.secrets, &signature, now())
        .map_err(Some)?;
    Ok((link, signature))
}

async fn confirm(
    State(state): State<Arc<HeadcountLinks>>,
    Path((headcount, person, reply)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let encoded = query.unwrap_or_default();
    let (link, signature) = match checked(&state.links, (&headcount, &person, &reply), &encoded) {
        Ok(checked) => checked,
        Err(error) => return refused(error),
    };
    let name = state
        .service
        .person_name(&link.headcount, &link.person)
        .unwrap_or_else(|| link.person.clone());
    let who = if link.by.is_empty() {
        format!("Answer for <strong>{}</strong>", escape(&name))
    } else {
        format!(
            "You are answering on behalf of <strong>{}</strong>",
            escape(&name)
        )
    };
    let mut fields = String::new();
    if link.reply == Reply::NeedHelp {
        fields.push_str(
            "<label for=\"text\">What happened? (optional)</label>\
             <textarea id=\"text\" name=\"text\" rows=\"3\" maxlength=\"1000\"></textarea>\
             <label for=\"place\">Where are you? (optional)</label>\
             <input id=\"place\" name=\"place\" maxlength=\"200\">",
        );
    }
    if !link.by.is_empty() {
        fields.push_str(
            "<label for=\"method\">How did you reach them?</label>\
             <input id=\"method\" name=\"method\" maxlength=\"200\" required \
             placeholder=\"reached by phone\">",
        );
    }
    let body = format!(
        "<p>{who}:</p><form method=\"post\" class=\"stack\">{fields}\
         <input type=\"hidden\" name=\"b\" value=\"{b}\"><input type=\"hidden\" name=\"e\" value=\"{e}\">\
         <input type=\"hidden\" name=\"s\" value=\"{s}\">\
         <button type=\"submit\" class=\"primary big\">{label}</button></form>",
        b = attribute(&link.by),
        e = link.expires,
        s = attribute(&signature),
        label = escape(link.reply.label()),
    );
    page(StatusCode::OK, link.reply.label(), &body)
}

async fn record(
    State(state): State<Arc<HeadcountLinks>>,
    Path((headcount, person, reply)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let encoded = String::from_utf8_lossy(&body).into_owned();
    let (link, _) = match checked(&state.links, (&headcount, &person, &reply), &encoded) {
        Ok(checked) => checked,
        Err(error) => return refused(error),
    };
    let form: std::collections::BTreeMap<String, String> =
        url::form_urlencoded::parse(encoded.as_bytes())
            .into_owned()
            .collect();
    let field = |name: &str| {
        form.get(name)
            .map(|value| value.trim().to_owned())
            .unwrap_or_default()
    };
    let via = if link.by.is_empty() {
        Via::Link
    } else {
        let method = field("method");
        if method.is_empty() {
            return page(
                StatusCode::BAD_REQUEST,
                "How did you reach them?",
                "<p>Say how you reached the person (by phone, in person…) and send again.</p>",
            );
        }
        Via::Warden {
            warden: link.by.clone(),
            method,
        }
    };
    let answer = Answer {
        reply: link.reply,
        at: now(),
        via,
        text: field("text"),
        place: field("place"),
        late: false,
    };
    match state
        .service
        .answer(&link.headcount, &link.person, answer)
        .await
    {
        Ok(()) => {
            let said = match link.reply {
                Reply::NeedHelp => {
                    "The operations centre has been alerted and will contact you. Stay where \
                     you are safe if you can."
                }
                Reply::Safe => "Thank you. The operations centre knows you are safe.",
                Reply::NotInArea => {
                    "Thank you. The operations centre knows you are not in the area."
                }
            };
            page(
                StatusCode::OK,
                "Answer recorded",
                &format!("<p>{}</p><p>{said}</p>", escape(link.reply.label())),
            )
        }
        Err(error) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not recorded yet",
            &format!(
                "<p>Your answer could not be recorded just now ({}). Please press the button \
                 again in a moment, or call the operations centre.</p>",
                escape(&error.to_string())
            ),
        ),
    }
}
