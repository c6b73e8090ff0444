//! API tokens (§6.5): minted by an administrator, shown once, stored only
//! as a SHA-256 digest (durably, in `Table::Tokens` keyed by token id),
//! bound to a principal type, an optional id, workspace patterns and an
//! expiry ([`Binding`]), and presented as `api_key` / `x-api-key`.
//!
//! A token is looked up by the digest of what is presented and the stored
//! digest is compared again in constant time; the plaintext is never kept
//! anywhere. Revoked tokens stay listed (`include_revoked`) until deleted.
//! Timestamps in `TokenInfo` are unix seconds.

pub(crate) mod spec;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aether_protocol::proto::{TokenFilter, TokenInfo};
use parking_lot::Mutex;
use prost::Message;

use crate::credential::secret::{self, Digest};
use crate::credential::{Binding, BoundType};
use crate::store::{Commit, Mutation, Store, StoreError, Table};
use spec::NewToken;

/// Most tokens kept (revoked ones included); creating more is refused.
pub(crate) const MAX_TOKENS: usize = 10_000;
/// Default `TokenFilter.limit`.
const DEFAULT_LIMIT: usize = 100;

/// A token as stored: its description and the digest of its secret.
#[derive(Clone, PartialEq, prost::Message)]
struct Stored {
    #[prost(message, optional, tag = "1")]
    info: Option<TokenInfo>,
    #[prost(bytes = "vec", tag = "2")]
    digest: Vec<u8>,
}

struct Entry {
    info: TokenInfo,
    digest: Digest,
    binding: Binding,
    admin: bool,
}

impl Entry {
    fn from_info(info: TokenInfo, digest: Digest) -> Option<Entry> {
        let bound_type = BoundType::parse(&info.principal_type)?;
        let binding = Binding {
            bound_type,
            bound_id: Some(info.created_by.clone()).filter(|s| !s.is_empty()),
            workspaces: info
                .workspace_patterns
                .iter()
                .cloned()
                .collect::<Arc<[_]>>(),
        };
        let admin = info.scopes.iter().any(|s| s == "admin");
        Some(Entry {
            info,
            digest,
            binding,
            admin,
        })
    }

    fn mutation(&self) -> Mutation {
        let stored = Stored {
            info: Some(self.info.clone()),
            digest: self.digest.to_vec(),
        };
        Mutation::put(Table::Tokens, self.info.id.clone(), stored.encode_to_vec())
    }

    fn expired(&self, now_s: i64) -> bool {
        self.info.expires_at > 0 && now_s >= self.info.expires_at
    }
}

/// What presenting a secret amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verified {
    /// A live token.
    Valid(VerifiedToken),
    /// No token has this secret.
    Unknown,
    /// The token was revoked.
    Revoked,
    /// The token expired.
    Expired,
}

/// A live token's id and what it admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifiedToken {
    pub(crate) id: String,
    pub(crate) binding: Binding,
    /// Its sessions are administrators (scope `admin`).
    pub(crate) admin: bool,
}

#[derive(Default)]
struct State {
    by_id: BTreeMap<String, Entry>,
    by_digest: HashMap<Digest, String>,
}

/// The token store.
pub(crate) struct TokenStore {
    state: Mutex<State>,
    store: Store,
}

impl TokenStore {
    /// Loads the tokens from `store`, which it then writes through.
    pub(crate) fn load(store: Store) -> Result<Self, StoreError> {
        let mut state = State::default();
        for (id, row) in store.load(Table::Tokens)? {
            let entry = Stored::decode(row.as_slice()).ok().and_then(|s| {
                let digest: Digest = s.digest.as_slice().try_into().ok()?;
                Entry::from_info(s.info?, digest)
            });
            match entry {
                Some(e) => {
                    state.by_digest.insert(e.digest, e.info.id.clone());
                    state.by_id.insert(e.info.id.clone(), e);
                }
                None => tracing::error!(token_id = %id, "unreadable token record skipped"),
            }
        }
        Ok(TokenStore {
            state: Mutex::new(state),
            store,
        })
    }

