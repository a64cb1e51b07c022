//! Installs the one tracing subscriber: `WATCHKEEPER_LOG` filters (default
//! `warn,watchkeeper=info,wk_api=info,wk_dispatcher=info`), `WATCHKEEPER_LOG_FORMAT=json|plain`
//! chooses the format. Logs go to standard error.
//!
//! With `[telemetry] otlp_endpoint` set, the same spans (filtered alike) are also exported to an
//! OpenTelemetry collector over OTLP/HTTP, and the W3C trace context travels in Kafka headers
//! (`wk_bus::trace`), so one trace follows an alert from submission to every delivery. The
//! standard `OTEL_BSP_*` variables tune the batch exporter.

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use wk_core::config::OtlpConfig;

const DEFAULT_FILTER: &str =
    "warn,watchkeeper=info,wk_api=info,wk_bus=info,wk_dispatcher=info,wk_notify=info";

/// Keeps the span exporter alive; `shutdown` flushes what it holds.
pub(crate) struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered (bounded by the exporter's own timeout). Call outside
    /// the async runtime: the OTLP client blocks.
    pub(crate) fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "spans not flushed to the OTLP collector");
        }
    }
}

/// Installs logging, and OTLP export when configured. Call before the async runtime starts
/// (the blocking OTLP client must not be created inside it).
pub(crate) fn init(otlp: Option<&OtlpConfig>, role: &str) -> Result<Telemetry, String> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WATCHKEEPER_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(DEFAULT_FILTER))
        .map_err(|error| error.to_string())?;
    let json = match std::env::var("WATCHKEEPER_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("plain") | Err(_) => false,
        Ok(other) => {
            return Err(format!(
                "WATCHKEEPER_LOG_FORMAT={other:?}: expected json or plain"
            ));
        }
    };
    let (plain, json) = if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr);
        (None, Some(layer))
    } else {
        let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        (Some(layer), None)
    };
    let provider = otlp.map(|otlp| tracer_provider(otlp, role)).transpose()?;
    let export = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("watchkeeper")));
    tracing_subscriber::registry()
        .with(filter)
        .with(plain)
        .with(json)
        .with(export)
        .try_init()
        .map_err(|error| error.to_string())?;
    if let Some(otlp) = otlp {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing::info!(url = %otlp.traces_url, "exporting spans over OTLP/HTTP");
    }
    Ok(Telemetry { provider })
}

fn tracer_provider(otlp: &OtlpConfig, role: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(otlp.traces_url.as_str())
        .with_timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|error| format!("telemetry.otlp_endpoint: {error}"))?;
    let resource = Resource::builder()
        .with_service_name(otlp.service_name.clone())
        .with_attribute(KeyValue::new("watchkeeper.role", role.to_owned()))
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
