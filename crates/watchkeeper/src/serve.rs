//! `watchkeeper serve`: wires the components of the chosen role, then waits for a signal or a
//! component failure, and drains within the configured grace period.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use wk_api::auth::Authenticator;
use wk_api::console::ConsoleService;
use wk_api::ingest::IngestService;
use wk_api::view::StateView;
use wk_bus::producer::Producer;
use wk_core::config::Config;
use wk_dispatcher::Dispatcher;
use wk_dispatcher::executor::{Executor, Settings};
use wk_notify::email::Mailer;
use wk_notify::retry::RetryPolicy;
use wk_notify::webhook::WebhookSender;

use crate::Role;
use crate::shutdown;

const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) async fn run(config: Config, role: Role) -> anyhow::Result<()> {
    let token = CancellationToken::new();
    shutdown::on_signal(token.clone()).context("installing signal handlers")?;
    // SIGHUP reads the staff roster again (an api's); in any process it never ends it.
    let roster_hook: Arc<OnceLock<Arc<wk_api::headcounts::HeadcountService>>> = Arc::default();
    let hook = roster_hook.clone();
    shutdown::on_hangup(token.clone(), move || {
        if let Some(headcounts) = hook.get() {
            headcounts.reread();
        }
    })
    .context("installing signal handlers")?;

    // Everything derived from configuration is built before any port is bound.
    let producer = Producer::new(&config.kafka).context("kafka producer")?;
    // The dispatcher's changelog and dead letters: batched harder, never on a client's path.
    let changelog = if role == Role::Api {
        None
    } else {
        Some(Producer::batching(&config.kafka).context("kafka changelog producer")?)
    };
    let tls = load_tls(config.api.tls.as_ref())?;
    let executor = if let Some(changelog) = &changelog {
        let settings = Settings {
            consoles: config.consoles.clone(),
            // Parked after `attempts` (the console fails over), then retried as its circuit
            // allows until `retry_for`: a console down for a while is waited for, not lost.
            webhook_policy: RetryPolicy {
                base: Duration::from_millis(200),
                max_delay: Duration::from_secs(5),
                park_after: config.webhook.attempts,
                horizon: config.webhook.retry_for,
                poll: Duration::from_millis(500),
            },
            // Until the SMTP server takes it: a queued email, not a lost one.
            email_policy: RetryPolicy {
                base: Duration::from_millis(500),
                max_delay: Duration::from_secs(30),
                park_after: u32::MAX,
                horizon: config.smtp.retry_for,
                poll: Duration::from_millis(500),
            },
            circuit_failures: config.webhook.circuit_failures,
            circuit_open: config.webhook.circuit_open,
            dead_letter_topic: config.kafka.dead_letter_topic.clone(),
            concurrency: 256,
            links: config.links.clone(),
            zones: email_zones(&config),
        };
        Some(Executor::new(
            WebhookSender::new(config.webhook.timeout).context("webhook client")?,
            Mailer::new(&config.smtp).context("smtp transport")?,
            settings,
            changelog.clone(),
        ))
    } else {
        None
    };

    // Health and metrics come first, so operators see a process waiting for its broker.
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();
    // Ready = the broker answers and, with a dispatcher, its partitions are restored.
    let (ready_sender, ready) = tokio::sync::watch::channel(false);
    let (broker_sender, broker_ready) = tokio::sync::watch::channel(false);
    tasks.spawn(probe(config.kafka.clone(), broker_sender, token.clone()));
    let mut readiness = vec![("broker", broker_ready)];
    if let Some(address) = config.telemetry_listen {
        let metrics = crate::health::install_metrics()
            .map_err(|error| anyhow::anyhow!("metrics recorder: {error}"))?;
        tasks.spawn(crate::health::serve_telemetry(
            address,
            metrics,
            ready.clone(),
            token.clone(),
        ));
    }

    loop {
        match wk_bus::admin::ensure_topics(&config.kafka).await {
            Ok(partitions) => {
                info!(partitions, "topics ready");
                break;
            }
            Err(error) => warn!(%error, "topics not ready; is the broker up? retrying"),
        }
        tokio::select! {
            () = token.cancelled() => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }

    // Every silence before any alert is judged; then followed.
    let Some(silences) = open_silences(&config, &mut tasks, &token).await else {
        return Ok(());
    };

    if role != Role::Dispatcher {
        let listener = TcpListener::bind(config.api.listen)
            .await
            .with_context(|| format!("binding the api to {}", config.api.listen))?;
        info!(address = %listener.local_addr()?, "ingest api listening");
        let view = StateView::with_limits(wk_api::view::Limits {
            retention: config.api.view_retention,
            max_resolved: config.api.view_max_resolved,
            max_located: config.api.view_max_located,
        });
        let offices_view = wk_api::offices::OfficesView::new(&config.offices);
        let authenticator = Authenticator::new(&config.offices, &config.duty_officers);
        let headcounts = match &config.headcounts {
            Some(headcounts) => Some(std::sync::Arc::new(
                wk_api::headcounts::HeadcountService::new(
                    authenticator.clone(),
                    producer.clone(),
                    config.kafka.alerts_topic.clone(),
                    config.kafka.produce_timeout,
                    headcounts.clone(),
                    config
                        .offices
                        .iter()
                        .map(|office| office.id.clone())
                        .collect(),
                )
                .map_err(|error| anyhow::anyhow!("staff roster: {error}"))?,
            )),
            None => None,
        };
        if let Some(headcounts) = &headcounts {
            let _ = roster_hook.set(headcounts.clone());
        }
        tasks.spawn(follow_states(
            config.clone(),
            view.clone(),
            offices_view.clone(),
            headcounts.clone(),
            token.clone(),
        ));
        let console = std::sync::Arc::new(
            ConsoleService::new(
                authenticator.clone(),
                producer.clone(),
                config.kafka.alerts_topic.clone(),
                view.clone(),
                config.kafka.produce_timeout,
            )
            .with_archive(config.kafka.clone()),
        );
        let check_ins = std::sync::Arc::new(wk_api::checkin::CheckIns::new(
            authenticator.clone(),
            producer.clone(),
            config.kafka.alerts_topic.clone(),
            config.kafka.produce_timeout,
            &config.offices,
        ));
        let offices = std::sync::Arc::new(wk_api::offices::OfficeService::new(
            authenticator.clone(),
            offices_view,
            check_ins.clone(),
        ));
        let silence_service = std::sync::Arc::new(wk_api::silences::SilenceService::new(
            &config,
            authenticator.clone(),
            producer.clone(),
            silences.clone(),
            view.clone(),
        ));
        // One allowance per office, whether it submits over gRPC or through an integration.
        let limits = std::sync::Arc::new(wk_api::limits::RateLimits::new(&config.offices));
        if let Some(address) = config.api.http_listen {
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("binding the http api to {address}"))?;
            info!(address = %listener.local_addr()?, "http api (console, links, callbacks) listening");
            let state = wk_api::http::HttpState {
                console: console.clone(),
                links: config.links.clone(),
                consoles: config.consoles.clone(),
            };
            let web = wk_web::WebState::new(&config, console.clone(), view.clone())
                .with_offices(offices.clone())
                .with_silences(silence_service.clone());
            let web = match &headcounts {
                Some(service) => web.with_headcounts(service.clone()),
                None => web,
            };
            if web.users.is_empty() {
                warn!(
                    "no duty officer or office has a password_argon2: nobody can sign in to the web console"
                );
            }
            let integrations = wk_api::integrations::IntegrationService::new(
                config.integrations.clone(),
                producer.clone(),
                config.kafka.alerts_topic.clone(),
                config.kafka.produce_timeout,
                limits.clone(),
            );
            let mut router = wk_web::app(state, std::sync::Arc::new(web))
                .merge(wk_api::checkin::router(check_ins.clone()));
            if let (Some(service), Some(links)) = (&headcounts, &config.links) {
                router = router.merge(wk_api::headcount_http::router(std::sync::Arc::new(
                    wk_api::headcount_http::HeadcountLinks {
                        service: service.clone(),
                        links: links.clone(),
                    },
                )));
            }
            let router = router.merge(wk_api::integrations_http::router(std::sync::Arc::new(
                integrations,
            )));
            let http_token = token.clone();
            let http_tls = tls.clone();
            tasks.spawn(async move {
                wk_api::http::serve_http(listener, router, http_tls, http_token)
                    .await
                    .context("http api")
            });
        }
        let service = IngestService::new(
            authenticator,
            producer.clone(),
            config.kafka.alerts_topic.clone(),
            view,
            config.api.max_in_flight,
            config.api.max_batch,
            config.kafka.produce_timeout,
        )
        .with_limits(limits)
        .with_check_ins(check_ins);
        let api_token = token.clone();
        let max_message_bytes = config.api.max_message_bytes;
        let api_tls = tls.clone();
        tasks.spawn(async move {
            wk_api::server::serve(
                listener,
                service,
                console,
                offices,
                silence_service,
                headcounts,
                max_message_bytes,
                api_tls,
                ready,
                api_token,
            )
            .await
            .context("ingest api")
        });
    }
    if let Some(executor) = executor {
        let dispatcher = Dispatcher::new(
            config.kafka.clone(),
            changelog
                .clone()
                .context("a dispatcher has its changelog producer")?,
            config.policy.clone(),
            executor,
        )
        .context("dispatcher")?
        .with_watches(config.watches())
        .with_silences(silences.clone());
        readiness.push(("dispatcher partitions", dispatcher.readiness()));
        let dispatcher_token = token.clone();
        tasks.spawn(async move { dispatcher.run(dispatcher_token).await.context("dispatcher") });
    }

    let readiness_token = token.clone();
    tasks.spawn(async move {
        crate::health::all_ready(readiness, ready_sender, readiness_token).await;
        Ok(())
    });

    let mut failure = None;
    tokio::select! {
        () = token.cancelled() => {}
        Some(result) = tasks.join_next() => {
            failure = finished(result);
            token.cancel();
        }
    }
    let drain = async {
        while let Some(result) = tasks.join_next().await {
            if let Some(error) = finished(result) {
                failure.get_or_insert(error);
            }
        }
    };
    if tokio::time::timeout(config.shutdown_grace, drain)
        .await
        .is_err()
    {
        warn!(grace = ?config.shutdown_grace, "grace period ran out; stopping anyway");
    }
    for producer in std::iter::once(&producer).chain(&changelog) {
        if let Err(error) = producer.flush(FLUSH_TIMEOUT).await {
            warn!(%error, "producer flush incomplete");
        }
    }
    info!("watchkeeper stopped");
    failure.map_or(Ok(()), Err)
}

