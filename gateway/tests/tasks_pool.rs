//! POOL tasks (§5.3): load balancing over connected consumers, each task
//! to exactly one; held until a consumer connects; services as consumers;
//! `no_pool_consumer` services and other workspaces excluded.

mod common;
#[path = "common/tasks.rs"]
mod th;

use std::collections::HashSet;

use aether_protocol::identity::Principal;
use aether_protocol::proto::TaskStatus;
use common::dev_gateway;
use th::{Peer, pool};

fn agent(ws: &str, imp: &str, spec: &str) -> Principal {
    Principal::agent(ws, imp, spec).unwrap()
}

#[tokio::test]
async fn pool_tasks_are_balanced_and_each_goes_to_exactly_one_consumer() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut creator = Peer::connect(&url, &agent("w", "boss", "b")).await;
    let mut c1 = Peer::connect(&url, &agent("w", "crunch", "1")).await;
    let mut c2 = Peer::connect(&url, &agent("w", "crunch", "2")).await;
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let r = creator.create(pool("w", "crunch")).await;
        assert_eq!(r.status, "pending_pool");
        assert!(r.assigned_to.starts_with("ag::w::crunch::"));
        ids.insert(r.task_id);
    }
    let got1: Vec<String> = c1
        .drain(th::assignment)
        .await
        .into_iter()
        .map(|a| a.task_id)
        .collect();
    let got2: Vec<String> = c2
        .drain(th::assignment)
        .await
        .into_iter()
        .map(|a| a.task_id)
        .collect();
    assert_eq!(got1.len() + got2.len(), 20);
    let all: HashSet<String> = got1.iter().chain(&got2).cloned().collect();
    assert_eq!(all, ids, "every task exactly once");
    // Power of two choices on held tasks keeps two consumers even.
    assert!(
        got1.len().abs_diff(got2.len()) <= 2,
        "{} vs {}",
        got1.len(),
        got2.len()
    );
}

#[tokio::test]
async fn a_pool_task_waits_for_a_consumer() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut creator = Peer::connect(&url, &agent("w", "boss", "b")).await;
    let r = creator.create(pool("w", "late")).await;
    assert_eq!(r.status, "pending_pool");
    assert!(r.assigned_to.is_empty());
    // Neither another workspace's agent nor a non-consumer service takes it.
    let mut elsewhere = Peer::connect(&url, &agent("v", "late", "x")).await;
    let mut opted_out = Peer::connect(&url, &Principal::service("late", "s", true).unwrap()).await;
    assert!(elsewhere.drain(th::assignment).await.is_empty());
    assert!(opted_out.drain(th::assignment).await.is_empty());
    assert_eq!(
        creator.get(&r.task_id).await.unwrap().status,
        TaskStatus::Queued as i32
    );
    let mut consumer = Peer::connect(&url, &agent("w", "late", "c")).await;
    let a = consumer.assignment().await;
    assert_eq!(a.task_id, r.task_id);
    assert_eq!(a.assigned_to, "ag::w::late::c");
}

#[tokio::test]
async fn services_consume_pool_tasks_now_and_when_they_connect_later() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut creator = Peer::connect(&url, &agent("w", "boss", "b")).await;
    let held = creator.create(pool("w", "svc")).await;
    let mut s = Peer::connect(&url, &Principal::service("svc", "s1", false).unwrap()).await;
    assert_eq!(
        s.assignment().await.task_id,
        held.task_id,
        "served on connect"
    );
    let now = creator.create(pool("other-ws", "svc")).await;
    assert_eq!(now.assigned_to, "sv::svc::s1");
    assert_eq!(s.assignment().await.task_id, now.task_id);
}

#[tokio::test]
async fn unclaimed_pool_tasks_return_to_the_pool_when_their_consumer_leaves() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut creator = Peer::connect(&url, &agent("w", "boss", "b")).await;
    let mut c1 = Peer::connect(&url, &agent("w", "crunch", "1")).await;
    let r = creator.create(pool("w", "crunch")).await;
    assert_eq!(c1.assignment().await.task_id, r.task_id);
    drop(c1);
    let mut c2 = Peer::connect(&url, &agent("w", "crunch", "2")).await;
    let a = c2.assignment().await;
    assert_eq!(a.task_id, r.task_id);
    assert_eq!(a.assigned_to, "ag::w::crunch::2");
}

#[tokio::test]
async fn pooled_task_instances_share_pool_tasks_with_agents() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut creator = Peer::connect(&url, &agent("w", "boss", "b")).await;
    let held = creator.create(pool("w", "crunch")).await;
    // A pooled instance that connects takes what waited.
    let instance = Principal::pooled_task("w", "crunch").unwrap();
    let mut t1 = Peer::connect(&url, &instance).await;
    let a = t1.assignment().await;
    assert_eq!(a.task_id, held.task_id);
    assert!(
        a.assigned_to.starts_with("ta::w::crunch::"),
        "{}",
        a.assigned_to
    );
    // Instances and agents are chosen from alike.
    let mut t2 = Peer::connect(&url, &instance).await;
    let mut ag = Peer::connect(&url, &agent("w", "crunch", "a")).await;
    let mut ids = HashSet::new();
    for _ in 0..30 {
        ids.insert(creator.create(pool("w", "crunch")).await.task_id);
    }
    let counts: Vec<usize> = [
        t1.drain(th::assignment).await,
        t2.drain(th::assignment).await,
        ag.drain(th::assignment).await,
    ]
    .iter()
    .map(|got| {
        for a in got {
            assert!(ids.remove(&a.task_id), "each task exactly once");
        }
        got.len()
    })
    .collect();
    assert!(ids.is_empty());
    // t1 already held one task; power of two choices keeps them close.
    assert!(counts.iter().all(|&n| (7..=13).contains(&n)), "{counts:?}");
    // Another workspace's instances do not take them.
    let mut other = Peer::connect(&url, &Principal::pooled_task("v", "crunch").unwrap()).await;
    creator.create(pool("w", "crunch")).await;
    assert!(other.drain(th::assignment).await.is_empty());
}
