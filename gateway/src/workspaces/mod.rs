//! Workspaces (§6.3): metadata created by administrators, durable in
//! `Table::Workspaces`, and `WorkspaceOperation`.
//!
//! Workspaces stay implicit (any valid name is one; nothing must be
//! created before use); creating one records its metadata, so it is
//! listed even before anyone connects to it. LIST is the union of the
//! created workspaces, the workspaces of live sessions and those that
//! have tasks, each with the live counts (agents, task sessions, users
//! on it) and `total_messages` = its number of tasks (as upstream).
//!
//! Gates (`authz`; superadmin sessions pass): LIST shows every workspace
//! to READ on `admin/workspaces`, otherwise those the caller may read (its
//! own, or opened by a rule); GET needs either; CREATE needs ADMIN on
//! `admin/workspaces` or READ_WRITE on `capability/create_workspace`;
//! UPDATE and DELETE need ADMIN on `admin/workspaces` or on the workspace.
//! Unlike upstream, CREATE of an existing workspace and UPDATE or DELETE
//! of a missing one fail (nothing is overwritten silently), and the
//! metadata lives in its own table, not in GLOBAL KV.

mod op;
mod store;

pub(crate) use op::workspace_op;
pub(crate) use store::Workspaces;
