//! Topic administration: create Watchkeeper's topics at start-up when missing, and check that
//! the alerts and state topics are partitioned alike (state partition p holds exactly the
//! alerts of input partition p).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use wk_core::config::KafkaConfig;

use crate::{BusError, client_config};

const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Creates the alerts, state (compacted), dead-letter and silences (compacted) topics if missing, then returns the
/// partition count of the alerts topic after checking the state topic matches it.
pub async fn ensure_topics(kafka: &KafkaConfig) -> Result<i32, BusError> {
    let admin: AdminClient<DefaultClientContext> = client_config(kafka)
        .create()
        .map_err(BusError::kafka("create admin client"))?;
    // -1 asks the broker for its default replication factor.
    let replication = || TopicReplication::Fixed(kafka.replication_factor.max(-1));
    let topics = [
        NewTopic::new(&kafka.alerts_topic, kafka.partitions, replication()),
        NewTopic::new(&kafka.state_topic, kafka.partitions, replication())
            .set("cleanup.policy", "compact"),
        NewTopic::new(&kafka.dead_letter_topic, 1, replication()),
        // Every process reads every silence: one partition, the latest version of each.
        NewTopic::new(&kafka.silences_topic, 1, replication()).set("cleanup.policy", "compact"),
    ];
    // Only what is missing is created: a deployment whose topics exist needs no right to
    // create topics (and librdkafka's mock cluster, which some tests run on, answers no
    // CreateTopics).
    let present = topic_names(kafka).await?;
    let missing: Vec<NewTopic<'_>> = topics
        .into_iter()
        .filter(|topic| !present.contains(topic.name))
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(ADMIN_TIMEOUT))
        .request_timeout(Some(ADMIN_TIMEOUT));
    let results = if missing.is_empty() {
        Vec::new()
    } else {
        admin
            .create_topics(&missing, &options)
            .await
            .map_err(BusError::kafka("create topics"))?
    };
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(BusError::Topic {
                    topic,
                    reason: format!("cannot be created: {code}"),
                });
            }
        }
    }
    let alerts = partition_count(kafka, &kafka.alerts_topic).await?;
    let state = partition_count(kafka, &kafka.state_topic).await?;
    if alerts != state {
        return Err(BusError::Topic {
            topic: kafka.state_topic.clone(),
            reason: format!(
                "has {state} partitions but {} has {alerts}; they must match",
                kafka.alerts_topic
            ),
        });
    }
    Ok(alerts)
}

/// The names of every topic the broker has (asking for all of them creates none).
async fn topic_names(kafka: &KafkaConfig) -> Result<std::collections::BTreeSet<String>, BusError> {
    let config = client_config(kafka);
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create().map_err(BusError::kafka("create client"))?;
        let metadata = consumer
            .fetch_metadata(None, ADMIN_TIMEOUT)
            .map_err(BusError::kafka("fetch metadata"))?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|topic| topic.error().is_none())
            .map(|topic| topic.name().to_owned())
            .collect())
    })
    .await
    .unwrap_or_else(|join_error| {
        Err(BusError::Topic {
            topic: String::new(),
            reason: format!("metadata task failed: {join_error}"),
        })
    })
}

/// The partition count of `topic`, from the broker's metadata.
pub async fn partition_count(kafka: &KafkaConfig, topic: &str) -> Result<i32, BusError> {
    let config = client_config(kafka);
    let topic = topic.to_owned();
    // Metadata calls block; keep them off the async threads.
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create().map_err(BusError::kafka("create client"))?;
        let metadata = consumer
            .fetch_metadata(Some(&topic), ADMIN_TIMEOUT)
            .map_err(BusError::kafka("fetch metadata"))?;
        let found = metadata
            .topics()
            .iter()
            .find(|candidate| candidate.name() == topic)
            .filter(|candidate| candidate.error().is_none() && !candidate.partitions().is_empty());
        match found {
            Some(found) => Ok(found.partitions().len() as i32),
            None => Err(BusError::Topic {
                topic,
                reason: "does not exist".into(),
            }),
        }
    })
    .await
    .unwrap_or_else(|join_error| {
        Err(BusError::Topic {
            topic: String::new(),
            reason: format!("metadata task failed: {join_error}"),
        })
    })
}
