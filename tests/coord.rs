//! Coordination primitives over the gateway's KV, with several clients.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aether_client::coord::{LeaderElection, LeadershipEvent, LeaseOptions, Mutex, Once, Semaphore};
use aether_client::{AgentClient, Error, ErrorKind, KvScope};
use common::{gateway, within};
use futures_util::StreamExt;
use tokio::sync::oneshot;

async fn agent(url: &str, spec: &str) -> AgentClient {
    let a = AgentClient::builder("ws", "coord", spec)
        .unwrap()
        .gateway(url)
        .build();
    a.connect().await.unwrap();
    a
}

/// Short leases, polled often, so tests finish quickly.
fn lease() -> LeaseOptions {
    LeaseOptions::new()
        .ttl(Duration::from_secs(2))
        .renew_every(Duration::from_millis(200))
}

#[tokio::test]
async fn the_mutex_excludes_with_strictly_increasing_fencing_tokens() {
    let gw = gateway().await;
    let url = gw.url();
    let inside = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    let mut tasks = Vec::new();
    for c in 0..4 {
        let client = agent(&url, &format!("m{c}")).await;
        clients.push(client.clone());
        // Two contenders per client, sharing one Mutex value.
        let mutex = Mutex::with_options(client, "locks/contended", lease());
        for _ in 0..2 {
            let (mutex, inside, tokens) = (mutex.clone(), inside.clone(), tokens.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..3 {
                    let guard = mutex.lock().await.unwrap();
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                    tokens.lock().push(guard.fencing_token());
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    guard.unlock().await.unwrap();
                }
            }));
        }
    }
    within("every contender to finish", async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    let tokens = tokens.lock().clone();
    assert_eq!(tokens.len(), 24);
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "not strictly increasing: {tokens:?}"
    );
    for c in clients {
        c.close().await;
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn a_deleted_lock_is_detected_as_lost() {
    let gw = gateway().await;
    let url = gw.url();
    let holder = agent(&url, "holder").await;
    let vandal = agent(&url, "vandal").await;
    let guard = Mutex::with_options(holder.clone(), "locks/vandalised", lease())
        .lock()
        .await
        .unwrap();
    let token = guard.lost_token();
    assert!(!guard.is_lost());
    vandal
        .kv_delete("locks/vandalised", &KvScope::Global)
        .await
        .unwrap();
    within("the lease loss", guard.lost()).await;
    assert!(token.is_cancelled());
    assert_eq!(
        guard.unlock().await.unwrap_err().kind(),
        ErrorKind::LeaseLost
    );
    // Someone else may take it now.
    let next = Mutex::with_options(vandal.clone(), "locks/vandalised", lease())
        .try_lock()
        .await
        .unwrap()
        .expect("the lock is free");
    assert_eq!(next.fencing_token(), 2);
    drop(next);
    holder.close().await;
    vandal.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_dropped_guard_releases_the_lock() {
    let gw = gateway().await;
    let url = gw.url();
    let a = agent(&url, "a").await;
    let b = agent(&url, "b").await;
    let ma = Mutex::with_options(a.clone(), "locks/dropped", lease());
    let mb = Mutex::with_options(b.clone(), "locks/dropped", lease());
    let guard = ma.lock().await.unwrap();
    assert!(mb.try_lock().await.unwrap().is_none());
    drop(guard);
    let g = within("the lock after a drop", mb.lock()).await.unwrap();
    assert_eq!(g.fencing_token(), 2);
    g.unlock().await.unwrap();
    a.close().await;
    b.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn leadership_fails_over_when_the_leaders_client_closes() {
    let gw = gateway().await;
    let url = gw.url();
    let a = agent(&url, "lead-a").await;
    let b = agent(&url, "lead-b").await;
    let ea = LeaderElection::start(a.clone(), "leader/svc", lease());
    let mut a_events = ea.events();
    let first = within("a to be elected", a_events.next()).await;
    let Some(LeadershipEvent::Elected { fencing_token: t1 }) = first else {
        panic!("unexpected {first:?}");
    };
    let eb = LeaderElection::start(b.clone(), "leader/svc", lease());
    let mut b_events = eb.events();
    assert!(ea.is_leader() && !eb.is_leader());

    // The leader's client goes away without resigning: its lease expires
    // and the follower takes over with a higher fencing token.
    a.close().await;
    let next = within("b to take over", b_events.next()).await;
    let Some(LeadershipEvent::Elected { fencing_token: t2 }) = next else {
        panic!("unexpected {next:?}");
    };
    assert!(t2 > t1, "{t2} <= {t1}");
    assert_eq!(
        within("a to notice", a_events.next()).await,
        Some(LeadershipEvent::Lost)
    );
    assert_eq!(within("a's campaign to end", a_events.next()).await, None);
    assert!(ea.is_stopped());

    // A clean resignation hands over without waiting for the lease.
    let c = agent(&url, "lead-c").await;
    let ec = LeaderElection::start(c.clone(), "leader/svc", lease());
    let mut c_events = ec.events();
    eb.resign().await.unwrap();
    assert_eq!(
        within("b's loss", b_events.next()).await,
        Some(LeadershipEvent::Lost)
    );
    let Some(LeadershipEvent::Elected { fencing_token: t3 }) =
        within("c to be elected", c_events.next()).await
    else {
        panic!("c was not elected");
    };
    assert!(t3 > t2);
    ec.resign().await.unwrap();
    b.close().await;
    c.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn the_semaphore_never_exceeds_its_permits() {
    let gw = gateway().await;
    let url = gw.url();
    let holders = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    let mut tasks = Vec::new();
    for c in 0..5 {
        let client = agent(&url, &format!("s{c}")).await;
        clients.push(client.clone());
        let sem = Semaphore::with_options(client, "sem/pool", 2, lease());
        let (holders, peak) = (holders.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                let permit = sem.acquire().await.unwrap();
                let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                holders.fetch_sub(1, Ordering::SeqCst);
                permit.release().await.unwrap();
            }
        }));
    }
    within("every holder to finish", async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    let peak = peak.load(Ordering::SeqCst);
    assert!((1..=2).contains(&peak), "peak {peak}");
    for c in clients {
        c.close().await;
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn a_dead_holders_permit_is_recovered_after_its_lease_expires() {
    let gw = gateway().await;
    let url = gw.url();
    let dead = agent(&url, "dead").await;
    let alive = agent(&url, "alive").await;
    let mine = Semaphore::with_options(dead.clone(), "sem/one", 1, lease());
    let theirs = Semaphore::with_options(alive.clone(), "sem/one", 1, lease());
    let permit = mine.acquire().await.unwrap();
    assert!(theirs.try_acquire().await.unwrap().is_none());
    // The holder's client dies without releasing.
    dead.close().await;
    within("the dead holder to lose its permit", permit.lost()).await;
    let recovered = within("the permit to be recovered", theirs.acquire())
        .await
        .unwrap();
    assert_eq!(recovered.slot(), 0);
    recovered.release().await.unwrap();
    alive.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn once_runs_exactly_once_across_clients() {
    let gw = gateway().await;
    let url = gw.url();
    let runs = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    let mut tasks = Vec::new();
    for c in 0..4 {
        let client = agent(&url, &format!("o{c}")).await;
        clients.push(client.clone());
        let once = Once::with_options(client, "once/migrate", lease());
        let runs = runs.clone();
        tasks.push(tokio::spawn(async move {
            once.call(|| async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok::<_, Error>("migrated")
            })
            .await
            .unwrap()
        }));
    }
    let mut ran = Vec::new();
    for t in tasks {
        ran.extend(within("a caller", t).await.unwrap());
    }
    assert_eq!(ran, ["migrated"]);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let later = Once::with_options(clients[0].clone(), "once/migrate", lease());
    assert!(later.is_done().await.unwrap());
    assert_eq!(
        later
            .call(|| async { Ok::<_, Error>("again") })
            .await
            .unwrap(),
        None
    );
    for c in clients {
        c.close().await;
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn once_runs_again_after_an_in_progress_runner_dies() {
    let gw = gateway().await;
    let url = gw.url();
    let doomed = agent(&url, "doomed").await;
    let survivor = agent(&url, "survivor").await;

    let once = Once::with_options(doomed.clone(), "once/crash", lease());
    let (started_tx, started_rx) = oneshot::channel();
    let runner = tokio::spawn(async move {
        once.call(|| async move {
            let _ = started_tx.send(());
            std::future::pending::<Result<(), Error>>().await
        })
        .await
    });
    within("the first run to start", started_rx).await.unwrap();
    // The runner's process dies mid-run: its client is gone, then the task.
    doomed.close().await;
    runner.abort();

    let once = Once::with_options(survivor.clone(), "once/crash", lease());
    let out = within(
        "the action to run again",
        once.call(|| async { Ok::<_, Error>(7) }),
    )
    .await
    .unwrap();
    assert_eq!(out, Some(7));
    assert!(once.is_done().await.unwrap());
    survivor.close().await;
    gw.shutdown().await;
}
