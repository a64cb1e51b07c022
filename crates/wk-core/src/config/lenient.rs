//! Whole numbers that may arrive as text: an environment override of a setting the file does
//! not mention has no type to follow (`WATCHKEEPER__WEBHOOK__CIRCUIT_FAILURES=2` becomes the
//! string "2"), so the numeric settings accept a string that parses as one.

use serde::{Deserialize, Deserializer, de};

#[derive(Deserialize)]
#[serde(untagged)]
enum Whole {
    Number(i64),
    Text(String),
}

fn parse<E: de::Error>(value: Whole) -> Result<i64, E> {
    match value {
        Whole::Number(number) => Ok(number),
        Whole::Text(text) => text
            .trim()
            .parse()
            .map_err(|_| E::custom(format!("{text:?} is not a whole number"))),
    }
}

/// A whole number, or text that is one.
pub(super) fn whole<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    parse(Whole::deserialize(deserializer)?)
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(deserialize_with = "super::whole")]
        n: i64,
    }

    #[test]
    fn numbers_and_numeric_text_are_accepted_and_other_text_named() {
        let number: Shape = toml::from_str("n = 3").unwrap();
        let text: Shape = toml::from_str("n = \" 4 \"").unwrap();
        assert_eq!((number.n, text.n), (3, 4));
        let error = toml::from_str::<Shape>("n = \"many\"").err().unwrap();
        assert!(
            error.to_string().contains("\"many\" is not a whole number"),
            "{error}"
        );
    }
}
