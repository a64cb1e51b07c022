//! Serving: the ingest service with its message-size limit, gRPC health and reflection, on a
//! listener bound by the caller, until the shutdown token is cancelled. And the task that keeps
//! the known-alerts view current from the state changelog.

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tracing::warn;
use wk_bus::codec::decode_state;
use wk_bus::tail::Tail;
use wk_core::config::KafkaConfig;
use wk_proto::v1::alert_ingest_server::AlertIngestServer;

use crate::ingest::IngestService;
use crate::known::KnownAlerts;

/// Serves until `shutdown` is cancelled, then lets in-flight calls finish.
pub async fn serve(
    listener: TcpListener,
    service: IngestService,
    max_message_bytes: usize,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<AlertIngestServer<IngestService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(wk_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1();
    let ingest = AlertIngestServer::new(service)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    let mut builder = tonic::transport::Server::builder();
    let router = builder.add_service(health_service).add_service(ingest);
    let router = match reflection {
        Ok(reflection) => router.add_service(reflection),
        Err(error) => {
            warn!(%error, "grpc reflection disabled");
            router
        }
    };
    router
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
        .await
}

/// Follows the state changelog into `known` until `shutdown`.
pub async fn follow_states(kafka: KafkaConfig, known: KnownAlerts, shutdown: CancellationToken) {
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
        match record.map(|record| record.payload.map(|payload| decode_state(&payload))) {
            Ok(Some(Ok(state))) => known.observe(state.alert.id, state.status),
            Ok(Some(Err(error))) => warn!(%error, "undecodable state record skipped"),
            Ok(None) => {}
            Err(error) => warn!(%error, "state tail error"),
        }
    }
}
