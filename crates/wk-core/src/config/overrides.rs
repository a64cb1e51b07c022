//! `WATCHKEEPER__A__B=value` environment overrides applied to the parsed TOML, and the words
//! of a deserializer's errors.

use super::{ENV_PREFIX, Errors};

/// Applies `WATCHKEEPER__A__B=value` overrides to the parsed TOML: the path is lower-cased and
/// split on `__`; the value replaces a string, or a comma-separated list replaces an array.
pub(super) fn apply_overrides(
    document: &mut toml::Table,
    environment: impl IntoIterator<Item = (String, String)>,
    errors: &mut Errors,
) {
    for (name, value) in environment {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let segments: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        let Some((last, parents)) = segments.split_last() else {
            continue;
        };
        if last.is_empty() {
            continue;
        }
        if let Err(reason) = set_path(document, parents, last, value) {
            errors.push(name.clone(), reason);
        }
    }
}

/// Sets `parents.last` in `table`, creating tables on the way; `Err` says what is wrong (a
/// parent that is not a table, a number or flag that does not parse).
fn set_path(
    table: &mut toml::Table,
    parents: &[String],
    last: &str,
    value: String,
) -> Result<(), String> {
    if let Some((first, rest)) = parents.split_first() {
        let entry = table
            .entry(first.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        return match entry {
            toml::Value::Table(inner) => set_path(inner, rest, last, value),
            _ => Err(format!("{first} is not a table")),
        };
    }
    let replacement = match table.get(last) {
        Some(toml::Value::Array(_)) => toml::Value::Array(
            value
                .split(',')
                .map(|item| toml::Value::String(item.trim().to_owned()))
                .collect(),
        ),
        // A number or a flag in the file stays one.
        Some(toml::Value::Integer(_)) => toml::Value::Integer(
            value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?} is not a whole number, as {last} needs"))?,
        ),
        Some(toml::Value::Boolean(_)) => toml::Value::Boolean(
            value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?} is not true or false, as {last} needs"))?,
        ),
        _ => toml::Value::String(value),
    };
    table.insert(last.to_owned(), replacement);
    Ok(())
}

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |head| head.matches('\n').count())
        + 1
}

/// A deserializer's message without our internal type names ("expected struct RawKafka").
pub(super) fn readable(message: &str) -> String {
    match message.find("expected struct Raw") {
        Some(at) => format!("{}expected a table", &message[..at]),
        None => message.to_owned(),
    }
}
