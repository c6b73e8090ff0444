//! Task subscriptions and the task event log (§5.9).
//!
//! A subscription watches a task (and, when recursive, up to 256 of its
//! descendants as they exist at subscribe time). Every published
//! `TaskEvent` is appended to a bounded in-memory log of its task (the last
//! 256 events of each of the 10 000 most recently active tasks) and pushed
//! to the current subscribers with their `subscription_id` stamped.
//! `start_timestamp_unix_ms > 0` replays logged events emitted at or after
//! it, in order, before any live one; 0 is live-only. Subscriptions end
//! with their session and are not durable.

use std::collections::{HashMap, VecDeque};

use aether_protocol::proto::{DownstreamMessage, TaskEvent, downstream_message};

use crate::push::Pusher;

/// Events kept per task.
const LOG_PER_TASK: usize = 256;
/// Tasks whose events are kept.
const LOG_TASKS: usize = 10_000;

struct Sub {
    subscription_id: String,
    session_id: String,
    pusher: Pusher,
}

/// Subscribers and the event log.
#[derive(Default)]
pub(crate) struct Subscriptions {
    by_task: HashMap<String, Vec<Sub>>,
    /// session id -> (subscription id -> watched task ids).
    by_session: HashMap<String, HashMap<String, Vec<String>>>,
    log: HashMap<String, VecDeque<TaskEvent>>,
    /// Tasks in `log`, least recently logged first.
    log_order: VecDeque<String>,
}

/// A `TaskEvent` push carrying `subscription_id`.
fn stamped(event: &TaskEvent, subscription_id: &str) -> DownstreamMessage {
    let mut e = event.clone();
    e.subscription_id = subscription_id.to_string();
    DownstreamMessage {
        payload: Some(downstream_message::Payload::TaskEvent(Box::new(e))),
        active_extensions: Vec::new(),
    }
}

impl Subscriptions {
    /// Registers a subscription of session `session_id` to `tasks`; returns
    /// its id and the logged events to replay (when `start_ms > 0`).
    pub(crate) fn subscribe(
        &mut self,
        session_id: &str,
        pusher: &Pusher,
        tasks: Vec<String>,
        start_ms: i64,
    ) -> (String, Vec<DownstreamMessage>) {
        let id = uuid::Uuid::new_v4().to_string();
        let mut replay: Vec<&TaskEvent> = Vec::new();
        if start_ms > 0 {
            for t in &tasks {
                if let Some(log) = self.log.get(t) {
                    replay.extend(log.iter().filter(|e| e.emitted_at_unix_ms >= start_ms));
                }
            }
            replay.sort_by_key(|e| e.emitted_at_unix_ms);
        }
        let replay = replay.into_iter().map(|e| stamped(e, &id)).collect();
        for t in &tasks {
            self.by_task.entry(t.clone()).or_default().push(Sub {
                subscription_id: id.clone(),
                session_id: session_id.to_string(),
                pusher: pusher.clone(),
            });
        }
        self.by_session
            .entry(session_id.to_string())
            .or_default()
            .insert(id.clone(), tasks);
        (id, replay)
    }

    /// Ends subscription `subscription_id` of `session_id` (unknown ids are ignored).
    pub(crate) fn unsubscribe(&mut self, session_id: &str, subscription_id: &str) {
        let Some(subs) = self.by_session.get_mut(session_id) else {
            return;
        };
        let Some(tasks) = subs.remove(subscription_id) else {
            return;
        };
        if subs.is_empty() {
            self.by_session.remove(session_id);
        }
        self.drop_subs(&tasks, |s| s.subscription_id == subscription_id);
    }

    /// Ends every subscription of a session.
    pub(crate) fn end_session(&mut self, session_id: &str) {
        let Some(subs) = self.by_session.remove(session_id) else {
            return;
        };
        let tasks: Vec<String> = subs.into_values().flatten().collect();
        self.drop_subs(&tasks, |s| s.session_id == session_id);
    }

    fn drop_subs(&mut self, tasks: &[String], doomed: impl Fn(&Sub) -> bool) {
        for t in tasks {
            if let Some(list) = self.by_task.get_mut(t) {
                list.retain(|s| !doomed(s));
                if list.is_empty() {
                    self.by_task.remove(t);
                }
            }
        }
    }

    /// Logs `event` and returns its pushes to the task's subscribers.
    pub(crate) fn publish(&mut self, event: TaskEvent) -> Vec<(Pusher, DownstreamMessage)> {
        let out = self
            .by_task
            .get(&event.task_id)
            .map(|subs| {
                subs.iter()
                    .map(|s| (s.pusher.clone(), stamped(&event, &s.subscription_id)))
                    .collect()
            })
            .unwrap_or_default();
        self.append(event);
        out
    }

    /// Forgets the logged events of a task that is gone (its place in the
    /// eviction order goes when it comes round).
    pub(crate) fn forget(&mut self, task_id: &str) {
        self.log.remove(task_id);
    }

    fn append(&mut self, event: TaskEvent) {
        let task = event.task_id.clone();
        if !self.log.contains_key(&task) {
            if self.log_order.len() >= LOG_TASKS
                && let Some(old) = self.log_order.pop_front()
            {
                self.log.remove(&old);
            }
            self.log_order.push_back(task.clone());
        }
        let log = self.log.entry(task).or_default();
        if log.len() >= LOG_PER_TASK {
            log.pop_front();
        }
        log.push_back(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(task: &str, at: i64) -> TaskEvent {
        TaskEvent {
            task_id: task.into(),
            emitted_at_unix_ms: at,
            ..Default::default()
        }
    }

    fn sub_id(m: &DownstreamMessage) -> (String, i64) {
        match &m.payload {
            Some(downstream_message::Payload::TaskEvent(e)) => {
                (e.subscription_id.clone(), e.emitted_at_unix_ms)
            }
            _ => (String::new(), -1),
        }
    }

    #[test]
    fn live_replay_and_unsubscribe() {
        let mut s = Subscriptions::default();
        let p = Pusher::detached();
        assert!(s.publish(ev("a", 10)).is_empty());
        s.publish(ev("b", 20));
        let (live, replay) = s.subscribe("s1", &p, vec!["a".into()], 0);
        assert!(replay.is_empty());
        let (rec, replay) = s.subscribe("s1", &p, vec!["a".into(), "b".into()], 5);
        assert_eq!(
            replay.iter().map(sub_id).collect::<Vec<_>>(),
            vec![(rec.clone(), 10), (rec.clone(), 20)]
        );
        let pushes = s.publish(ev("a", 30));
        let mut ids: Vec<String> = pushes.iter().map(|(_, m)| sub_id(m).0).collect();
        ids.sort();
        let mut want = vec![live.clone(), rec.clone()];
        want.sort();
        assert_eq!(ids, want);
        s.unsubscribe("s1", &live);
        s.unsubscribe("s1", "unknown");
        assert_eq!(s.publish(ev("a", 40)).len(), 1);
        s.end_session("s1");
        assert!(s.publish(ev("b", 50)).is_empty());
        assert!(s.by_session.is_empty() && s.by_task.is_empty());
    }

    #[test]
    fn the_log_is_bounded() {
        let mut s = Subscriptions::default();
        for i in 0..(LOG_PER_TASK as i64 + 10) {
            s.publish(ev("a", i));
        }
        let (_, replay) = s.subscribe("s", &Pusher::detached(), vec!["a".into()], 1);
        assert_eq!(replay.len(), LOG_PER_TASK);
    }
}
