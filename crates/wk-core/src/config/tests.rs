use super::*;

pub(crate) const EXAMPLE: &str = r#"
shutdown_grace = "15s"

[kafka]
brokers = "127.0.0.1:9092"
partitions = 3

[api]
listen = "127.0.0.1:50051"

[[offices]]
id = "ng-maiduguri"
name = "Maiduguri sub-office"
token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

[consoles.manila]
webhook_url = "https://console.manila.example.org/hooks/watchkeeper"
signing_secret = "change-me-change-me"
emails = ["duty.manila@example.org"]

[smtp]
host = "smtp.example.org"
port = 587
security = "starttls"
from = "Watchkeeper <alerts@example.org>"

[dispatcher]
console = "manila"
"#;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn parses_the_example_with_defaults() {
    let config = Config::from_toml(EXAMPLE, []).unwrap();
    assert_eq!(config.kafka.partitions, 3);
    assert_eq!(config.kafka.alerts_topic, "watchkeeper.alerts");
    assert_eq!(config.kafka.produce_timeout, Duration::from_secs(5));
    assert_eq!(config.shutdown_grace, Duration::from_secs(15));
    assert_eq!(config.offices[0].token_hashes[0][0], 0x9f);
    assert_eq!(config.consoles["manila"].signing_secrets.len(), 1);
}

#[test]
fn an_override_of_a_number_the_file_does_not_mention_is_a_number() {
    let config = Config::from_toml(
        EXAMPLE,
        env(&[
            ("WATCHKEEPER__WEBHOOK__CIRCUIT_FAILURES", "2"),
            ("WATCHKEEPER__API__MAX_BATCH", "50"),
        ]),
    )
    .unwrap();
    assert_eq!(config.webhook.circuit_failures, 2);
    let error = Config::from_toml(
        EXAMPLE,
        env(&[("WATCHKEEPER__WEBHOOK__CIRCUIT_FAILURES", "two")]),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("\"two\" is not a whole number"), "{error}");
}

#[test]
fn a_links_base_url_with_a_path_prefix_keeps_it_with_or_without_its_slash() {
    for base in ["https://ops.example.org/wk", "https://ops.example.org/wk/"] {
        let config = Config::from_toml(
            EXAMPLE,
            env(&[
                ("WATCHKEEPER__API__HTTP_LISTEN", "127.0.0.1:8080"),
                ("WATCHKEEPER__LINKS__BASE_URL", base),
                (
                    "WATCHKEEPER__LINKS__SECRET",
                    "links-secret-0123456789abcdef0123456789",
                ),
            ]),
        )
        .unwrap();
        let links = config.links.unwrap();
        assert_eq!(
            links.base_url.join("a/x/acknowledge").unwrap().as_str(),
            "https://ops.example.org/wk/a/x/acknowledge",
            "{base}"
        );
    }
}

#[test]
fn otlp_export_is_off_unless_an_endpoint_is_given() {
    assert_eq!(Config::from_toml(EXAMPLE, []).unwrap().otlp, None);
    let with = format!(
        "{EXAMPLE}\n[telemetry]\nlisten = \"127.0.0.1:9090\"\notlp_endpoint = \"http://otel-collector:4318/\"\n"
    );
    let otlp = Config::from_toml(&with, []).unwrap().otlp.unwrap();
    assert_eq!(
        otlp.traces_url.as_str(),
        "http://otel-collector:4318/v1/traces"
    );
    assert_eq!(otlp.service_name, "watchkeeper");
    // The environment turns it on without editing the file.
    let from_env = Config::from_toml(
        EXAMPLE,
        env(&[(
            "WATCHKEEPER__TELEMETRY__OTLP_ENDPOINT",
            "https://collector.example.org/otlp",
        )]),
    )
    .unwrap();
    assert_eq!(
        from_env.otlp.unwrap().traces_url.as_str(),
        "https://collector.example.org/otlp/v1/traces"
    );
}

#[test]
fn a_bad_otlp_endpoint_names_its_field() {
    let bad = format!("{EXAMPLE}\n[telemetry]\notlp_endpoint = \"collector:4318\"\n");
    let error = Config::from_toml(&bad, []).unwrap_err().to_string();
    assert!(error.contains("telemetry.otlp_endpoint"), "{error}");
}