    /// Mints a token: its secret (shown once), its description, and the
    /// commit to await before showing either.
    pub(crate) fn create(
        &self,
        spec: NewToken,
        now_s: i64,
    ) -> Result<(String, TokenInfo, Commit), String> {
        let plaintext = secret::fresh_token()?;
        let digest = secret::digest(&plaintext);
        let id = format!("tok_{}", secret::hex(&secret::random_bytes::<12>()?));
        let info = TokenInfo {
            id: id.clone(),
            name: spec.name,
            principal_type: spec.bound_type.name().to_string(),
            workspace_patterns: spec.workspace_patterns,
            scopes: spec.scopes,
            created_by: spec.created_by,
            expires_at: if spec.expires_in_hours > 0 {
                now_s.saturating_add(i64::from(spec.expires_in_hours) * 3600)
            } else {
                0
            },
            last_used_at: 0,
            revoked: false,
            revoked_at: 0,
            created_at: now_s,
            updated_at: now_s,
        };
        let entry = Entry::from_info(info.clone(), digest)
            .ok_or("the token's principal type is not known")?;
        let mut state = self.state.lock();
        if state.by_id.len() >= MAX_TOKENS {
            return Err(format!(
                "too many tokens ({MAX_TOKENS}); delete revoked or unused ones first"
            ));
        }
        let commit = self.store.submit(vec![entry.mutation()]);
        state.by_digest.insert(digest, id.clone());
        state.by_id.insert(id, entry);
        Ok((plaintext, info, commit))
    }

    /// Looks up the token whose secret is `presented`.
    pub(crate) fn verify(&self, presented: &str, now_s: i64) -> Verified {
        let digest = secret::digest(presented);
        let state = self.state.lock();
        let Some(entry) = state
            .by_digest
            .get(&digest)
            .and_then(|id| state.by_id.get(id))
            .filter(|e| secret::same(&e.digest, &digest))
        else {
            return Verified::Unknown;
        };
        if entry.info.revoked {
            Verified::Revoked
        } else if entry.expired(now_s) {
            Verified::Expired
        } else {
            Verified::Valid(VerifiedToken {
                id: entry.info.id.clone(),
                binding: entry.binding.clone(),
                admin: entry.admin,
            })
        }
    }

    /// Whether token `id` still authenticates (exists, not revoked, not
    /// expired).
    pub(crate) fn is_valid(&self, id: &str, now_s: i64) -> bool {
        self.state
            .lock()
            .by_id
            .get(id)
            .is_some_and(|e| !e.info.revoked && !e.expired(now_s))
    }

    /// Notes a successful connection with token `id` (`last_used_at`;
    /// journaled without waiting, at most once a second per token).
    pub(crate) fn touch(&self, id: &str, now_s: i64) {
        let mut state = self.state.lock();
        if let Some(e) = state.by_id.get_mut(id)
            && e.info.last_used_at < now_s
        {
            e.info.last_used_at = now_s;
            drop(self.store.submit(vec![e.mutation()]));
        }
    }

    /// A page of tokens, oldest first, and how many the filter selects.
    pub(crate) fn list(&self, filter: &TokenFilter) -> (Vec<TokenInfo>, usize) {
        let state = self.state.lock();
        let mut all: Vec<&TokenInfo> = state
            .by_id
            .values()
            .map(|e| &e.info)
            .filter(|i| filter.include_revoked || !i.revoked)
            .collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let offset = usize::try_from(filter.offset).unwrap_or(0);
        let limit = usize::try_from(filter.limit)
            .ok()
            .filter(|l| *l > 0)
            .unwrap_or(DEFAULT_LIMIT);
        let page = all
            .iter()
            .skip(offset)
            .take(limit)
            .map(|i| (*i).clone())
            .collect();
        (page, all.len())
    }

