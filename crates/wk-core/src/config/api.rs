//! `[api]` (the gRPC and HTTP listeners, their TLS, the api's limits) and `[links]` (signed
//! one-click links, which point at the HTTP listener).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::Errors;
use super::lenient;

/// TLS for the api's listeners: PEM files read at start-up.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    /// CA of the client certificates field offices may present on gRPC (mutual TLS).
    pub client_ca: Option<std::path::PathBuf>,
    /// Refuse gRPC clients without a certificate from `client_ca`.
    pub require_client_cert: bool,
}

/// Signed action links: where they point and how they are signed.
#[derive(Clone, Debug)]
pub struct LinksConfig {
    /// The public base URL of the api's HTTP listener, e.g. `https://watchkeeper.example.org`.
    pub base_url: url::Url,
    /// Signing secrets; the first signs, all verify (rotation).
    pub secrets: Vec<String>,
    pub ttl: Duration,
}

#[derive(Clone, Debug)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// The HTTP listener for the web console, email links and console callbacks, if any.
    pub http_listen: Option<SocketAddr>,
    /// TLS for both listeners, when configured.
    pub tls: Option<TlsConfig>,
    pub max_message_bytes: usize,
    /// Submissions waiting for the broker at once; more are refused with RESOURCE_EXHAUSTED.
    pub max_in_flight: usize,
    pub max_batch: usize,
    /// How long a resolved alert stays in the read view's memory (open ones always do); older
    /// ones are read from the state topic when asked for by id.
    pub view_retention: Duration,
    /// The most resolved alerts the read view keeps in memory, whatever their age.
    pub view_max_resolved: usize,
    /// Of the alerts the view let go of, how many it keeps the place of on the state topic
    /// (32 bytes each); an older one is searched for on the whole topic when asked for.
    pub view_max_located: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) cert: String,
    pub(super) key: String,
    #[serde(default)]
    pub(super) client_ca: Option<String>,
    #[serde(default)]
    pub(super) require_client_cert: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLinks {
    pub(super) base_url: String,
    pub(super) secret: String,
    #[serde(default)]
    pub(super) previous_secret: Option<String>,
    #[serde(default = "default_link_ttl")]
    pub(super) ttl: String,
}

pub(super) fn default_link_ttl() -> String {
    "24h".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    #[serde(default = "default_listen")]
    pub(super) listen: String,
    #[serde(default)]
    pub(super) http_listen: Option<String>,
    #[serde(default)]
    pub(super) tls: Option<RawTls>,
    #[serde(
        default = "default_max_message_bytes",
        deserialize_with = "lenient::whole"
    )]
    pub(super) max_message_bytes: i64,
    #[serde(default = "default_max_in_flight", deserialize_with = "lenient::whole")]
    pub(super) max_in_flight: i64,
    #[serde(default = "default_max_batch", deserialize_with = "lenient::whole")]
    pub(super) max_batch: i64,
    #[serde(default = "default_office_rate", deserialize_with = "lenient::whole")]
    pub(super) office_rate: i64,
    #[serde(default = "default_office_burst", deserialize_with = "lenient::whole")]
    pub(super) office_burst: i64,
    #[serde(default = "default_view_retention")]
    pub(super) view_retention: String,
    #[serde(
        default = "default_view_max_resolved",
        deserialize_with = "lenient::whole"
    )]
    pub(super) view_max_resolved: i64,
    #[serde(
        default = "default_view_max_located",
        deserialize_with = "lenient::whole"
    )]
    pub(super) view_max_located: i64,
}

pub(super) fn default_view_retention() -> String {
    "30d".into()
}

/// About 200 MB of resolved alerts' states at their usual size (4 KB each in memory).
pub(super) fn default_view_max_resolved() -> i64 {
    50_000
}

/// About 32 MB of places on the state topic: years of alerts at an operations centre's rate.
pub(super) fn default_view_max_located() -> i64 {
    1_000_000
}

/// Far above what a field office sends in an incident, far below what a runaway script does.
pub(super) fn default_office_rate() -> i64 {
    50
}

pub(super) fn default_office_burst() -> i64 {
    500
}

