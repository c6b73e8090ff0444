//! The blocking twins of KV, checkpoints and the coordination primitives.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use aether_client::blocking::{AgentClient, ServiceClient, UserClient};
use aether_client::coord::{LeaseOptions, Mutex, Once};
use aether_client::{CheckpointTtl, Error, ErrorKind, KvScope};
use bytes::Bytes;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn kv_from_a_blocking_client() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(common::gateway());
    let url = gw.url();
    let a = AgentClient::builder("ws", "bkv", "a")
        .unwrap()
        .gateway(&url)
        .build()
        .unwrap();
    let svc = ServiceClient::builder("bkv", "svc")
        .unwrap()
        .gateway(&url)
        .build()
        .unwrap();
    a.connect().unwrap();
    svc.connect().unwrap();
    let g = KvScope::Global;

    a.kv_put("k", "v", &g, None).unwrap();
    assert_eq!(svc.kv_get("k", &g).unwrap(), Some(b("v")));
    assert_eq!(a.kv_increment("n", &g, None).unwrap(), 1);
    assert_eq!(a.kv_decrement("n", &g).unwrap(), 0);
    assert_eq!(a.kv_increment_if("n", 1, 1, &g, None).unwrap(), (1, true));
    assert_eq!(a.kv_decrement_if("n", 2, 0, &g).unwrap(), (1, false));
    assert!(a.kv_set_nx("nx", "1", &g, None).unwrap());
    assert!(a.kv_compare_and_set("nx", "1", "2", &g, None).unwrap());
    assert!(a.kv_compare_and_delete("nx", "2", &g).unwrap());
    assert_eq!(a.kv_set_add("set", "m", &g, None).unwrap(), (true, 1));
    assert_eq!(a.kv_set_card("set", &g).unwrap(), 1);
    a.kv_delete("k", &g).unwrap();
    assert_eq!(a.kv_get("k", &g).unwrap(), None);

    a.kv_put_nowait("nw", "queued", &g, None).unwrap();
    assert_eq!(a.kv_get("nw", &g).unwrap(), Some(b("queued")));
    a.kv_delete_nowait("nw", &g).unwrap();
    assert_eq!(a.kv_get("nw", &g).unwrap(), None);

    for i in 0..120 {
        a.kv_put(&format!("it/{i}"), "x", &KvScope::Workspace, None)
            .unwrap();
    }
    let keys: BTreeSet<String> = a
        .kv_list_iter("it/", &KvScope::Workspace, 50)
        .map(|e| e.unwrap().0)
        .collect();
    assert_eq!(keys.len(), 120);
    assert_eq!(a.kv_list("it/", &KvScope::Workspace).unwrap().len(), 120);
    assert_eq!(
        a.kv_get("", &g).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    a.close();
    svc.close();
    rt.block_on(gw.shutdown());
}

#[test]
fn checkpoints_from_blocking_clients() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(common::gateway());
    let user = UserClient::builder("bob", "w1")
        .unwrap()
        .gateway(gw.url())
        .build()
        .unwrap();
    user.connect().unwrap();
    assert_eq!(user.checkpoint_load("c").unwrap(), None);
    user.checkpoint_save("c", "data", CheckpointTtl::After(Duration::from_secs(60)))
        .unwrap();
    assert_eq!(user.checkpoint_load("c").unwrap().unwrap().data, b("data"));
    assert_eq!(user.checkpoint_list().unwrap(), ["c"]);
    user.checkpoint_save_nowait("d", "later", CheckpointTtl::Never)
        .unwrap();
    assert_eq!(user.checkpoint_load("d").unwrap().unwrap().data, b("later"));
    user.checkpoint_delete("c").unwrap();
    user.checkpoint_delete_nowait("d").unwrap();
    assert!(user.checkpoint_list().unwrap().is_empty());
    user.close();
    rt.block_on(gw.shutdown());
}

#[test]
fn coordination_with_blocking_clients() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(common::gateway());
    let url = gw.url();
    let lease = LeaseOptions::new()
        .ttl(Duration::from_secs(2))
        .renew_every(Duration::from_millis(200));
    let a = AgentClient::builder("ws", "bkv", "ca")
        .unwrap()
        .gateway(&url)
        .build()
        .unwrap();
    let other = AgentClient::builder("ws", "bkv", "cb")
        .unwrap()
        .gateway(&url)
        .build()
        .unwrap();
    a.connect().unwrap();
    other.connect().unwrap();

    // The primitives are async; a blocking client runs them on its runtime.
    let mutex = Mutex::with_options(a.clone(), "blocking/lock", lease.clone());
    let rival = Mutex::with_options(other.clone(), "blocking/lock", lease.clone());
    let guard = a.block_on(mutex.lock()).unwrap();
    assert_eq!(guard.fencing_token(), 1);
    assert!(other.block_on(rival.try_lock()).unwrap().is_none());
    a.block_on(guard.unlock()).unwrap();
    let second = other.block_on(rival.lock()).unwrap();
    assert_eq!(second.fencing_token(), 2);
    drop(second);

    let once = Once::with_options(a.clone(), "blocking/once", lease);
    let first = a.block_on(once.call(|| async { Ok::<_, Error>(1) }));
    let again = a.block_on(once.call(|| async { Ok::<_, Error>(2) }));
    assert_eq!((first.unwrap(), again.unwrap()), (Some(1), None));
    a.close();
    other.close();
    rt.block_on(gw.shutdown());
}
