//! Topic administration against librdkafka's in-memory mock cluster: when every topic exists,
//! `ensure_topics` creates nothing (the mock answers no CreateTopics, as a broker whose ACLs
//! deny it would refuse it) and reads the partition count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

fn config(brokers: &str) -> wk_core::config::Config {
    let text = format!(
        "[kafka]\nbrokers = \"{brokers}\"\npartitions = 3\n[api]\nlisten = \"127.0.0.1:0\"\n\
         [[offices]]\nid = \"x\"\ntoken_sha256 = \"{}\"\n[consoles.manila]\n\
         webhook_url = \"http://127.0.0.1:9/\"\nsigning_secret = \"0123456789abcdef0123\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = 9\nsecurity = \"none\"\nfrom = \"a@b.c\"\n\
         [dispatcher]\nconsole = \"manila\"\n",
        "1".repeat(64)
    );
    wk_core::config::Config::from_toml(&text, Vec::new()).expect("valid configuration")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_topics_are_used_without_asking_to_create_them() {
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    let config = config(&cluster.bootstrap_servers());
    let kafka = &config.kafka;
    for (topic, partitions) in [
        (&kafka.alerts_topic, 3),
        (&kafka.state_topic, 3),
        (&kafka.dead_letter_topic, 1),
        (&kafka.silences_topic, 1),
    ] {
        cluster.create_topic(topic, partitions, 1).expect("topic");
    }
    let partitions =
        tokio::time::timeout(Duration::from_secs(30), wk_bus::admin::ensure_topics(kafka))
            .await
            .expect("answered without a CreateTopics round trip")
            .expect("topics ready");
    assert_eq!(partitions, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_topic_partitioned_unlike_the_alerts_topic_is_refused() {
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    let config = config(&cluster.bootstrap_servers());
    let kafka = &config.kafka;
    for (topic, partitions) in [
        (&kafka.alerts_topic, 3),
        (&kafka.state_topic, 2),
        (&kafka.dead_letter_topic, 1),
        (&kafka.silences_topic, 1),
    ] {
        cluster.create_topic(topic, partitions, 1).expect("topic");
    }
    let refused =
        tokio::time::timeout(Duration::from_secs(30), wk_bus::admin::ensure_topics(kafka))
            .await
            .expect("answered")
            .expect_err("partitions differ");
    assert!(refused.to_string().contains("must match"), "{refused}");
}
