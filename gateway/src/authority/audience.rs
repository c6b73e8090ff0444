//! Grants that live only while their audience does
//! (`valid_while_audience_active`): when the last live session of a
//! grant's delegate ends, the grant is revoked, with the grants derived
//! from it, and its subject is told (reason `audience inactive`). A
//! reconnecting delegate does not get it back: the subject grants again.

use crate::authz::grants::now_ms;
use crate::context::Context;
use crate::context::handle::SessionHandle;
use crate::store::Commit;

use super::notify;

/// Revokes the grants bound to the activity of `departed`'s principal,
/// unless another of its sessions is still live; the commit of the
/// revocations.
pub(crate) fn departed(cx: &Context, departed: &SessionHandle) -> Commit {
    let me = &departed.acl;
    let still_active = cx
        .sessions()
        .iter()
        .any(|s| s.session_id != departed.session_id && s.acl == *me);
    if still_active {
        return Commit::done();
    }
    let now = now_ms();
    let (revoked, commit) = cx.authz.write_grants(|b| {
        let bound: Vec<String> = b
            .grants
            .values()
            .filter(|g| {
                g.valid_while_audience_active
                    && !g.revoked
                    && g.delegate.as_ref().is_some_and(|d| me.is(d))
            })
            .map(|g| g.grant_id.clone())
            .collect();
        let mut revoked = Vec::new();
        let mut muts = Vec::new();
        for id in bound {
            let (r, m) = b.revoke_tree(&id, now);
            revoked.extend(r);
            muts.extend(m);
        }
        (revoked, muts)
    });
    if !revoked.is_empty() {
        let cascade = revoked.len() > 1;
        notify::revoked(cx, &revoked, "audience inactive", cascade);
    }
    commit
}
