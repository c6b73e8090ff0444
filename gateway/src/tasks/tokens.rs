//! Task tokens (§1.5 rule 1, §5.4): minted by this gateway for the worker
//! identity a task is for; a worker that connects with
//! `credentials["token"]` is admitted as that identity and bound to the
//! task. Tokens live 24 h and are revoked when their task ends. They are
//! kept in `Table::Meta` under `tasks/token/{token}` (in clear: the
//! database is the gateway's own, under its data directory).

use std::collections::HashMap;

use prost::Message;
use tonic::Status;

use crate::store::{Mutation, Table};

/// Meta key prefix of tokens.
pub(crate) const PREFIX: &str = "tasks/token/";

/// How long a token is valid.
const TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// What a token grants.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Grant {
    /// The identity string the token is for.
    #[prost(string, tag = "1")]
    pub(crate) identity: String,
    /// The task the worker is bound to.
    #[prost(string, tag = "2")]
    pub(crate) task_id: String,
    #[prost(int64, tag = "3")]
    pub(crate) expires_ms: i64,
}

/// Every live token.
#[derive(Default)]
pub(crate) struct Tokens {
    by_token: HashMap<String, Grant>,
}

/// 256 random bits as 64 hex characters.
fn fresh() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Tokens {
    /// Loads tokens from `Table::Meta` rows (others are ignored).
    pub(crate) fn load(rows: &[(String, Vec<u8>)]) -> Self {
        let by_token = rows
            .iter()
            .filter_map(|(k, v)| {
                let token = k.strip_prefix(PREFIX)?;
                Grant::decode(v.as_slice())
                    .ok()
                    .map(|g| (token.to_string(), g))
            })
            .collect();
        Tokens { by_token }
    }

    /// Mints a token for `identity` bound to `task_id`.
    pub(crate) fn mint(&mut self, identity: &str, task_id: &str, now: i64) -> (String, Mutation) {
        let token = fresh();
        let grant = Grant {
            identity: identity.to_string(),
            task_id: task_id.to_string(),
            expires_ms: now + TTL_MS,
        };
        let m = Mutation::put(
            Table::Meta,
            format!("{PREFIX}{token}"),
            grant.encode_to_vec(),
        );
        self.by_token.insert(token.clone(), grant);
        (token, m)
    }

    /// Checks `token` for a worker connecting as `identity`; returns the
    /// bound task id.
    pub(crate) fn check(&self, token: &str, identity: &str, now: i64) -> Result<String, Status> {
        let grant = self
            .by_token
            .get(token)
            .filter(|g| g.expires_ms > now)
            .ok_or_else(|| Status::unauthenticated("invalid or revoked token"))?;
        if grant.identity != identity {
            return Err(Status::permission_denied(format!(
                "token issued for {}, not {identity}",
                grant.identity
            )));
        }
        Ok(grant.task_id.clone())
    }

    /// The tasks live tokens are bound to, with the identity each is for.
    pub(crate) fn bound(&self, now: i64) -> Vec<(String, String)> {
        self.by_token
            .values()
            .filter(|g| g.expires_ms > now)
            .map(|g| (g.task_id.clone(), g.identity.clone()))
            .collect()
    }

    /// Revokes every token of `task_id` (and drops expired ones).
    pub(crate) fn revoke_task(&mut self, task_id: &str, now: i64) -> Vec<Mutation> {
        let gone: Vec<String> = self
            .by_token
            .iter()
            .filter(|(_, g)| g.task_id == task_id || g.expires_ms <= now)
            .map(|(t, _)| t.clone())
            .collect();
        gone.into_iter()
            .map(|t| {
                self.by_token.remove(&t);
                Mutation::delete(Table::Meta, format!("{PREFIX}{t}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_check_revoke() {
        let mut t = Tokens::default();
        let (tok, m) = t.mint("ag::w::i::s", "t1", 0);
        assert_eq!(tok.len(), 64);
        assert_eq!(t.check(&tok, "ag::w::i::s", 1).ok().as_deref(), Some("t1"));
        let e = t.check(&tok, "ag::w::i::x", 1).unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        assert_eq!(e.message(), "token issued for ag::w::i::s, not ag::w::i::x");
        assert_eq!(
            t.check("nope", "ag::w::i::s", 1).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(t.check(&tok, "ag::w::i::s", TTL_MS + 1).is_err());
        let reloaded = Tokens::load(&[(m.key.clone(), m.value.clone().unwrap_or_default())]);
        assert!(reloaded.check(&tok, "ag::w::i::s", 1).is_ok());
        assert_eq!(t.revoke_task("t1", 1).len(), 1);
        assert!(t.check(&tok, "ag::w::i::s", 1).is_err());
    }
}
