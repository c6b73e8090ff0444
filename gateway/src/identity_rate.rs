//! Per-identity rate limits (off by default, see
//! [`Limits::identity_rate`](crate::Limits)): one token bucket per
//! principal as the authorization engine names it (a user across all its
//! windows, an agent across reconnects), shared by all its sessions, taken
//! by every request a session sends (messages, KV, checkpoints, tasks,
//! administration, authority operations). A request over the limit is
//! refused with `ERR_RATE_LIMITED` (retryable, with `retry_after_ms` and
//! the request's id). HTTP-over-Aether and tunnel frames have their own
//! limits and are not counted.
//!
//! Buckets of identities that went quiet are dropped once there are many
//! (a full bucket is the same as a new one), so memory stays bounded by
//! the identities active within one refill period.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::authz::PrincipalId;
use crate::config::RateLimit;
use crate::rate::TokenBucket;

/// Buckets kept before the full ones are dropped.
const PRUNE_AT: usize = 10_000;

/// The buckets of every identity.
pub(crate) struct IdentityRates {
    limit: RateLimit,
    buckets: Mutex<HashMap<PrincipalId, TokenBucket>>,
}

impl IdentityRates {
    /// Limits every identity to `limit`.
    pub(crate) fn new(limit: RateLimit) -> Self {
        IdentityRates {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `who`; the `retry_after_ms` of a refusal otherwise.
    pub(crate) fn take(&self, who: &PrincipalId) -> Result<(), i64> {
        let mut buckets = self.buckets.lock();
        if let Some(b) = buckets.get_mut(who) {
            return if b.try_take() {
                Ok(())
            } else {
                Err(b.retry_after_ms())
            };
        }
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| !b.is_full());
        }
        let mut b = TokenBucket::new(self.limit);
        let taken = b.try_take();
        buckets.insert(who.clone(), b);
        debug_assert!(taken, "a new bucket has a token");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::principal::PType;

    #[test]
    fn identities_have_their_own_buckets() {
        let r = IdentityRates::new(RateLimit {
            per_second: 1,
            burst: 2,
        });
        let a = PrincipalId {
            ptype: PType::User,
            id: "alice".into(),
        };
        let b = PrincipalId {
            ptype: PType::User,
            id: "bob".into(),
        };
        assert!(r.take(&a).is_ok());
        assert!(r.take(&a).is_ok());
        assert_eq!(r.take(&a), Err(1000));
        assert!(r.take(&b).is_ok());
    }
}
