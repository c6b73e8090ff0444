//! The administrative families (§6.1) and who passes their gates.
//!
//! A family is the resource `admin`/`admin/<family>`; a rule on
//! `admin/*` covers them all. Superadmin sessions always pass. Reads
//! (LIST, GET) need READ, changes need ADMIN, unless a family says
//! otherwise (workspace-scoped rights in the ACL and workspace families).
//! Orchestrators and the workflow engine have no bypass: they need rules
//! like anyone else (upstream lets them through; we do not, see the
//! crate docs).

use super::{Actor, Authz, Level, Resource, resource::rtype};

/// An administrative family. (`Tokens` and `Audit` name the token and
/// audit families, which the `auth` and `audit` domains gate themselves.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub(crate) enum Family {
    Workspaces,
    Agents,
    Tokens,
    Acl,
    Sessions,
    Audit,
}

impl Family {
    /// Its resource id.
    pub(crate) fn resource_id(self) -> &'static str {
        match self {
            Family::Workspaces => "admin/workspaces",
            Family::Agents => "admin/agents",
            Family::Tokens => "admin/tokens",
            Family::Acl => "admin/acl",
            Family::Sessions => "admin/sessions",
            Family::Audit => "admin/audit",
        }
    }

    /// Its resource.
    pub(crate) fn resource(self) -> Resource<'static> {
        Resource::new(rtype::ADMIN, self.resource_id())
    }

    /// Upstream's refusal text.
    pub(crate) fn denial(self) -> &'static str {
        match self {
            Family::Workspaces => "admin workspaces operations require system-level privileges",
            Family::Agents => "admin agents operations require system-level privileges",
            Family::Tokens => "admin tokens operations require system-level privileges",
            Family::Acl => "ACL operations require admin privileges or workspace-level access",
            Family::Sessions => "admin sessions operations require system-level privileges",
            Family::Audit => "audit queries require admin privileges or workspace access",
        }
    }
}

impl Authz {
    /// Whether `a` has `need` on family `f`. The system-level rights of
    /// §6.1 (authenticated orchestrators and workflow engines, acting for
    /// themselves) cover session administration and audit queries.
    pub(crate) fn admin(&self, a: &Actor<'_>, f: Family, need: Level) -> bool {
        if a.system && a.limit.is_none() && matches!(f, Family::Sessions | Family::Audit) {
            return true;
        }
        self.allows(a, f.resource(), need)
    }

    /// [`admin`](Self::admin), or upstream's refusal text.
    pub(crate) fn gate(&self, a: &Actor<'_>, f: Family, need: Level) -> Result<(), String> {
        if self.admin(a, f, need) {
            Ok(())
        } else {
            Err(f.denial().to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::PrincipalId;
    use crate::store::Store;
    use aether_protocol::proto::AclRuleInfo;

    #[test]
    fn admin_star_covers_every_family() {
        let authz = Authz::load(Store::memory()).unwrap();
        let p = PrincipalId::parse_parts("orchestrator", "orc::o::1").unwrap();
        let a = Actor::direct(&p, "", false);
        assert!(authz.gate(&a, Family::Agents, Level::READ).is_err());
        authz.write(|d| {
            let m = d.insert_rule(AclRuleInfo {
                rule_id: "r".into(),
                principal_type: "orchestrator".into(),
                principal_id: "orc::o::1".into(),
                resource_type: "admin".into(),
                resource_id: "admin/*".into(),
                access_level: 40,
                ..Default::default()
            });
            ((), vec![m])
        });
        for f in [Family::Agents, Family::Sessions, Family::Acl] {
            assert!(authz.admin(&a, f, Level::ADMIN));
        }
        assert!(!authz.admin(&a, Family::Agents, Level::SUPERADMIN));
    }
}