#[test]
fn numbers_in_the_file_stay_numbers_when_the_environment_overrides_them() {
    let config =
        Config::from_toml(EXAMPLE, env(&[("WATCHKEEPER__KAFKA__PARTITIONS", "12")])).unwrap();
    assert_eq!(config.kafka.partitions, 12);
    let error = Config::from_toml(EXAMPLE, env(&[("WATCHKEEPER__KAFKA__PARTITIONS", "many")]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("WATCHKEEPER__KAFKA__PARTITIONS"), "{error}");
}

#[test]
fn offices_get_the_default_rate_limit_unless_they_set_their_own() {
    let config = Config::from_toml(EXAMPLE, []).unwrap();
    assert_eq!(
        (config.offices[0].rate_per_second, config.offices[0].burst),
        (50, 500)
    );
    let own = EXAMPLE.replace(
        "name = \"Maiduguri sub-office\"",
        "name = \"Maiduguri sub-office\"\nrate = 5\nburst = 20",
    );
    let config = Config::from_toml(&own, []).unwrap();
    assert_eq!(
        (config.offices[0].rate_per_second, config.offices[0].burst),
        (5, 20)
    );
    let zero = EXAMPLE.replace(
        "name = \"Maiduguri sub-office\"",
        "name = \"Maiduguri sub-office\"\nrate = 0",
    );
    let error = Config::from_toml(&zero, []).unwrap_err().to_string();
    assert!(error.contains("offices[0].rate"), "{error}");
}

#[test]
fn environment_overrides_secrets_and_lists() {
    let config = Config::from_toml(
        EXAMPLE,
        env(&[
            (
                "WATCHKEEPER__CONSOLES__MANILA__SIGNING_SECRET",
                "a-much-better-secret",
            ),
            (
                "WATCHKEEPER__CONSOLES__MANILA__EMAILS",
                "a@example.org, b@example.org",
            ),
            ("WATCHKEEPER__SMTP__USERNAME", "watchkeeper"),
            ("WATCHKEEPER__SMTP__PASSWORD", "hunter2"),
            ("UNRELATED", "ignored"),
        ]),
    )
    .unwrap();
    let manila = &config.consoles["manila"];
    assert_eq!(manila.signing_secrets, ["a-much-better-secret"]);
    assert_eq!(manila.emails, ["a@example.org", "b@example.org"]);
    assert_eq!(config.smtp.password.as_deref(), Some("hunter2"));
}

#[test]
fn reports_every_semantic_error_with_its_field() {
    let text = EXAMPLE
        .replace(
            "partitions = 3",
            "partitions = 0\nproduce_timeout = \"soon\"",
        )
        .replace("listen = \"127.0.0.1:50051\"", "listen = \"nowhere\"")
        .replace("9f86d0", "zz86d0")
        .replace("https://console", "ftp://console")
        .replace("port = 587", "port = 70000")
        .replace("console = \"manila\"", "console = \"lagos\"");
    let ConfigErrors(errors) = Config::from_toml(&text, []).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "kafka.partitions",
            "kafka.produce_timeout",
            "api.listen",
            "offices[0].token_sha256",
            "consoles.manila.webhook_url",
            "smtp.port",
            "dispatcher.console",
        ],
        "{errors:?}"
    );
}

#[test]
fn syntax_and_unknown_field_errors_name_the_place() {
    let ConfigErrors(errors) = Config::from_toml("[kafka\nbrokers = 1", []).unwrap_err();
    assert_eq!(errors[0].field, "line 1");
    let ConfigErrors(errors) =
        Config::from_toml(&EXAMPLE.replace("[api]", "[api]\nlisten_port = 1"), []).unwrap_err();
    assert!(errors[0].message.contains("listen_port"), "{errors:?}");
}

#[test]
fn durations_parse_friendly_text() {
    assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    assert_eq!(parse_duration("2m 30s").unwrap(), Duration::from_secs(150));
    assert!(parse_duration("-1s").is_err());
    assert!(parse_duration("often").is_err());
}

#[test]
fn silences_last_a_day_unless_configured_and_never_forever() {
    let config = Config::from_toml(EXAMPLE, []).unwrap();
    assert_eq!(config.silences.max_duration, Duration::from_secs(24 * 3600));
    assert_eq!(config.kafka.silences_topic, "watchkeeper.silences");
    let text = format!("{EXAMPLE}\n[silences]\nmax_duration = \"9000h\"\nmax_series = \"1h\"\n");
    let errors = Config::from_toml(&text, []).unwrap_err();
    let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["silences.max_duration", "silences.max_series"],
        "{errors}"
    );
    let text = format!("{EXAMPLE}\n[silences]\nmax_duration = \"8h\"\n");
    let config = Config::from_toml(&text, []).unwrap();
    assert_eq!(config.silences.max_duration, Duration::from_secs(8 * 3600));
}

#[test]
fn a_dispatcher_s_static_membership_comes_from_its_own_environment_and_is_checked() {
    assert_eq!(
        Config::from_toml(EXAMPLE, [])
            .unwrap()
            .kafka
            .group_instance_id,
        None
    );
    let config = Config::from_toml(
        EXAMPLE,
        env(&[("WATCHKEEPER__KAFKA__GROUP_INSTANCE_ID", "manila-1")]),
    )
    .unwrap();
    assert_eq!(config.kafka.group_instance_id.as_deref(), Some("manila-1"));
    for (bad, field) in [
        (
            "group_instance_id = \"manila 1\"",
            "kafka.group_instance_id",
        ),
        ("group_instance_id = \"\"", "kafka.group_instance_id"),
        (
            "[kafka.properties]\n\"group.instance.id\" = \"x\"",
            "kafka.properties",
        ),
    ] {
        let text = EXAMPLE.replace("partitions = 3", &format!("partitions = 3\n{bad}"));
        let ConfigErrors(errors) = Config::from_toml(&text, []).unwrap_err();
        assert_eq!(errors[0].field, field, "{errors:?}");
    }
}

#[test]
fn the_read_view_keeps_resolved_alerts_30_days_and_50_000_at_most_unless_configured() {
    let config = Config::from_toml(EXAMPLE, []).unwrap();
    assert_eq!(config.api.view_retention, Duration::from_secs(30 * 86_400));
    assert_eq!(config.api.view_max_resolved, 50_000);
    assert_eq!(config.api.view_max_located, 1_000_000);
    let text = EXAMPLE.replace(
        "listen = \"127.0.0.1:50051\"",
        "listen = \"127.0.0.1:50051\"\nview_retention = \"7d\"\nview_max_resolved = 10\n\
         view_max_located = 20",
    );
    let config = Config::from_toml(&text, []).unwrap();
    assert_eq!(config.api.view_retention, Duration::from_secs(7 * 86_400));
    assert_eq!(config.api.view_max_resolved, 10);
    assert_eq!(config.api.view_max_located, 20);
    let text = EXAMPLE.replace(
        "listen = \"127.0.0.1:50051\"",
        "listen = \"127.0.0.1:50051\"\nview_retention = \"forever\"",
    );
    let ConfigErrors(errors) = Config::from_toml(&text, []).unwrap_err();
    assert_eq!(errors[0].field, "api.view_retention", "{errors:?}");
}
