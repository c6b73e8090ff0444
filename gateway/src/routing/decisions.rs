//! A session's last allowed send decision, reused while it holds: a
//! sender usually writes to one workspace many times in a row, and the
//! decision only changes when the ACL changes or one of its entries
//! expires ([`Stamp`](crate::authz::Stamp)). Refusals, on-behalf-of
//! sends and superadmin sessions are decided every time (the last two
//! cheaply or with a grant that may be revoked at any moment).

use crate::authz::{self, Actor, Level, Resource, Stamp};
use crate::context::Context;

/// The cached decision of one session.
#[derive(Default)]
pub(crate) struct SendDecisions {
    /// (target workspace, the sender's workspace then, when decided).
    last: Option<(String, String, Stamp)>,
}

impl SendDecisions {
    /// Whether `actor` may send into workspace `ws` (READ_WRITE).
    pub(crate) fn allows(&mut self, cx: &Context, actor: &Actor<'_>, ws: &str) -> bool {
        let decide = || {
            cx.authz
                .allows(actor, Resource::workspace(ws), Level::READ_WRITE)
        };
        if actor.limit.is_some() || actor.superadmin {
            return decide();
        }
        // Taken before deciding: a change meanwhile makes it stale.
        let stamp = cx.authz.stamp();
        if let Some((w, from, taken)) = &self.last
            && w == ws
            && from == actor.workspace
            && taken.holds(stamp, authz::now_s())
        {
            return true;
        }
        let ok = decide();
        if ok {
            self.last = Some((ws.to_string(), actor.workspace.to_string(), stamp));
        }
        ok
    }
}
