//! The alert of a person asking for help.

use super::{Answer, HeadcountId, Member};
use crate::alert::{Alert, AlertId, Category, Severity};
use crate::integration::one_line;
use crate::validate::limits;

/// The critical alert of a person asking for help: one per person and headcount (a later
/// call for help updates it), for the person's office, naming them and where they are.
pub fn help_alert(id: &HeadcountId, drill: bool, member: &Member, answer: &Answer) -> Alert {
    let prefix = if drill { "[DRILL] " } else { "" };
    let place = if answer.place.trim().is_empty() {
        member.zone.clone()
    } else {
        answer.place.trim().to_owned()
    };
    let mut description = format!(
        "{} ({}, {} office, zone {}) answered \"I need help\" in headcount {id}.",
        member.name, member.id, member.office, member.zone
    );
    if !answer.text.trim().is_empty() {
        description.push_str("\n\nThey said: ");
        description.push_str(answer.text.trim());
    }
    description.push_str("\nWhere: ");
    description.push_str(&place);
    let dedup_key = format!("headcount/{id}/{}", member.id);
    Alert {
        id: AlertId::for_dedup_key(&member.office, &dedup_key),
        office_id: member.office.clone(),
        severity: Severity::Critical,
        category: Category::StaffHelp,
        title: one_line(
            &format!("{prefix}Staff member asking for help: {}", member.name),
            limits::TITLE_CHARS,
        ),
        description,
        country: member.country.clone(),
        place: one_line(&place, limits::PLACE_CHARS),
        coordinates: None,
        occurred_at: answer.at,
        staff_affected: 1,
        dedup_key: Some(dedup_key),
        labels: [
            ("headcount".to_owned(), id.0.clone()),
            ("person".to_owned(), member.id.clone()),
            ("zone".to_owned(), member.zone.clone()),
            (
                "drill".to_owned(),
                if drill { "yes" } else { "no" }.to_owned(),
            ),
        ]
        .into_iter()
        .collect(),
        origin: None,
    }
}