/// Reads the silences topic to its end (retrying while the broker is away) and spawns the
/// task that follows it; `None` on shutdown.
async fn open_silences(
    config: &Config,
    tasks: &mut JoinSet<anyhow::Result<()>>,
    token: &CancellationToken,
) -> Option<tokio::sync::watch::Receiver<std::sync::Arc<wk_core::silence::SilenceBook>>> {
    let (mut book, feed) = loop {
        match wk_bus::silences::SilenceFeed::open(&config.kafka, Duration::from_secs(30)).await {
            Ok(opened) => break opened,
            Err(error) => warn!(%error, "silences not read yet; retrying"),
        }
        tokio::select! {
            () = token.cancelled() => return None,
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    };
    book.prune(wk_core::Timestamp::from_system_time(
        std::time::SystemTime::now(),
    ));
    info!(silences = book.len(), "silences read");
    let (sender, receiver) = tokio::sync::watch::channel(std::sync::Arc::new(book.clone()));
    let token = token.clone();
    tasks.spawn(async move {
        loop {
            let next = tokio::select! {
                () = token.cancelled() => return Ok(()),
                next = feed.next() => next,
            };
            match next {
                Ok(silence) => {
                    book.insert(silence);
                    book.prune(wk_core::Timestamp::from_system_time(
                        std::time::SystemTime::now(),
                    ));
                    sender.send_replace(std::sync::Arc::new(book.clone()));
                }
                Err(error) => {
                    warn!(%error, "silences tail error");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    Some(receiver)
}

async fn probe(
    kafka: wk_core::config::KafkaConfig,
    ready: tokio::sync::watch::Sender<bool>,
    token: CancellationToken,
) -> anyhow::Result<()> {
    crate::health::probe_broker(kafka, ready, token).await;
    Ok(())
}

async fn follow_states(
    config: Config,
    view: StateView,
    offices: wk_api::offices::OfficesView,
    headcounts: Option<std::sync::Arc<wk_api::headcounts::HeadcountService>>,
    token: CancellationToken,
) -> anyhow::Result<()> {
    wk_api::server::follow_states(config.kafka, view, offices, headcounts, token).await;
    Ok(())
}

/// Reads the configured TLS files (before any port is bound).
fn load_tls(
    tls: Option<&wk_core::config::TlsConfig>,
) -> anyhow::Result<Option<wk_api::server::TlsMaterial>> {
    let Some(tls) = tls else {
        return Ok(None);
    };
    let read = |path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    };
    Ok(Some(wk_api::server::TlsMaterial {
        cert: read(&tls.cert)?,
        key: read(&tls.key)?,
        client_ca: tls.client_ca.as_deref().map(read).transpose()?,
        require_client_cert: tls.require_client_cert,
    }))
}

/// The error of a finished component, if it failed.
fn finished(result: Result<anyhow::Result<()>, tokio::task::JoinError>) -> Option<anyhow::Error> {
    match result {
        Ok(Ok(())) => None,
        Ok(Err(error)) => {
            error!(error = format!("{error:#}"), "component failed");
            Some(error)
        }
        Err(join_error) => Some(anyhow::anyhow!("component task failed: {join_error}")),
    }
}

/// The time zone of every email address the configuration places: people's own, and each
/// console's for its duty mailboxes.
fn email_zones(config: &Config) -> std::collections::BTreeMap<String, jiff::tz::TimeZone> {
    let mut zones = std::collections::BTreeMap::new();
    for console in config.consoles.values() {
        if let Some(zone) = &console.time_zone {
            for email in &console.emails {
                zones.insert(email.clone(), zone.clone());
            }
        }
    }
    for person in config.policy.directory.people.values() {
        if let Some(zone) = &person.time_zone {
            zones.insert(person.email.clone(), zone.clone());
        }
    }
    zones
}
