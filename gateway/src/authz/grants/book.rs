//! The grants and requests in memory, and the database rows mirroring them.

use std::collections::BTreeMap;

use aether_protocol::proto::{AclAuthorityGrantInfo, AuthorityRequest};
use prost::Message;

use super::super::rules::key;
use crate::store::{Mutation, StoreError, Table};

/// Most grants plus requests kept (revoked and expired ones included
/// until they are pruned).
pub(crate) const MAX_ENTRIES: usize = 100_000;

/// Every grant and request.
#[derive(Default)]
pub(crate) struct GrantBook {
    pub(crate) grants: BTreeMap<String, AclAuthorityGrantInfo>,
    pub(crate) requests: BTreeMap<String, AuthorityRequest>,
}

impl GrantBook {
    /// The book from the `Table::Acl` rows the ACL did not take; a row
    /// that cannot be read refuses the store.
    pub(crate) fn load(rows: Vec<(String, Vec<u8>)>) -> Result<GrantBook, StoreError> {
        let mut b = GrantBook::default();
        for (k, v) in rows {
            let unreadable = |e: prost::DecodeError| StoreError::unreadable(Table::Acl, &k, e);
            if let Some(id) = k.strip_prefix(key::GRANT) {
                let g = AclAuthorityGrantInfo::decode(v.as_slice()).map_err(unreadable)?;
                b.grants.insert(id.to_string(), g);
            } else if let Some(id) = k.strip_prefix(key::REQUEST) {
                let r = AuthorityRequest::decode(v.as_slice()).map_err(unreadable)?;
                b.requests.insert(id.to_string(), r);
            } else {
                return Err(StoreError::unreadable(
                    Table::Acl,
                    &k,
                    "unknown record kind",
                ));
            }
        }
        Ok(b)
    }

    /// Whether another entry fits.
    pub(crate) fn full(&self) -> bool {
        self.grants.len() + self.requests.len() >= MAX_ENTRIES
    }

    /// Stores `g` (replacing the grant with its id).
    pub(crate) fn put_grant(&mut self, g: AclAuthorityGrantInfo) -> Mutation {
        let m = Mutation::put(
            Table::Acl,
            format!("{}{}", key::GRANT, g.grant_id),
            g.encode_to_vec(),
        );
        self.grants.insert(g.grant_id.clone(), g);
        m
    }

    /// Stores `r` (replacing the request with its id).
    pub(crate) fn put_request(&mut self, r: AuthorityRequest) -> Mutation {
        let m = Mutation::put(
            Table::Acl,
            format!("{}{}", key::REQUEST, r.request_id),
            r.encode_to_vec(),
        );
        self.requests.insert(r.request_id.clone(), r);
        m
    }

    /// `id` and every grant derived from it, directly or not.
    pub(crate) fn with_descendants(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_string()];
        let mut i = 0;
        while i < out.len() {
            let parent = out[i].clone();
            out.extend(
                self.grants
                    .values()
                    .filter(|g| g.parent_grant_id == parent)
                    .map(|g| g.grant_id.clone()),
            );
            i += 1;
        }
        out
    }

    /// Revokes `id` and every grant derived from it that is not revoked
    /// yet, at `now_ms`: the grants revoked and their mutations.
    pub(crate) fn revoke_tree(
        &mut self,
        id: &str,
        now_ms: i64,
    ) -> (Vec<AclAuthorityGrantInfo>, Vec<Mutation>) {
        let mut revoked = Vec::new();
        let mut muts = Vec::new();
        for gid in self.with_descendants(id) {
            if let Some(mut g) = self.grants.get(&gid).cloned()
                && !g.revoked
            {
                g.revoked = true;
                g.revoked_at = now_ms;
                muts.push(self.put_grant(g.clone()));
                revoked.push(g);
            }
        }
        (revoked, muts)
    }
}

/// Whether `g` is in force at `now_ms`: not revoked, not expired.
pub(crate) fn live(g: &AclAuthorityGrantInfo, now_ms: i64) -> bool {
    !g.revoked && (g.expires_at == 0 || super::to_ms(g.expires_at) > now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_rows_refuse_the_store() {
        let good = AclAuthorityGrantInfo {
            grant_id: "g".into(),
            ..Default::default()
        };
        let ok = GrantBook::load(vec![("grant/g".into(), good.encode_to_vec())]).unwrap();
        assert_eq!(ok.grants.len(), 1);
        assert!(GrantBook::load(vec![("grant/x".into(), vec![0xff, 0xff, 0xff])]).is_err());
        assert!(GrantBook::load(vec![("mystery/x".into(), Vec::new())]).is_err());
    }
}
