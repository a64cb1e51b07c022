//! TLS on the api's listeners: gRPC with optional and with required client certificates
//! (mutual TLS for field offices), and HTTPS for links and callbacks; and Kafka over mutual TLS.

use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use wk_e2e::app::{Stack, TOKEN, alert, authorized};
use wk_e2e::broker::Broker;
use wk_e2e::tls::Pki;
use wk_e2e::tls_proxy::TlsProxy;
use wk_e2e::wait_until;
use wk_proto::v1 as pb;
use wk_proto::v1::alert_ingest_client::AlertIngestClient;

async fn submit(port: u16, tls: Option<ClientTlsConfig>, key: &str) -> Result<String, String> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://127.0.0.1:{port}")).unwrap();
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(|e| e.to_string())?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let request = pb::SubmitAlertRequest {
        alert: Some(alert("Over TLS", key)),
    };
    AlertIngestClient::new(channel)
        .submit_alert(authorized(request, TOKEN))
        .await
        .map(|response| response.into_inner().alert_id)
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
}

fn client_tls(pki: &Pki, with_identity: bool) -> ClientTlsConfig {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if with_identity {
        tls.identity(Identity::from_pem(
            &pki.client_cert_pem,
            &pki.client_key_pem,
        ))
    } else {
        tls
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_http_serve_tls_and_client_certificates_are_optional() {
    let pki = Pki::new();
    let stack = Stack::with_policy(1, pki.config(false)).await;
    let port = stack.app.api_port;
    submit(port, Some(client_tls(&pki, false)), "tls-1")
        .await
        .expect("TLS without a client certificate");
    submit(port, Some(client_tls(&pki, true)), "tls-2")
        .await
        .expect("TLS with a client certificate");
    assert!(
        submit(port, None, "tls-3").await.is_err(),
        "plaintext was accepted on a TLS port"
    );

    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .resolve(
            "localhost",
            ([127, 0, 0, 1], stack.settings.http_port).into(),
        )
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/healthz", stack.settings.http_port);
    let response = https.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // The web console is served over the same TLS, and its cookies are Secure and
    // `__Host-` (bound to this origin, never sent over plain HTTP).
    let sign_in = format!(
        "https://localhost:{}/console/sign-in",
        stack.settings.http_port
    );
    let response = https.get(&sign_in).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-wk_sign_in="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let plain = format!("http://127.0.0.1:{}/healthz", stack.settings.http_port);
    assert!(
        reqwest::get(&plain)
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_client_certificates_refuse_clients_without_one() {
    let pki = Pki::new();
    let stack = Stack::with_policy(1, pki.config(true)).await;
    let port = stack.app.api_port;
    assert!(
        submit(port, Some(client_tls(&pki, false)), "mtls-1")
            .await
            .is_err()
    );
    submit(port, Some(client_tls(&pki, true)), "mtls-2")
        .await
        .expect("a client certificate from the CA");
}

/// Kafka over TLS with a client certificate: `[kafka.properties]` reaches librdkafka (built
/// with OpenSSL), and an alert goes api → broker → dispatcher → console through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_over_mutual_tls_through_pass_through_properties() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let client_cert = dir.path().join("client.pem");
    let client_key = dir.path().join("client.key");
    std::fs::write(&client_cert, &pki.client_cert_pem).unwrap();
    std::fs::write(&client_key, &pki.client_key_pem).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    let broker_port = wk_e2e::free_port();
    let proxy = TlsProxy::start(listener, &pki, ([127, 0, 0, 1], broker_port).into(), true);
    let broker = Broker::start_advertising(broker_port, proxy_port);
    let properties = format!(
        "[kafka.properties]\n\"security.protocol\" = \"ssl\"\n\"ssl.ca.location\" = {:?}\n\"ssl.certificate.location\" = {client_cert:?}\n\"ssl.key.location\" = {client_key:?}\n",
        pki.ca_path
    );
    let stack = Stack::with_broker(broker, 1, properties, Vec::new()).await;
    let id = stack.submit("Over TLS", "kafka-tls-1").await;
    let delivered = wait_until(Duration::from_secs(60), || {
        !stack.manila.received_for(&id).is_empty()
    })
    .await;
    assert!(delivered, "no webhook for {id}:\n{}", stack.app.log());
    assert!(proxy.handshakes() > 0);
}
