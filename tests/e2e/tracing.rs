//! OpenTelemetry export: one trace follows an alert from the api, through the W3C trace context
//! in its Kafka record's headers, to the dispatcher and each delivery, and reaches a collector
//! over OTLP/HTTP.

use std::time::Duration;

use wk_e2e::app::Stack;
use wk_e2e::otlp::{Collector, Span};
use wk_e2e::wait_until;

fn named<'a>(spans: &'a [Span], name: &str, alert_id: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|span| span.name == name && span.attribute("alert_id") == alert_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_follows_an_alert_from_ingest_through_kafka_to_each_delivery() {
    let collector = Collector::start().await;
    let env = vec![
        (
            "WATCHKEEPER__TELEMETRY__OTLP_ENDPOINT".to_owned(),
            collector.endpoint.clone(),
        ),
        (
            "WATCHKEEPER__TELEMETRY__SERVICE_NAME".to_owned(),
            "wk-test".to_owned(),
        ),
        // Export every 200 ms instead of the default 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "200".to_owned()),
    ];
    let stack = Stack::with_env(1, String::new(), env).await;
    let id = stack.submit("Traced", "trace-1").await;
    // Manila's webhook and its duty officer's email.
    let complete = wait_until(Duration::from_secs(60), || {
        let spans = collector.spans();
        !named(&spans, "submit", &id).is_empty()
            && !named(&spans, "dispatch", &id).is_empty()
            && named(&spans, "deliver", &id).len() >= 2
    })
    .await;
    let spans = collector.spans();
    assert!(
        complete,
        "spans of {id} not all exported: {:#?}\n{}",
        spans.iter().map(|span| &span.name).collect::<Vec<_>>(),
        stack.app.log()
    );
    let submit = named(&spans, "submit", &id)[0];
    let dispatch = named(&spans, "dispatch", &id)[0];
    assert_eq!(submit.attribute("office"), wk_e2e::app::OFFICE);
    assert_eq!(submit.resource["service.name"], "wk-test");
    assert_eq!(submit.resource["watchkeeper.role"], "all");
    // The only link between the two is the record's traceparent header.
    assert_eq!(dispatch.trace_id, submit.trace_id);
    assert_eq!(dispatch.parent_span_id, submit.span_id);
    for deliver in named(&spans, "deliver", &id) {
        assert_eq!(deliver.trace_id, submit.trace_id);
        assert_eq!(deliver.parent_span_id, dispatch.span_id);
    }
}
