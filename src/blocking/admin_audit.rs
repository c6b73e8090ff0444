//! Blocking twins of the audit methods of [`crate::admin::AdminClient`].

use super::AdminClient;
use crate::admin::{AuditEventSpec, AuditFilter, AuditPage};
use crate::error::Result;

impl AdminClient {
    /// A page of audit entries, newest first.
    ///
    /// ```no_run
    /// # fn demo(admin: aether_client::blocking::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::AuditFilter;
    /// let page = admin.audit_query(AuditFilter::new().only_failures(true))?;
    /// # let _ = page;
    /// # Ok(()) }
    /// ```
    pub fn audit_query(&self, filter: AuditFilter) -> Result<AuditPage> {
        self.block_on(self.as_async().audit_query(filter))
    }

    /// Records an event in the gateway's audit log.
    pub fn submit_audit_event(&self, event: AuditEventSpec) -> Result<()> {
        self.block_on(self.as_async().submit_audit_event(event))
    }
}
