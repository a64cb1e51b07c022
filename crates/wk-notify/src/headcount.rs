//! What a headcount's mails say: the question to a person ("are you safe?") with one signed
//! link per answer, and a warden's list of the people of their zone still unaccounted for,
//! with links to answer on someone's behalf. Every value is escaped in the HTML part.

use crate::email::Prepared;

/// An answer link: the button's words and the signed address.
pub struct AnswerLink {
    pub label: &'static str,
    pub url: String,
}

/// The question to one person.
pub struct Ask<'a> {
    pub delivery_id: &'a str,
    pub name: &'a str,
    pub scope: &'a str,
    pub drill: bool,
    /// 0 for the first time, then the reminder's number.
    pub cycle: u32,
    pub links: Vec<AnswerLink>,
}

/// One person on a warden's list.
pub struct Unaccounted {
    pub name: String,
    pub office: String,
    pub links: Vec<AnswerLink>,
}

/// A warden's list.
pub struct WardenList<'a> {
    pub delivery_id: &'a str,
    pub warden: &'a str,
    pub zone: &'a str,
    pub scope: &'a str,
    pub drill: bool,
    pub people: Vec<Unaccounted>,
}

fn drill_prefix(drill: bool) -> &'static str {
    if drill { "[DRILL] " } else { "" }
}

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

fn attribute(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

fn buttons(links: &[AnswerLink]) -> String {
    links
        .iter()
        .map(|link| {
            format!(
                "<a href=\"{}\">{}</a>",
                attribute(&link.url),
                escape(link.label)
            )
        })
        .collect::<Vec<_>>()
        .join(" &middot; ")
}

impl<'a> Ask<'a> {
    pub fn render(&self) -> Prepared<'a> {
        let again = if self.cycle == 0 {
            String::new()
        } else {
            format!(" (reminder {}: we have no answer from you yet)", self.cycle)
        };
        let subject = format!(
            "{}Staff headcount: are you safe?{again}",
            drill_prefix(self.drill)
        );
        let mut text = format!(
            "{}{},\n\nThe operations centre is accounting for all staff ({}). Please tell us \
             where you stand by opening one of these links and confirming on the page:\n\n",
            drill_prefix(self.drill),
            self.name,
            self.scope
        );
        for link in &self.links {
            text.push_str(&format!("{}: {}\n", link.label, link.url));
        }
        text.push_str(
            "\nIf you need help, the page lets you say what happened and where you are. You can \
             answer again later: your latest answer counts.\n",
        );
        let html = format!(
            "<p>{}{},</p><p>The operations centre is accounting for all staff ({}). Please tell \
             us where you stand:</p><p>{}</p><p>If you need help, the page lets you say what \
             happened and where you are. You can answer again later: your latest answer \
             counts.</p>",
            escape(drill_prefix(self.drill)),
            escape(self.name),
            escape(self.scope),
            buttons(&self.links)
        );
        Prepared {
            delivery_id: self.delivery_id,
            subject,
            text,
            html,
        }
    }
}

impl<'a> WardenList<'a> {
    pub fn render(&self) -> Prepared<'a> {
        let subject = format!(
            "{}Staff headcount: {} still unaccounted for in zone {}",
            drill_prefix(self.drill),
            self.people.len(),
            self.zone
        );
        let mut text = format!(
            "{}{},\n\nAs warden of zone {} ({}), please reach these people and record their \
             answer on their behalf (you will be asked how you reached them):\n\n",
            drill_prefix(self.drill),
            self.warden,
            self.zone,
            self.scope
        );
        let mut rows = String::new();
        for person in &self.people {
            text.push_str(&format!("- {} ({})\n", person.name, person.office));
            for link in &person.links {
                text.push_str(&format!("    {}: {}\n", link.label, link.url));
            }
            rows.push_str(&format!(
                "<li>{} ({}): {}</li>",
                escape(&person.name),
                escape(&person.office),
                buttons(&person.links)
            ));
        }
        let html = format!(
            "<p>{}{},</p><p>As warden of zone {} ({}), please reach these people and record \
             their answer on their behalf:</p><ul>{rows}</ul>",
            escape(drill_prefix(self.drill)),
            escape(self.warden),
            escape(self.zone),
            escape(self.scope)
        );
        Prepared {
            delivery_id: self.delivery_id,
            subject,
            text,
            html,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> Vec<AnswerLink> {
        vec![
            AnswerLink {
                label: "I am safe",
                url: "https://wk.example/h/1/p1/safe?b=&e=1&s=ab".into(),
            },
            AnswerLink {
                label: "I need help",
                url: "https://wk.example/h/1/p1/need-help?b=&e=1&s=cd".into(),
            },
        ]
    }

    #[test]
    fn a_question_carries_every_link_and_escapes_what_it_shows() {
        let ask = Ask {
            delivery_id: "hc.1.p1.c1.abc",
            name: "Amina <Bello>",
            scope: "office ng-maiduguri",
            drill: true,
            cycle: 1,
            links: links(),
        };
        let mail = ask.render();
        assert_eq!(
            mail.subject,
            "[DRILL] Staff headcount: are you safe? (reminder 1: we have no answer from you yet)"
        );
        assert!(
            mail.text
                .contains("I need help: https://wk.example/h/1/p1/need-help")
        );
        assert!(mail.html.contains("Amina &lt;Bello&gt;"));
        assert!(
            mail.html
                .contains("href=\"https://wk.example/h/1/p1/safe?b=&amp;e=1&amp;s=ab\"")
        );
    }

    #[test]
    fn a_warden_list_names_each_person_with_their_links() {
        let list = WardenList {
            delivery_id: "hc.1.wardens.north.p9.abc",
            warden: "Fatima Yusuf",
            zone: "north",
            scope: "office ng-maiduguri",
            drill: false,
            people: vec![Unaccounted {
                name: "Musa Ibrahim".into(),
                office: "ng-maiduguri".into(),
                links: links(),
            }],
        };
        let mail = list.render();
        assert_eq!(
            mail.subject,
            "Staff headcount: 1 still unaccounted for in zone north"
        );
        assert!(mail.text.contains("- Musa Ibrahim (ng-maiduguri)"));
        assert!(
            mail.html
                .contains("<li>Musa Ibrahim (ng-maiduguri): <a href=")
        );
    }
}
