//! EXPLAIN_ACCESS: which subjects stand for a principal, which rules
//! contribute to its level on a resource, and the decision.

use aether_protocol::proto::{AclAccessContributionInfo, AclAccessExplanationInfo};

use super::decide::{self, Actor, Via};
use super::level::Level;
use super::principal::PrincipalId;
use super::resource::{Resource, covers};
use super::rules::{AclData, expired};

/// Explains `p`'s level on `r` against `need`, as decided without a
/// session (no superadmin standing; the owner workspace is `p`'s home).
pub(crate) fn explain(
    data: &AclData,
    p: &PrincipalId,
    r: Resource<'_>,
    need: Level,
    now_s: i64,
) -> AclAccessExplanationInfo {
    let subjects = data.subjects(p, now_s);
    let mut contributions = Vec::new();
    for rule in data.rules.values() {
        let names_subject = subjects
            .iter()
            .any(|(t, id)| *t == rule.principal_type && *id == rule.principal_id)
            || (rule.principal_type == p.ptype.name() && covers(&rule.principal_id, &p.id));
        if names_subject && rule.resource_type == r.rtype && covers(&rule.resource_id, r.id) {
            contributions.push(AclAccessContributionInfo {
                subject: format!("{}:{}", rule.principal_type, rule.principal_id),
                rule_id: rule.rule_id.clone(),
                access_level: rule.access_level,
                resource: format!("{}:{}", rule.resource_type, rule.resource_id),
                expired: expired(rule.expires_at, now_s),
            });
        }
    }
    let a = Actor::direct(p, p.home_workspace().unwrap_or_default(), false);
    let d = decide::decide(data, &a, r, now_s);
    let allowed = d.allows(need);
    AclAccessExplanationInfo {
        principal: p.to_string(),
        subjects: subjects.iter().map(|(t, id)| format!("{t}:{id}")).collect(),
        contributions,
        allowed,
        decision: if allowed { "ALLOW" } else { "DENY" }.to_string(),
        effective_access_level: d.level.get(),
        fallback_applied: matches!(d.via, Via::Fallback | Via::Builtin),
        reason: format!(
            "{} gives {} on {}:{} (required {})",
            d.via.name(),
            d.level.name(),
            r.rtype,
            r.id,
            need.name()
        ),
    }
}
