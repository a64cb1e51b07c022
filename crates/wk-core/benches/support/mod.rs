//! What the core's benchmark and its memory example share: the shipped example policy.

use wk_core::config::Config;
use wk_core::policy::Policy;

/// `deploy/watchkeeper.example.toml`'s policy, its secrets given as the environment would.
pub(crate) fn example_policy() -> Policy {
    let text = include_str!("../../../../deploy/watchkeeper.example.toml");
    let env = [
        (
            "WATCHKEEPER__CONSOLES__MANILA__SIGNING_SECRET",
            "a-long-enough-secret-0001",
        ),
        (
            "WATCHKEEPER__CONSOLES__PANAMA__SIGNING_SECRET",
            "a-long-enough-secret-0002",
        ),
        ("WATCHKEEPER__SMTP__PASSWORD", "smtp-password"),
    ]
    .map(|(key, value)| (key.to_owned(), value.to_owned()));
    Config::from_toml(text, env)
        .expect("the shipped example parses")
        .policy
}
