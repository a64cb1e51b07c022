//! A TLS terminator in front of the broker (rustls): Tansu 0.6 cannot serve TLS itself (its
//! `--cert` and `--key` flags are declared mutually exclusive), so Kafka-over-TLS is tested
//! against a real broker behind this proxy, which the broker advertises as its address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::tls::Pki;

pub struct TlsProxy {
    pub port: u16,
    handshakes: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl TlsProxy {
    /// Listens on `listener` with the PKI's server certificate and forwards the decrypted
    /// stream to `upstream`; with `require_client_cert`, only clients with a certificate
    /// signed by the PKI's CA get through.
    pub fn start(
        listener: std::net::TcpListener,
        pki: &Pki,
        upstream: SocketAddr,
        require_client_cert: bool,
    ) -> TlsProxy {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(&pki.server_cert_path)
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(&pki.server_key_path).unwrap();
        let builder = rustls::ServerConfig::builder();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_file(&pki.ca_path).unwrap())
                .unwrap();
            builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder(Arc::new(roots))
                    .build()
                    .unwrap(),
            )
        } else {
            builder.with_no_client_auth()
        };
        let config = builder.with_single_cert(certs, key).unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let listener = TcpListener::from_std(listener).unwrap();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counter = handshakes.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    // A failed handshake (wrong CA, no client certificate) just drops the
                    // connection, as a TLS-only broker would.
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    let Ok(mut plain) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        TlsProxy {
            port,
            handshakes,
            server,
        }
    }

    /// Connections that completed a TLS handshake.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::Relaxed)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}
