//! W3C trace context (`traceparent`, `tracestate`) carried in Kafka record headers, so a span
//! started by the api when an alert arrives is the parent of the dispatcher's spans for it.
//!
//! The propagator is OpenTelemetry's global one: a no-op until the binary installs the
//! W3C propagator with OTLP export, and an empty context when the current span is not
//! recorded by OpenTelemetry. With export off these functions cost a lookup and nothing else.

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The header names the W3C propagator writes; the only headers kept from a consumed record.
const TRACE_HEADERS: [&str; 2] = ["traceparent", "tracestate"];

/// Trace-context headers as (name, value) pairs, as read from or written to a record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceHeaders(Vec<(String, String)>);

impl TraceHeaders {
    /// The context of `span`, ready to travel in record headers.
    pub fn of(span: &tracing::Span) -> TraceHeaders {
        let mut headers = TraceHeaders::default();
        let context = span.context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut headers);
        });
        headers
    }

    /// Keeps the trace-context headers of a consumed record (other names and non-UTF-8
    /// values are dropped).
    pub fn from_record<'a>(headers: impl Iterator<Item = (&'a str, Option<&'a [u8]>)>) -> Self {
        TraceHeaders(
            headers
                .filter(|(name, _)| TRACE_HEADERS.contains(name))
                .filter_map(|(name, value)| {
                    let value = std::str::from_utf8(value?).ok()?;
                    Some((name.to_owned(), value.to_owned()))
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Makes `span` a child of the context these headers carry; does nothing when they carry
    /// none or OpenTelemetry export is off.
    pub fn adopt(&self, span: &tracing::Span) {
        if self.is_empty() {
            return;
        }
        let parent =
            opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(self));
        // Fails only when the span is disabled or not recorded by OpenTelemetry.
        let _ = span.set_parent(parent);
    }
}

impl Injector for TraceHeaders {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(name, _)| name != key);
        self.0.push((key.to_owned(), value));
    }
}

impl Extractor for TraceHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_utf8_trace_headers_from_a_record() {
        let headers = TraceHeaders::from_record(
            [
                ("watchkeeper-alert-id", Some(&b"abc"[..])),
                (
                    "traceparent",
                    Some(&b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"[..]),
                ),
                ("tracestate", Some(&[0xff, 0xfe][..])),
                ("tracestate", None),
            ]
            .into_iter(),
        );
        assert_eq!(
            headers.iter().collect::<Vec<_>>(),
            [(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            )]
        );
        assert_eq!(
            Extractor::get(&headers, "TraceParent"),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
    }

    #[test]
    fn a_span_outside_opentelemetry_carries_no_headers() {
        assert!(TraceHeaders::of(&tracing::Span::none()).is_empty());
    }
}