    /// Token `id`'s description.
    pub(crate) fn get(&self, id: &str) -> Option<TokenInfo> {
        self.state.lock().by_id.get(id).map(|e| e.info.clone())
    }

    /// Revokes token `id` (at once for new connections; idempotent).
    pub(crate) fn revoke(&self, id: &str, now_s: i64) -> Result<(TokenInfo, Commit), String> {
        let mut state = self.state.lock();
        let e = state.by_id.get_mut(id).ok_or("token not found")?;
        if !e.info.revoked {
            e.info.revoked = true;
            e.info.revoked_at = now_s;
            e.info.updated_at = now_s;
        }
        Ok((e.info.clone(), self.store.submit(vec![e.mutation()])))
    }

    /// Deletes token `id` (it stops authenticating at once).
    pub(crate) fn delete(&self, id: &str) -> Result<(TokenInfo, Commit), String> {
        let mut state = self.state.lock();
        let e = state.by_id.remove(id).ok_or("token not found")?;
        state.by_digest.remove(&e.digest);
        let commit = self
            .store
            .submit(vec![Mutation::delete(Table::Tokens, id.to_string())]);
        Ok((e.info, commit))
    }

    /// Whether some token with an expiry has expired by `now_s` and may
    /// still have live sessions (so the sweeper should look).
    pub(crate) fn any_expired(&self, now_s: i64) -> bool {
        self.state
            .lock()
            .by_id
            .values()
            .any(|e| !e.info.revoked && e.expired(now_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_protocol::proto::TokenCreateRequest;

    fn spec(t: &str, hours: i32) -> NewToken {
        NewToken::from_request(Some(TokenCreateRequest {
            name: "n".into(),
            principal_type: t.into(),
            expires_in_hours: hours,
            ..Default::default()
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn lifecycle_and_durability() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let tokens = TokenStore::load(store.clone()).unwrap();
        let (secret, info, commit) = tokens.create(spec("agent", 1), 1000).unwrap();
        commit.await.unwrap();
        assert_eq!(info.principal_type, "Agent");
        assert_eq!(info.expires_at, 1000 + 3600);
        let Verified::Valid(v) = tokens.verify(&secret, 1001) else {
            panic!("valid")
        };
        assert_eq!(v.id, info.id);
        assert!(!v.admin);
        assert_eq!(tokens.verify("aet_nope", 1001), Verified::Unknown);
        assert_eq!(tokens.verify(&secret, 1000 + 3600), Verified::Expired);
        assert!(tokens.any_expired(1000 + 3600));
        tokens.touch(&info.id, 1002);
        store.close();

        // Only the digest is on disk.
        let raw = std::fs::read(dir.path().join("aether.redb")).unwrap();
        let needle = secret.as_bytes();
        assert!(!raw.windows(needle.len()).any(|w| w == needle));

        let store = Store::open(dir.path()).unwrap();
        let tokens = TokenStore::load(store.clone()).unwrap();
        assert!(matches!(tokens.verify(&secret, 1003), Verified::Valid(_)));
        assert_eq!(tokens.get(&info.id).unwrap().last_used_at, 1002);
        let (_, c) = tokens.revoke(&info.id, 1004).unwrap();
        c.await.unwrap();
        assert_eq!(tokens.verify(&secret, 1005), Verified::Revoked);
        assert!(!tokens.is_valid(&info.id, 1005));
        assert_eq!(tokens.list(&TokenFilter::default()).1, 0);
        let (page, total) = tokens.list(&TokenFilter {
            include_revoked: true,
            ..Default::default()
        });
        assert_eq!((page.len(), total), (1, 1));
        assert!(page[0].revoked && page[0].revoked_at == 1004);
        let (_, c) = tokens.delete(&info.id).unwrap();
        c.await.unwrap();
        assert_eq!(tokens.verify(&secret, 1005), Verified::Unknown);
        assert_eq!(
            tokens.delete(&info.id).err(),
            Some("token not found".to_string())
        );
        store.close();
    }
}
