//! Checkpoints through the SDK against the in-process gateway.

mod common;

use std::time::{Duration, SystemTime};

use aether_client::{AgentClient, CheckpointTtl, ErrorKind, OrchestratorClient, UserClient};
use bytes::Bytes;
use common::{gateway, within};

async fn agent(url: &str, spec: &str) -> AgentClient {
    let a = AgentClient::builder("ws", "ckpt", spec)
        .unwrap()
        .gateway(url)
        .build();
    a.connect().await.unwrap();
    a
}

#[tokio::test]
async fn save_load_list_delete() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "a").await;
    let before = SystemTime::now() - Duration::from_secs(1);

    assert_eq!(a.checkpoint_load("step").await.unwrap(), None);
    let saved_at = a
        .checkpoint_save("step", "three", CheckpointTtl::Never)
        .await
        .unwrap();
    assert!(saved_at >= before, "{saved_at:?}");
    let cp = a.checkpoint_load("step").await.unwrap().unwrap();
    assert_eq!(cp.data, Bytes::from_static(b"three"));
    assert_eq!(cp.saved_at, saved_at);

    // Overwrite; an empty key is the gateway's "default".
    a.checkpoint_save("step", "four", CheckpointTtl::ServerDefault)
        .await
        .unwrap();
    a.checkpoint_save("", "dflt", CheckpointTtl::Never)
        .await
        .unwrap();
    assert_eq!(
        a.checkpoint_load("step").await.unwrap().unwrap().data,
        Bytes::from_static(b"four")
    );
    assert_eq!(
        a.checkpoint_load("default").await.unwrap().unwrap().data,
        Bytes::from_static(b"dflt")
    );
    let mut keys = a.checkpoint_list().await.unwrap();
    keys.sort();
    assert_eq!(keys, ["default", "step"]);

    // An explicitly empty checkpoint still loads (it has a save time).
    a.checkpoint_save("blank", Bytes::new(), CheckpointTtl::Never)
        .await
        .unwrap();
    let blank = a.checkpoint_load("blank").await.unwrap().unwrap();
    assert!(blank.data.is_empty());

    a.checkpoint_delete("step").await.unwrap();
    a.checkpoint_delete("step").await.unwrap(); // idempotent
    assert_eq!(a.checkpoint_load("step").await.unwrap(), None);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn checkpoints_belong_to_their_identity_and_survive_a_reconnect() {
    let gw = gateway().await;
    let url = gw.url();
    let a = agent(&url, "owner").await;
    let b = agent(&url, "stranger").await;
    a.checkpoint_save("mine", "secret", CheckpointTtl::Never)
        .await
        .unwrap();
    assert_eq!(b.checkpoint_load("mine").await.unwrap(), None);
    assert!(b.checkpoint_list().await.unwrap().is_empty());
    a.close().await;

    let again = agent(&url, "owner").await;
    assert_eq!(
        again.checkpoint_load("mine").await.unwrap().unwrap().data,
        Bytes::from_static(b"secret")
    );
    again.close().await;
    b.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn every_principal_may_checkpoint() {
    let gw = gateway().await;
    let url = gw.url();
    let user = UserClient::builder("alice", "tab")
        .unwrap()
        .gateway(&url)
        .build();
    let orch = OrchestratorClient::builder("orch", "o1", vec!["p".into()])
        .unwrap()
        .gateway(&url)
        .build();
    user.connect().await.unwrap();
    orch.connect().await.unwrap();
    user.checkpoint_save("ui", "layout", CheckpointTtl::Never)
        .await
        .unwrap();
    orch.checkpoint_save("fleet", "state", CheckpointTtl::Never)
        .await
        .unwrap();
    assert_eq!(
        user.checkpoint_load("ui").await.unwrap().unwrap().data,
        Bytes::from_static(b"layout")
    );
    assert_eq!(orch.checkpoint_list().await.unwrap(), ["fleet"]);
    user.close().await;
    orch.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_ttl_expires_the_checkpoint() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "ttl").await;
    a.checkpoint_save(
        "brief",
        "x",
        CheckpointTtl::After(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    a.checkpoint_save("kept", "y", CheckpointTtl::Never)
        .await
        .unwrap();
    within("the checkpoint to expire", async {
        while a.checkpoint_load("brief").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(a.checkpoint_load("kept").await.unwrap().is_some());
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn nowait_saves_and_deletes_are_observed_by_later_loads() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "nowait").await;
    a.checkpoint_save_nowait("q", "queued", CheckpointTtl::Never)
        .unwrap();
    assert_eq!(
        a.checkpoint_load("q").await.unwrap().unwrap().data,
        Bytes::from_static(b"queued")
    );
    a.checkpoint_delete_nowait("q").unwrap();
    assert_eq!(a.checkpoint_load("q").await.unwrap(), None);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn an_oversized_checkpoint_is_a_typed_error_and_the_connection_survives() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "big").await;
    let err = a
        .checkpoint_save("huge", vec![1u8; 5 * 1024 * 1024], CheckpointTtl::Never)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PayloadTooLarge, "{err}");
    a.checkpoint_save("small", "ok", CheckpointTtl::Never)
        .await
        .unwrap();
    assert!(a.checkpoint_load("small").await.unwrap().is_some());
    assert_eq!(a.checkpoint_load("huge").await.unwrap(), None);
    a.close().await;
    gw.shutdown().await;
}
