//! `[[integrations]]`: a valid entry with its defaults and mappings, and every refusal named.

use super::tests::EXAMPLE;
use super::*;
use crate::alert::{Category, IntegrationKind, Severity};
use crate::integration::OfficeSource;

const KEY: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn with(section: &str) -> Result<Config, ConfigErrors> {
    Config::from_toml(&format!("{EXAMPLE}\n{section}"), [])
}

fn fields(section: &str) -> Vec<String> {
    with(section)
        .unwrap_err()
        .0
        .into_iter()
        .map(|error| error.field)
        .collect()
}

#[test]
fn an_integration_with_its_defaults_and_its_mappings() {
    let config = with(&format!(
        r#"
[[integrations]]
name = "prometheus"
kind = "alertmanager-api-v2"
office = "ng-maiduguri"
key_sha256 = "{KEY}"
country = "NG"

[[integrations]]
name = "grafana"
kind = "grafana-webhook"
office_label = "office"
offices = ["ng-maiduguri"]
key_sha256 = "{}"
country = "PH"
place = "Manila data centre"
category = "medical"
severity = "critical"
resolve_timeout = "2m"
severities = {{ p1 = "emergency", p2 = "critical" }}
labels = {{ severity = "priority", country = "iso_country" }}
annotations = {{ title = "headline" }}
"#,
        "a".repeat(64)
    ))
    .unwrap();
    let [prometheus, grafana] = &config.integrations[..] else {
        panic!("{:?}", config.integrations)
    };
    assert_eq!(prometheus.kind, IntegrationKind::AlertmanagerApiV2);
    assert_eq!(
        prometheus.office,
        OfficeSource::Fixed("ng-maiduguri".into())
    );
    assert_eq!(prometheus.resolve_timeout, Duration::from_secs(300));
    assert_eq!(prometheus.mapping.default_place, "prometheus");
    assert_eq!(
        prometheus.mapping.severity(Some("error")),
        Severity::Critical
    );
    assert_eq!(prometheus.mapping.severity(Some("page")), Severity::Warning);
    assert_eq!(prometheus.mapping.title_annotation, "summary");
    assert_eq!(grafana.mapping.severity(Some("P1")), Severity::Emergency);
    assert_eq!(
        grafana.mapping.severity(Some("critical")),
        Severity::Critical
    );
    assert_eq!(grafana.mapping.default_category, Category::Medical);
    assert_eq!(grafana.mapping.severity_label, "priority");
    assert_eq!(grafana.mapping.country_label, "iso_country");
    assert_eq!(grafana.mapping.title_annotation, "headline");
    assert_eq!(grafana.mapping.description_annotation, "description");
    assert_eq!(grafana.resolve_timeout, Duration::from_secs(120));
}

#[test]
fn every_refusal_names_its_field() {
    assert_eq!(
        fields(
            r#"
[[integrations]]
name = "Prometheus!"
kind = "nagios"
office = "xx-nowhere"
key_sha256 = "not hex"
country = "ng"
category = "office_silent"
severity = "sev1"
severities = { p1 = "urgent" }
resolve_timeout = "2d"
labels = { severity = "" }
"#
        ),
        [
            "integrations[0].name",
            "integrations[0].kind",
            "integrations[0].office",
            "integrations[0].key_sha256",
            "integrations[0].country",
            "integrations[0].category",
            "integrations[0].severity",
            "integrations[0].severities.p1",
            "integrations[0].labels.severity",
            "integrations[0].resolve_timeout",
        ]
    );
    assert_eq!(
        fields(&format!(
            r#"
[[integrations]]
name = "one"
kind = "pagerduty-events-v2"
office_label = "office"
offices = ["ng-maiduguri", "af-kabul"]
key_sha256 = "{KEY}"
country = "NG"

[[integrations]]
name = "one"
kind = "alertmanager-webhook"
office = "ng-maiduguri"
office_label = "office"
key_sha256 = "{KEY}"
country = "NG"
"#
        )),
        [
            "integrations[0].offices[1]",
            "integrations[1].office",
            "integrations[1].key_sha256",
        ]
    );
}
