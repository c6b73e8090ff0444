//! [`ProgressReport`]: a progress report for a task (or a chat or app flow).

use crate::proto::{self, ProgressKind, ProgressStep};

/// A progress report ([`Client::report_progress`](crate::Client::report_progress)).
///
/// Defaults: state `"running"`, completion indeterminate, broadcast to the
/// workspace's progress subscribers. Only agents, tasks and services may
/// report progress; the gateway refuses others (the refusal reaches
/// `on_error`, because reports are fire-and-forget).
///
/// ```
/// use aether_client::tasks::ProgressReport;
/// let report = ProgressReport::new("task-1")
///     .completion(0.5)
///     .summary("half way")
///     .step("download", 2, 4)
///     .step_detail("fetching part 2")
///     .metadata("bytes", "1024");
/// let p = report.to_proto();
/// assert_eq!(p.state, "running");
/// assert_eq!(p.step.unwrap().sequence, 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ProgressReport {
    report: proto::ProgressReport,
}

impl ProgressReport {
    /// A report about `task_id` (empty for a report tied to no task).
    pub fn new(task_id: impl Into<String>) -> Self {
        ProgressReport {
            report: proto::ProgressReport {
                task_id: task_id.into(),
                state: "running".into(),
                completion: -1.0,
                ..Default::default()
            },
        }
    }

    /// Sets the task the report is about.
    pub fn task_id(mut self, task_id: impl Into<String>) -> Self {
        self.report.task_id = task_id.into();
        self
    }

    /// The state string (default `"running"`).
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.report.state = state.into();
        self
    }

    /// How far along, from 0.0 to 1.0 (default -1: indeterminate).
    pub fn completion(mut self, completion: f64) -> Self {
        self.report.completion = completion;
        self
    }

    /// A one-line summary.
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.report.summary = summary.into();
        self
    }

    /// The current step: its name, 1-based sequence and the total number of steps.
    pub fn step(mut self, name: impl Into<String>, sequence: i32, total_steps: i32) -> Self {
        let step = self.report.step.get_or_insert_with(ProgressStep::default);
        step.name = name.into();
        step.sequence = sequence;
        step.total_steps = total_steps;
        self
    }

    /// Details of the current step.
    pub fn step_detail(mut self, detail: impl Into<String>) -> Self {
        self.report
            .step
            .get_or_insert_with(ProgressStep::default)
            .detail = detail.into();
        self
    }

    /// The kind of the current step (free-form, e.g. `"tool"`).
    pub fn step_type(mut self, step_type: impl Into<String>) -> Self {
        self.report
            .step
            .get_or_insert_with(ProgressStep::default)
            .step_type = step_type.into();
        self
    }

    /// Delivers only to this identity (`us::alice::tab-1`, or a bare
    /// `us::alice` for every window of a user) instead of the workspace.
    pub fn recipient(mut self, identity: impl Into<String>) -> Self {
        self.report.recipient = identity.into();
        self
    }

    /// A correlation id of yours, copied to the update (not an SDK correlation).
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.report.request_id = id.into();
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.report.metadata.insert(key.into(), value.into());
        self
    }

    /// The kind of flow reported on (chat, app, task).
    pub fn kind(mut self, kind: ProgressKind) -> Self {
        self.report.set_kind(kind);
        self
    }

    /// The report as sent. A step without a name is left out, as the
    /// reference SDK does.
    pub fn to_proto(&self) -> proto::ProgressReport {
        let mut r = self.report.clone();
        if r.step.as_ref().is_some_and(|s| s.name.is_empty()) {
            r.step = None;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_options() {
        let p = ProgressReport::new("t").to_proto();
        assert_eq!(p.task_id, "t");
        assert_eq!(p.state, "running");
        assert_eq!(p.completion, -1.0);
        assert!(p.step.is_none());
        let p = ProgressReport::new("t")
            .state("done")
            .completion(1.0)
            .summary("s")
            .step_detail("no name: dropped")
            .recipient("us::alice")
            .request_id("r")
            .metadata("k", "v")
            .kind(ProgressKind::Task)
            .to_proto();
        assert!(p.step.is_none());
        assert_eq!(p.recipient, "us::alice");
        assert_eq!(p.request_id, "r");
        assert_eq!(p.kind(), ProgressKind::Task);
        let p = ProgressReport::new("t")
            .step("a", 1, 3)
            .step_type("tool")
            .to_proto();
        let step = p.step.unwrap();
        assert_eq!(
            (
                step.name.as_str(),
                step.total_steps,
                step.step_type.as_str()
            ),
            ("a", 3, "tool")
        );
    }
}
