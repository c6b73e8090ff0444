use std::collections::HashMap;

use aether_protocol::identity::Principal;
use aether_protocol::proto::TokenCreateRequest;
use tonic::{Code, Status};

use super::*;
use crate::config::{AuthThrottle, Limits};
use tokens::spec::NewToken;

fn creds(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn auth(dev: bool) -> Auth {
    let mut config = GatewayConfig::default()
        .with_dev(dev)
        .with_admin_key("sesame");
    config.limits = Limits::default().with_auth_throttle(AuthThrottle::default());
    Auth::new(&config, Store::memory()).unwrap()
}

fn no_task(_: &str) -> Result<String, Status> {
    Err(Status::unauthenticated("invalid or revoked token"))
}

fn try_as(
    auth: &Auth,
    p: &Principal,
    c: &HashMap<String, String>,
) -> Result<Authenticated, Refused> {
    let identity = p.identity_string();
    auth.authenticate(
        &Attempt {
            principal: p,
            identity: &identity,
            credentials: c,
            peer: &Peer::default(),
        },
        no_task,
    )
}

fn code(r: Result<Authenticated, Refused>) -> Code {
    match r {
        Ok(_) => Code::Ok,
        Err(e) => e.status.code(),
    }
}

fn mint(auth: &Auth, t: &str, ws: &[&str], scopes: &[&str]) -> String {
    let spec = NewToken::from_request(Some(TokenCreateRequest {
        name: "t".into(),
        principal_type: t.into(),
        workspace_patterns: ws.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }))
    .unwrap();
    auth.tokens.create(spec, now_s()).unwrap().0
}

#[test]
fn system_principals_need_credentials_outside_dev() {
    let a = auth(false);
    for p in [
        Principal::workflow_engine(),
        Principal::metrics_bridge(),
        Principal::orchestrator("o", "1", vec!["p".into()]).unwrap(),
    ] {
        assert_eq!(code(try_as(&a, &p, &creds(&[]))), Code::Unauthenticated);
        let ok = try_as(&a, &p, &creds(&[("x-api-key", "sesame")])).unwrap();
        assert!(ok.administrator && ok.system);
    }
    let d = auth(true);
    let ok = try_as(&d, &Principal::workflow_engine(), &creds(&[])).unwrap();
    assert_eq!(ok.credential, Credential::Open);
}

#[test]
fn tokens_bind_type_and_workspace() {
    let a = auth(false);
    let t = mint(&a, "Agent", &["team-*"], &[]);
    let agent = Principal::agent("team-a", "i", "s").unwrap();
    let ok = try_as(&a, &agent, &creds(&[("api_key", &t)])).unwrap();
    assert!(matches!(ok.credential, Credential::Token { .. }));
    assert!(!ok.administrator && !ok.system);
    let elsewhere = Principal::agent("payroll", "i", "s").unwrap();
    assert_eq!(
        code(try_as(&a, &elsewhere, &creds(&[("api_key", &t)]))),
        Code::PermissionDenied
    );
    assert_eq!(
        code(try_as(
            &a,
            &Principal::workflow_engine(),
            &creds(&[("api_key", &t)])
        )),
        Code::PermissionDenied
    );
    let admin = mint(&a, "WorkflowEngine", &[], &["admin"]);
    let ok = try_as(
        &a,
        &Principal::workflow_engine(),
        &creds(&[("api_key", &admin)]),
    )
    .unwrap();
    assert!(ok.administrator);
}

#[test]
fn dev_ignores_unknown_keys_but_honours_known_ones() {
    let d = auth(true);
    let agent = Principal::agent("w", "i", "s").unwrap();
    let ok = try_as(&d, &agent, &creds(&[("api_key", "garbage")])).unwrap();
    assert_eq!(ok.credential, Credential::Open);
    let t = mint(&d, "Agent", &["other"], &[]);
    assert_eq!(
        code(try_as(&d, &agent, &creds(&[("api_key", &t)]))),
        Code::PermissionDenied
    );
}

#[test]
fn five_failures_throttle_an_identity() {
    let a = auth(false);
    let agent = Principal::agent("w", "i", "s").unwrap();
    for _ in 0..5 {
        let e = try_as(&a, &agent, &creds(&[("api_key", "wrong")]))
            .err()
            .unwrap();
        assert_eq!(e.status.message(), INVALID_KEY);
    }
    let e = try_as(&a, &agent, &creds(&[("api_key", "sesame")]))
        .err()
        .unwrap();
    assert_eq!(e.status.message(), THROTTLED);
    assert!(e.throttled);
    let other = Principal::agent("w", "i", "t").unwrap();
    assert!(try_as(&a, &other, &creds(&[("api_key", "sesame")])).is_ok());
}
