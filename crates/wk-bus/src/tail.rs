//! Following a whole topic from its beginning without a consumer group: how an api process
//! builds its view of alert states from the changelog.

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use wk_core::config::KafkaConfig;

use crate::consumer::Record;
use crate::{BusError, admin, client_config};

pub struct Tail {
    inner: StreamConsumer,
}

impl Tail {
    /// Starts reading every partition of `topic` from its first record.
    pub async fn follow(kafka: &KafkaConfig, topic: &str) -> Result<Tail, BusError> {
        let partitions = admin::partition_count(kafka, topic).await?;
        let starts: Vec<(i32, Offset)> = (0..partitions)
            .map(|partition| (partition, Offset::Beginning))
            .collect();
        Tail::follow_from(kafka, topic, &starts)
    }

    /// Starts reading the given partitions of `topic` from the given offsets.
    pub fn follow_from(
        kafka: &KafkaConfig,
        topic: &str,
        starts: &[(i32, Offset)],
    ) -> Result<Tail, BusError> {
        let inner: StreamConsumer = client_config(kafka)
            .set("group.id", "watchkeeper-tail")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // The view may trail the dispatcher by a fetch; a long wait spares the broker.
            .set("fetch.wait.max.ms", "100")
            .create()
            .map_err(BusError::kafka("create tail consumer"))?;
        let mut list = TopicPartitionList::new();
        for (partition, offset) in starts {
            list.add_partition_offset(topic, *partition, *offset)
                .map_err(BusError::kafka("assign"))?;
        }
        inner.assign(&list).map_err(BusError::kafka("assign"))?;
        Ok(Tail { inner })
    }

    pub async fn recv(&self) -> Result<Record, BusError> {
        let message = self.inner.recv().await.map_err(BusError::kafka("tail"))?;
        Ok(Record::copy_of(&message))
    }
}
