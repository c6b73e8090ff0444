//! The data directory is verified at start: corrupted or truncated data is
//! refused with one clear error naming the file, never a panic and never a
//! silently wrong or missing value; a second gateway on the same directory
//! fails clearly.

mod common;

use std::path::{Path, PathBuf};

use aether_gateway::{GatewayConfig, GatewayError, RunningGateway};
use aether_protocol::identity::Principal;
use aether_protocol::proto::kv_operation::Scope;
use common::Conn;
use common::state::kv_put;

const KEYS: usize = 150;

fn value(i: usize) -> Vec<u8> {
    format!("value-{i:04}-{}", "v".repeat(i % 97)).into_bytes()
}

fn config(dir: &Path) -> GatewayConfig {
    GatewayConfig::dev().with_data_dir(dir)
}

fn db_file(dir: &Path) -> PathBuf {
    dir.join("aether.redb")
}

/// Writes `KEYS` KV entries and shuts down cleanly.
async fn populate(dir: &Path) {
    let gw = aether_gateway::start(config(dir)).await.unwrap();
    let (mut c, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    for i in 0..KEYS {
        let r = c
            .kv(kv_put(Scope::Global, &format!("k{i:04}"), &value(i), "p"))
            .await;
        assert!(r.success);
    }
    drop(c);
    gw.shutdown().await;
}

/// Whether every entry reads back exactly.
async fn all_values_intact(gw: &RunningGateway) -> bool {
    let (mut c, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "r").unwrap()).await;
    for i in 0..KEYS {
        let r = c
            .kv(common::state::kv(
                aether_protocol::proto::kv_operation::OpType::Get,
                Scope::Global,
                &format!("k{i:04}"),
                "g",
            ))
            .await;
        if !r.success || r.value.as_ref() != value(i).as_slice() {
            return false;
        }
    }
    true
}

/// A refusal naming the database file.
fn assert_names_the_file(e: &GatewayError, dir: &Path) {
    match e {
        GatewayError::Corrupt { path, .. } => assert_eq!(path, &db_file(dir)),
        other => panic!("expected a corruption error, got {other:?}"),
    }
    let text = e.to_string();
    assert!(text.contains(&db_file(dir).display().to_string()), "{text}");
    assert!(text.contains("corrupted or truncated"), "{text}");
}

/// xorshift64: a reproducible stream of positions and bytes.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[tokio::test]
async fn flipped_bytes_are_refused_with_one_clear_error_never_served() {
    const TRIALS: u64 = 24;
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path()).await;
    let pristine = std::fs::read(db_file(dir.path())).unwrap();
    let state = std::fs::read(dir.path().join("aether.redb.state")).unwrap();
    let (mut refused, mut intact) = (0, 0);
    for seed in 1..=TRIALS {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut bytes = pristine.clone();
        for _ in 0..16 {
            let at = (next(&mut x) % bytes.len() as u64) as usize;
            bytes[at] ^= (next(&mut x) % 255 + 1) as u8;
        }
        std::fs::write(db_file(dir.path()), &bytes).unwrap();
        std::fs::write(dir.path().join("aether.redb.state"), &state).unwrap();
        match aether_gateway::start(config(dir.path())).await {
            Err(e) => {
                assert_names_the_file(&e, dir.path());
                assert!(
                    std::fs::read(db_file(dir.path())).unwrap() == bytes,
                    "seed {seed}: the refusal changed the file"
                );
                refused += 1;
            }
            Ok(gw) => {
                // The flips hit bytes no committed data lives in.
                assert!(
                    all_values_intact(&gw).await,
                    "seed {seed}: started and served wrong or missing values"
                );
                gw.shutdown().await;
                intact += 1;
            }
        }
    }
    eprintln!("{TRIALS} corrupted copies: {refused} refused, {intact} started intact");
    assert!(
        refused > 0,
        "the check found nothing in {TRIALS} corrupted copies"
    );
}

#[tokio::test]
async fn a_truncated_or_emptied_data_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path()).await;
    let file = db_file(dir.path());
    let full = std::fs::read(&file).unwrap();
    for len in [full.len() / 2, 4096, 0] {
        std::fs::write(&file, &full[..len]).unwrap();
        let e = aether_gateway::start(config(dir.path()))
            .await
            .expect_err("a truncated file is refused");
        assert_names_the_file(&e, dir.path());
        // And again: the refusal does not "repair" it into a start.
        let again = aether_gateway::start(config(dir.path())).await.unwrap_err();
        assert_names_the_file(&again, dir.path());
    }
    std::fs::remove_file(&file).unwrap();
    let e = aether_gateway::start(config(dir.path())).await.unwrap_err();
    assert_names_the_file(&e, dir.path());
    // The intact file starts again.
    std::fs::write(&file, &full).unwrap();
    let gw = aether_gateway::start(config(dir.path())).await.unwrap();
    assert!(all_values_intact(&gw).await);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_second_gateway_on_the_same_data_dir_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let first = aether_gateway::start(config(dir.path())).await.unwrap();
    for _ in 0..2 {
        let e = aether_gateway::start(config(dir.path())).await.unwrap_err();
        assert!(matches!(e, GatewayError::Store(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains(&db_file(dir.path()).display().to_string()),
            "{text}"
        );
        assert!(text.to_lowercase().contains("already open"), "{text}");
    }
    // The first is untouched and shuts down cleanly; then the next opens.
    Conn::connect(&first.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    first.shutdown().await;
    aether_gateway::start(config(dir.path()))
        .await
        .unwrap()
        .shutdown()
        .await;
}
