//! Serving: the ingest service with its message-size limit, gRPC health and reflection, on a
//! listener bound by the caller, until the shutdown token is cancelled. And the task that keeps
//! the known-alerts view current from the state changelog.

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tracing::warn;
use wk_bus::tail::Tail;
use wk_core::alert::AlertId;
use wk_core::config::KafkaConfig;
use wk_proto::v1 as pb;
use wk_proto::v1::alert_console_server::AlertConsoleServer;
use wk_proto::v1::alert_ingest_server::AlertIngestServer;
use wk_proto::v1::office_watches_server::OfficeWatchesServer;
use wk_proto::v1::silences_server::SilencesServer;

use crate::console::ConsoleService;
use crate::ingest::IngestService;
use crate::offices::{OfficeService, OfficesView};
use crate::silences::SilenceService;
use crate::view::StateView;

/// TLS material read from the configured PEM files.
#[derive(Clone)]
pub struct TlsMaterial {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
    pub client_ca: Option<Vec<u8>>,
    pub require_client_cert: bool,
}

/// Serves until `shutdown` is cancelled, then lets in-flight calls finish.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    service: IngestService,
    console: std::sync::Arc<ConsoleService>,
    offices: std::sync::Arc<OfficeService>,
    silences: std::sync::Arc<SilenceService>,
    headcounts: Option<std::sync::Arc<crate::headcounts::HeadcountService>>,
    max_message_bytes: usize,
    tls: Option<TlsMaterial>,
    mut ready: tokio::sync::watch::Receiver<bool>,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // grpc.health.v1 follows readiness (broker reachable): SERVING or NOT_SERVING, for the
    // server as a whole ("") and for each service.
    let reporting = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let status = if *ready.borrow_and_update() {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            for service in [
                "",
                "watchkeeper.v1.AlertIngest",
                "watchkeeper.v1.AlertConsole",
                "watchkeeper.v1.OfficeWatches",
                "watchkeeper.v1.Silences",
                "watchkeeper.v1.Headcounts",
            ] {
                health_reporter.set_service_status(service, status).await;
            }
            tokio::select! {
                () = reporting.cancelled() => return,
                changed = ready.changed() => if changed.is_err() { return },
            }
        }
    });
    // Reflection v1 and, for older clients (grpcio-reflection, older grpcurl), v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(wk_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let ingest = AlertIngestServer::new(service)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        let mut config = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(tls.cert, tls.key));
        if let Some(ca) = tls.client_ca {
            config = config
                .client_ca_root(tonic::transport::Certificate::from_pem(ca))
                .client_auth_optional(!tls.require_client_cert);
        }
        builder = builder.tls_config(config)?;
    }
    let console =
        AlertConsoleServer::from_arc(console).max_decoding_message_size(max_message_bytes);
    let offices = OfficeWatchesServer::from_arc(offices);
    let silences = SilencesServer::from_arc(silences);
    let router = builder
        .add_service(health_service)
        .add_service(ingest)
        .add_service(console)
        .add_service(offices)
        .add_service(silences)
        .add_optional_service(
            headcounts.map(wk_proto::v1::headcounts_server::HeadcountsServer::from_arc),
        );
    let router = match (reflection().build_v1(), reflection().build_v1alpha()) {
        (Ok(v1), Ok(v1alpha)) => router.add_service(v1).add_service(v1alpha),
        (Err(error), _) | (_, Err(error)) => {
            warn!(%error, "grpc reflection disabled");
            router
        }
    };
    router
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
        .await
}

/// Follows the state changelog into `view` (alerts), `offices` (watches) and `headcounts`
/// until `shutdown`.
pub async fn follow_states(
    kafka: KafkaConfig,
    view: StateView,
    offices: OfficesView,
    headcounts: Option<std::sync::Arc<crate::headcounts::HeadcountService>>,
    shutdown: CancellationToken,
) {
    let tail = loop {
        match Tail::follow(&kafka, &kafka.state_topic).await {
            Ok(tail) => break tail,
            Err(error) => {
                warn!(%error, "cannot follow the state topic yet; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                }
            }
        }
    };
    loop {
        let record = tokio::select! {
            () = shutdown.cancelled() => return,
            record = tail.recv() => record,
        };
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                warn!(%error, "state tail error");
                continue;
            }
        };
        // Through the bus's codec, which knows every kind of state record.
        let decoded = record
            .payload
            .as_deref()
            .map(wk_bus::state_codec::decode_state_record);
        match decoded {
            Some(Ok(pb::state_record::Machine::Escalation(state))) => {
                match state.alert_id.parse::<AlertId>() {
                    Ok(id) => {
                        let now = crate::ingest::now().as_unix_millis();
                        view.observe_at(id, state, Some((record.partition, record.offset)), now);
                        let (held, located, unlocated) = view.sizes();
                        metrics::gauge!("watchkeeper_view_alerts", "held" => "memory")
                            .set(held as f64);
                        metrics::gauge!("watchkeeper_view_alerts", "held" => "state-topic")
                            .set(located as f64);
                        metrics::gauge!("watchkeeper_view_alerts", "held" => "state-topic-unlocated")
                            .set(unlocated as f64);
                    }
                    Err(_) => warn!(offset = record.offset, "state record with a bad alert id"),
                }
            }
            Some(Ok(pb::state_record::Machine::OfficeWatch(state))) => offices.observe(state),
            Some(Ok(pb::state_record::Machine::Headcount(state))) => {
                if let Some(headcounts) = &headcounts {
                    headcounts.observe(state);
                }
            }
            None => {}
            Some(Err(_)) => warn!(offset = record.offset, "undecodable state record skipped"),
        }
    }
}
