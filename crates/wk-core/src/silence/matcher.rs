//! Matchers in Alertmanager's form: `name="value"`, `name!="value"`, `name=~"regex"`,
//! `name!~"regex"`, over an alert's office, country, region, severity, category and labels.
//! Regular expressions are fully anchored (`=~"warn"` does not match `warning`), as in
//! Alertmanager; a label the alert does not carry is the empty string.

use std::fmt;

use crate::alert::{Alert, Category, Severity};

/// What a matcher looks at. Any name other than the five fields is a label.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Office,
    Country,
    Region,
    Severity,
    Category,
    Label(String),
}

impl Field {
    fn parse(name: &str) -> Result<Field, String> {
        Ok(match name {
            "office" => Field::Office,
            "country" => Field::Country,
            "region" => Field::Region,
            "severity" => Field::Severity,
            "category" => Field::Category,
            label => {
                let mut chars = label.chars();
                let valid_start = chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
                if !valid_start
                    || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    || label.len() > 64
                {
                    return Err(format!(
                        "{label:?} is not a field (office, country, region, severity, \
                         category) or a label name"
                    ));
                }
                Field::Label(label.to_owned())
            }
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Field::Office => "office",
            Field::Country => "country",
            Field::Region => "region",
            Field::Severity => "severity",
            Field::Category => "category",
            Field::Label(name) => name,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Equal => "=",
            Op::NotEqual => "!=",
            Op::Regex => "=~",
            Op::NotRegex => "!~",
        }
    }
}

/// One matcher. Its regular expression, for `=~` and `!~`, is compiled anchored.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub field: Field,
    pub op: Op,
    pub value: String,
    regex: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        (&self.field, self.op, &self.value) == (&other.field, other.op, &other.value)
    }
}

/// The longest value or expression a matcher may carry.
pub const MAX_VALUE: usize = 1_000;
/// The compiled size a regular expression may reach (its program, not its input).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Matcher {
    /// A matcher from its parts; a bad regular expression, or a value that no alert can
    /// have (a severity or category that does not exist, a country not in upper case), is
    /// refused, since such a silence would silently match nothing.
    pub fn new(field: Field, op: Op, value: &str) -> Result<Matcher, String> {
        if value.len() > MAX_VALUE {
            return Err(format!("longer than {MAX_VALUE} bytes"));
        }
        let regex = match op {
            Op::Regex | Op::NotRegex => Some(
                regex::RegexBuilder::new(&format!("^(?:{value})$"))
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|error| format!("{value:?} is not a regular expression: {error}"))?,
            ),
            Op::Equal | Op::NotEqual => {
                match &field {
                    Field::Severity => value.parse::<Severity>().map(drop)?,
                    Field::Category => value.parse::<Category>().map(drop)?,
                    Field::Country
                        if value.len() != 2 || !value.bytes().all(|b| b.is_ascii_uppercase()) =>
                    {
                        return Err(format!(
                            "{value:?} is not a country code (two upper-case letters, as \"SS\")"
                        ));
                    }
                    _ => {}
                }
                None
            }
        };
        Ok(Matcher {
            field,
            op,
            value: value.to_owned(),
            regex,
        })
    }

    /// Parses `name="value"` (and `!=`, `=~`, `!~`); the value may be quoted (with `\"` and
    /// `\\` escapes) or bare.
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let text = text.trim();
        let at = text
            .find(['=', '!'])
            .ok_or_else(|| format!("{text:?} has no operator (=, !=, =~ or !~)"))?;
        let (name, rest) = text.split_at(at);
        let (op, value) = if let Some(value) = rest.strip_prefix("=~") {
            (Op::Regex, value)
        } else if let Some(value) = rest.strip_prefix("!~") {
            (Op::NotRegex, value)
        } else if let Some(value) = rest.strip_prefix("!=") {
            (Op::NotEqual, value)
        } else if let Some(value) = rest.strip_prefix('=') {
            (Op::Equal, value)
        } else {
            return Err(format!("{text:?} has no operator (=, !=, =~ or !~)"));
        };
        let field = Field::parse(name.trim())?;
        Matcher::new(field, op, &unquote(value.trim())?)
    }

    /// Whether `alert` (in `region`, if its country has one) satisfies this matcher.
    pub fn matches(&self, alert: &Alert, region: Option<&str>) -> bool {
        let value = match &self.field {
            Field::Office => alert.office_id.as_str(),
            Field::Country => alert.country.as_str(),
            Field::Region => region.unwrap_or(""),
            Field::Severity => alert.severity.as_str(),
            Field::Category => alert.category.as_str(),
            Field::Label(name) => alert.labels.get(name).map_or("", String::as_str),
        };
        self.matches_value(value)
    }

    fn matches_value(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (Op::Equal, _) => value == self.value,
            (Op::NotEqual, _) => value != self.value,
            (Op::Regex, Some(regex)) => regex.is_match(value),
            (Op::NotRegex, Some(regex)) => !regex.is_match(value),
            // Not built by `new`: a regex operator always has its expression.
            (Op::Regex | Op::NotRegex, None) => false,
        }
    }

    /// Whether it matches an alert that lacks the field: a silence whose every matcher does
    /// would silence everything, and is refused (as Alertmanager does).
    pub fn matches_empty(&self) -> bool {
        self.matches_value("")
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let escaped = self.value.replace('\\', "\\\\").replace('"', "\\\"");
        write!(f, "{}{}\"{escaped}\"", self.field.name(), self.op.as_str())
    }
}

fn unquote(value: &str) -> Result<String, String> {
    let Some(inner) = value.strip_prefix('"') else {
        if value.contains('"') {
            return Err(format!("{value:?}: a quote inside a bare value"));
        }
        return Ok(value.to_owned());
    };
    let inner = inner
        .strip_suffix('"')
        .ok_or_else(|| format!("{value:?}: the quote is not closed"))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\')) => out.push(escaped),
                Some('n') => out.push('\n'),
                _ => return Err(format!("{value:?}: only \\\" \\\\ and \\n are escapes")),
            },
            '"' => return Err(format!("{value:?}: a quote inside the value must be \\\"")),
            c => out.push(c),
        }
    }
    Ok(out)
}
