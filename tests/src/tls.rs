//! A throw-away PKI for TLS tests (rcgen): a CA, a server certificate for localhost and
//! 127.0.0.1, and a client certificate, all signed by the CA, written as PEM files.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tempfile::TempDir;

pub struct Pki {
    _dir: TempDir,
    pub ca_pem: String,
    pub ca_path: PathBuf,
    pub server_cert_path: PathBuf,
    pub server_key_path: PathBuf,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Distinct names: OpenSSL (librdkafka) takes a certificate whose subject equals its
        // issuer for self-signed.
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Watchkeeper test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client_params =
            CertificateParams::new(vec!["ng-maiduguri.offices.watchkeeper.test".to_owned()])
                .unwrap();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "ng-maiduguri.offices.watchkeeper.test");
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Pki {
            ca_pem: ca_cert.pem(),
            ca_path: write("ca.pem", &ca_cert.pem()),
            server_cert_path: write("server.pem", &server_cert.pem()),
            server_key_path: write("server.key", &server_key.serialize_pem()),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            _dir: dir,
        }
    }

    /// The `[api.tls]` section using these files.
    pub fn config(&self, require_client_cert: bool) -> String {
        format!(
            "\n[api.tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\nrequire_client_cert = {require_client_cert}\n",
            self.server_cert_path, self.server_key_path, self.ca_path
        )
    }
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}