impl Default for RawApi {
    fn default() -> RawApi {
        RawApi {
            listen: default_listen(),
            http_listen: None,
            tls: None,
            max_message_bytes: default_max_message_bytes(),
            max_in_flight: default_max_in_flight(),
            office_rate: default_office_rate(),
            office_burst: default_office_burst(),
            max_batch: default_max_batch(),
            view_retention: default_view_retention(),
            view_max_resolved: default_view_max_resolved(),
            view_max_located: default_view_max_located(),
        }
    }
}

pub(super) fn default_listen() -> String {
    "127.0.0.1:50051".into()
}
pub(super) fn default_max_message_bytes() -> i64 {
    1024 * 1024
}
pub(super) fn default_max_in_flight() -> i64 {
    4096
}
pub(super) fn default_max_batch() -> i64 {
    500
}

pub(super) fn check(
    raw_api: RawApi,
    raw_links: Option<RawLinks>,
    errors: &mut Errors,
) -> (ApiConfig, Option<LinksConfig>) {
    let http_listen = raw_api.http_listen.as_deref().and_then(|text| {
        text.parse::<SocketAddr>()
            .map_err(|_| {
                errors.push(
                    "api.http_listen",
                    format!("{text:?} is not an address such as 127.0.0.1:8080"),
                )
            })
            .ok()
    });
    let links = raw_links.and_then(|links| {
        if links.secret.len() < 32 {
            errors.push(
                "links.secret",
                "must be at least 32 characters (set it with WATCHKEEPER__LINKS__SECRET)",
            );
        }
        let ttl = errors.duration("links.ttl", &links.ttl, Duration::from_secs(60));
        let Some(mut base_url) = url::Url::parse(&links.base_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
        else {
            errors.push(
                "links.base_url",
                format!("{:?} is not an http(s) URL", links.base_url),
            );
            return None;
        };
        // A path prefix (behind a reverse proxy) is a directory, with or without its
        // trailing slash: links are joined onto it, never replacing its last segment.
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let mut secrets = vec![links.secret];
        secrets.extend(links.previous_secret.filter(|secret| !secret.is_empty()));
        Some(LinksConfig {
            base_url,
            secrets,
            ttl,
        })
    });
    if links.is_some() && http_listen.is_none() {
        errors.push(
            "api.http_listen",
            "is required when [links] is configured (the links point to it)",
        );
    }
    let tls = raw_api.tls.map(|tls| {
        if tls.require_client_cert && tls.client_ca.is_none() {
            errors.push("api.tls.require_client_cert", "needs api.tls.client_ca");
        }
        for (field, value) in [("api.tls.cert", &tls.cert), ("api.tls.key", &tls.key)] {
            errors.non_empty(field, value);
        }
        TlsConfig {
            cert: tls.cert.into(),
            key: tls.key.into(),
            client_ca: tls.client_ca.map(Into::into),
            require_client_cert: tls.require_client_cert,
        }
    });
    let api = ApiConfig {
        http_listen,
        tls,
        listen: raw_api.listen.parse().unwrap_or_else(|_| {
            errors.push(
                "api.listen",
                format!(
                    "{:?} is not an address such as 127.0.0.1:50051",
                    raw_api.listen
                ),
            );
            SocketAddr::from(([127, 0, 0, 1], 0))
        }),
        max_message_bytes: errors.in_range(
            "api.max_message_bytes",
            raw_api.max_message_bytes,
            1024,
            64 << 20,
        ) as usize,
        max_in_flight: errors.in_range("api.max_in_flight", raw_api.max_in_flight, 1, 1 << 20)
            as usize,
        max_batch: errors.in_range("api.max_batch", raw_api.max_batch, 1, 10_000) as usize,
        view_retention: errors.duration(
            "api.view_retention",
            &raw_api.view_retention,
            Duration::from_secs(60),
        ),
        view_max_resolved: errors.in_range(
            "api.view_max_resolved",
            raw_api.view_max_resolved,
            0,
            100_000_000,
        ) as usize,
        view_max_located: errors.in_range(
            "api.view_max_located",
            raw_api.view_max_located,
            0,
            1_000_000_000,
        ) as usize,
    };
    errors.in_range("api.office_rate", raw_api.office_rate, 1, 1_000_000);
    errors.in_range("api.office_burst", raw_api.office_burst, 1, 1_000_000);
    (api, links)
}
