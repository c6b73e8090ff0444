//! The shape of the scopes a grant or a request names: how many entries,
//! and that each is a valid pattern, resource type or operation id.

use crate::authz::principal::check_id;
use crate::authz::resource::{check_id_pattern, check_type};

/// Most scope entries (workspaces, resource types, patterns, operations).
pub(super) const MAX_SCOPE: usize = 64;

/// What a scope check reports its errors under.
pub(super) struct Labels {
    /// Put before a workspace pattern's error (may be empty).
    pub(super) workspace: &'static str,
    /// The name of an operation id in its error.
    pub(super) operation: &'static str,
}

/// Checks `workspaces`, `resources` (type and patterns) and `operations`.
pub(super) fn check<'a>(
    workspaces: &[String],
    resources: impl ExactSizeIterator<Item = (&'a str, &'a [String])>,
    operations: &[String],
    labels: &Labels,
) -> Result<(), String> {
    let too_many = || format!("a scope lists more than {MAX_SCOPE} entries");
    if workspaces.len() > MAX_SCOPE || resources.len() > MAX_SCOPE || operations.len() > MAX_SCOPE {
        return Err(too_many());
    }
    for w in workspaces {
        check_id_pattern(w).map_err(|e| format!("{}{e}", labels.workspace))?;
    }
    for (rtype, patterns) in resources {
        check_type(rtype)?;
        if patterns.len() > MAX_SCOPE {
            return Err(too_many());
        }
        for p in patterns {
            check_id_pattern(p)?;
        }
    }
    for o in operations {
        check_id(labels.operation, o)?;
    }
    Ok(())
}
