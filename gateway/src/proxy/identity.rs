//! Header hygiene and the trusted identity headers (§8.2 step 5).
//!
//! Every caller-supplied entry whose name starts with `x-auth-` or
//! `x-aether-` (in any case) is removed, then the direct-mode set is
//! minted with upstream's exact key casing. The same is done to a tunnel's
//! `TunnelOpen.metadata`, so the target of a tunnel learns who opened it
//! from entries it can trust (upstream forwards the metadata untouched).
//! On behalf of a subject, the mode is `on_behalf_of` and
//! `X-Auth-Subject-Type`, `X-Auth-Subject-ID` and `X-Auth-Grant-ID` name
//! the subject and the grant (the actor headers still name the caller).

use std::collections::HashMap;

use aether_protocol::shared::{Header, SharedStr};

use crate::context::handle::SessionHandle;

use super::access::Grant;

/// The caller's topic as the headers name it: its identity topic, or its
/// identity string for principals without one (orchestrators).
pub(super) fn caller_topic(caller: &SessionHandle) -> &str {
    caller.topic.as_deref().unwrap_or(&caller.identity)
}

/// Whether `name` is reserved for the gateway.
fn reserved(name: &str) -> bool {
    let starts = |prefix: &str| {
        name.len() >= prefix.len()
            && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    starts("x-auth-") || starts("x-aether-")
}

/// Where headers or metadata are carried: a request's header list or a
/// tunnel's metadata map.
pub(super) trait Entries {
    /// Removes the reserved entries, making room for `minted` more.
    fn remove_reserved(&mut self, minted: usize);
    fn put(&mut self, name: &'static str, value: &SharedStr);
}

impl Entries for Vec<Header> {
    fn remove_reserved(&mut self, minted: usize) {
        self.retain(|h| !reserved(&h.name));
        self.reserve(minted);
    }
    fn put(&mut self, name: &'static str, value: &SharedStr) {
        self.push(Header {
            name: SharedStr::from_static(name),
            value: value.clone(),
        });
    }
}

impl Entries for HashMap<String, String> {
    fn remove_reserved(&mut self, minted: usize) {
        self.retain(|name, _| !reserved(name));
        self.reserve(minted);
    }
    fn put(&mut self, name: &'static str, value: &SharedStr) {
        self.insert(name.to_string(), value.to_string());
    }
}

/// Removes every reserved entry and mints the trusted set for `caller`,
/// whose current workspace is `workspace`.
pub(super) fn stamp(
    headers: &mut impl Entries,
    caller: &SessionHandle,
    workspace: &str,
    grant: &Grant,
) {
    headers.remove_reserved(if grant.on_behalf.is_some() { 12 } else { 9 });
    let workspace = SharedStr::from(match &grant.on_behalf {
        Some(o) => o.workspace.as_str(),
        None => workspace,
    });
    // Each value is made once and shared by the entries that repeat it.
    let topic = SharedStr::from(caller_topic(caller));
    // Users are named by user id (so grants apply across windows), every
    // other principal by its identity string.
    let id = SharedStr::from(caller.user_id().unwrap_or(&caller.identity));
    let kind = SharedStr::from_static(caller.kind.name());
    let access = SharedStr::from(grant.workspace_access.to_string());
    for (name, value) in [
        ("x-aether-actor-topic", &topic),
        ("X-Aether-Caller-Topic", &topic),
        ("X-Auth-Tenant-ID", &workspace),
        ("X-Auth-Workspace-Access", &access),
        ("X-Auth-User-ID", &id),
        ("X-Auth-Principal-Type", &kind),
        ("X-Auth-Actor-Type", &kind),
        ("X-Auth-Actor-ID", &id),
    ] {
        headers.put(name, value);
    }
    match &grant.on_behalf {
        None => {
            headers.put("X-Auth-Authority-Mode", &SharedStr::from_static("direct"));
        }
        Some(o) => {
            for (name, value) in [
                (
                    "X-Auth-Authority-Mode",
                    SharedStr::from_static("on_behalf_of"),
                ),
                (
                    "X-Auth-Subject-Type",
                    SharedStr::from_static(o.subject_type),
                ),
                ("X-Auth-Subject-ID", SharedStr::from(o.subject_id.as_str())),
                ("X-Auth-Grant-ID", SharedStr::from(o.grant_id.as_str())),
            ] {
                headers.put(name, &value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_prefixes_in_any_case() {
        for name in [
            "x-auth-user-id",
            "X-Auth-Tenant-ID",
            "X-AETHER-CALLER-TOPIC",
            "x-aether-",
        ] {
            assert!(reserved(name), "{name}");
        }
        for name in [
            "x-auth",
            "x-authorization",
            "authorization",
            "x-aetherx",
            "",
            "é",
        ] {
            assert!(!reserved(name), "{name}");
        }
    }
}
