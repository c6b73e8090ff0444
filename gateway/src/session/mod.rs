//! One session: the task that runs the handshake, then reads upstream
//! frames one by one and answers them (§1.8). Replies to changes that
//! must reach the journal first wait in a [`Pipeline`] while the session
//! reads on; they are sent as their commits complete.

mod handshake;
mod pacing;
mod pipeline;

use std::collections::VecDeque;
use std::sync::Arc;

use aether_protocol::frames::{FrameStream, Upstream as UpstreamFrame};
use aether_protocol::identity::{PrincipalKind, validate_segment};
use aether_protocol::proto::{
    DownstreamMessage, SwitchWorkspace, downstream_message, upstream_message::Payload,
};
use aether_protocol::shared::{SharedSend, SharedStr};
use prost::Message;
use tonic::Status;

pub(crate) use handshake::SERVER_VERSION;

/// The frames a client sends on its `Connect` stream.
/// The upstream frames of a session (sends read zero-copy).
pub(crate) type Upstream = FrameStream<UpstreamFrame>;

use crate::admin;
use crate::answer::{self, Answer};
use crate::audit;
use crate::auth::Peer;
use crate::authz;
use crate::context::handle::SessionHandle;
use crate::hub::Hub;
use crate::kv;

use crate::outbound::{Out, Outbox, Outlet};
use crate::progress;
use crate::proxy::{self, Outbox as ProxyOutbox};
use crate::rate::TokenBucket;
use crate::registry;
use crate::reply::{ErrorReply, code};
use crate::routing::{self, Sender};
use crate::stats::{Reason, Stats};
use crate::tasks::{self, worker::Departure};
use crate::triggers;
use crate::unimplemented;
use crate::workspaces;
use pacing::Pacing;
use pipeline::Pipeline;

/// How the main loop ended.
enum Exit {
    /// Client half-closed: end OK.
    Eof,
    /// Killed from outside: the stream already knows how to end.
    Killed,
    /// End the stream with this status.
    Status(Status),
}

/// State owned by the session task.
struct Session {
    hub: Arc<Hub>,
    handle: Arc<SessionHandle>,
    tx: Outbox,
    /// `IncomingMessage.source_topic` of this sender (shared by every
    /// message it sends).
    source_topic: SharedStr,
    /// Current workspace (users switch it); shared like the topic.
    workspace: SharedStr,
    rate: Option<TokenBucket>,
    /// What the last send leaves the next: the allowed decision for its
    /// workspace and its target's mailbox, reused while they hold.
    recent: routing::Recent,
    /// The rate of submitted audit events.
    audit_rate: TokenBucket,
    /// Replies waiting for their changes to be journaled.
    pipeline: Pipeline,
    /// Proxy and tunnel frames waiting for room at their recipients.
    outbox: ProxyOutbox,
    /// The pause for a congested receiver, if one is under way.
    pacing: Option<Pacing>,
    /// Sends to the paced receiver read during the pause, in order; they
    /// go when it ends. At [`pacing::HELD_MAX_BYTES`] the session stops
    /// reading until then.
    held: VecDeque<(SharedSend, usize)>,
    /// Encoded bytes of `held` (each entry carries its own).
    held_bytes: usize,
}

/// Runs a session to its end; `admitted` is called once its handshake
/// completed (the connection's handshake deadline is lifted).
pub(crate) async fn run(
    hub: Arc<Hub>,
    mut upstream: Upstream,
    tx: Outbox,
    outlet: Arc<Outlet>,
    admitted: impl FnOnce(),
    peer: Peer,
) {
    let handle = match handshake::perform(&hub, &mut upstream, &tx, outlet, &peer).await {
        Ok(Some(h)) => {
            admitted();
            h
        }
        Ok(None) => return,
        Err(status) => {
            tracing::debug!(%status, "handshake failed");
            let _ = tx.control(Out::End(status));
            return;
        }
    };
    let workspace = SharedStr::from(handle.workspace.lock().clone());
    hub.proxy.session_started(&handle);
    let mut session = Session {
        outbox: hub.proxy.outbox(),
        source_topic: handle.topic.clone().unwrap_or_default().into(),
        workspace,
        rate: hub.cx.config.limits.send_rate.map(TokenBucket::new),
        recent: Default::default(),
        audit_rate: TokenBucket::new(hub.cx.config.limits.audit_submit_rate),
        pipeline: Pipeline::default(),
        pacing: None,
        held: VecDeque::new(),
        held_bytes: 0,
        hub,
        handle,
        tx,
    };
    tasks::worker::session_started(&session.hub.tasks, &session.handle).await;
    let exit = session.main_loop(&mut upstream).await;
    let Session {
        hub,
        handle,
        tx,
        outbox,
        ..
    } = session;
    hub.cx.remove(&handle);
    hub.proxy.session_ended(&handle, outbox);
    // Committed in the background; the revocation is in memory at once.
    drop(crate::authority::audience::departed(&hub.cx, &handle));
    let departure = match &exit {
        Exit::Eof => Departure::Graceful,
        _ if handle.cancel.is_cancelled() => Departure::ByGateway,
        _ => Departure::Abrupt,
    };
    tasks::worker::session_ended(&hub.tasks, &handle, departure).await;
    drop(upstream);
    match exit {
        Exit::Eof | Exit::Killed => {}
        Exit::Status(status) => {
            let _ = tx.control(Out::End(status));
        }
    }
    tracing::info!(identity = %handle.identity, session_id = %handle.session_id, "session ended");
}

impl Session {
    async fn main_loop(&mut self, upstream: &mut Upstream) -> Exit {
        let cancel = self.handle.cancel.clone();
        // One cancellation future for the whole loop, not one per frame.
        let cancelled = cancel.cancelled();
        tokio::pin!(cancelled);
        loop {
            // Checked per frame without a lock; the cancellation future is
            // polled only when nothing else is ready.
            if self.handle.is_terminated() {
                return Exit::Killed;
            }
            // Too many replies waiting for the journal, too many proxy
            // frames waiting for their recipients, or too many sends
            // waiting for a paused receiver: stop reading (HTTP/2 flow
            // control slows the client, and nothing is refused).
            let reading = !self.pipeline.is_full()
                && !self.outbox.is_full()
                && self.held_bytes < pacing::HELD_MAX_BYTES;
            // Branch futures are dropped before a handler runs, so the
            // handlers may use `self` again.
            tokio::select! {
                biased;
                ready = self.pipeline.next() => {
                    if !self.send_all(ready).await {
                        return Exit::Killed;
                    }
                }
                _ = self.outbox.room().notified(), if self.outbox.is_parked() => {
                    self.hub.proxy.flush(&mut self.outbox);
                }
                _ = async {
                    match self.pacing.as_mut() {
                        Some(pacing) => pacing.await,
                        None => std::future::pending().await,
                    }
                }, if self.pacing.is_some() => {
                    self.pacing = None;
                    if let Some(exit) = self.release_held().await {
                        return exit;
                    }
                }
                // Not reading: notice a client that went away meanwhile.
                _ = self.tx.closed(), if !reading => return Exit::Killed,
                next = upstream.message(), if reading => match next {
                    Ok(Some(msg)) => {
                        if let Some(exit) = self.dispatch(msg).await {
                            return exit;
                        }
                    }
                    Ok(None) => {
                        // The client is done sending: what waits for a
                        // pause goes now.
                        self.pacing = None;
                        if let Some(exit) = self.release_held().await {
                            return exit;
                        }
                        return self.drain().await;
                    }
                    Err(status) => return Exit::Status(status),
                },
                _ = &mut cancelled => return Exit::Killed,
            }
        }
    }

    /// Routes the sends held for a pause that ended, in order, until one
    /// of them starts another pause (the rest then wait for that one).
    async fn release_held(&mut self) -> Option<Exit> {
        while self.pacing.is_none() {
            let (send, size) = self.held.pop_front()?;
            self.held_bytes -= size;
            if let Err(e) = self.route_send(send, size)
                && let Some(exit) = self.refuse(e).await
            {
                return Some(exit);
            }
        }
        None
    }

    /// Holds `send` (of `size` bytes), a send to the paced receiver, until
    /// the pause ends.
    fn hold(&mut self, send: SharedSend, size: usize) {
        self.held_bytes += size;
        self.held.push_back((send, size));
    }

    /// After the client half-closed: sends the replies still waiting for
    /// the journal, then ends.
    async fn drain(&mut self) -> Exit {
        let cancel = self.handle.cancel.clone();
        while !self.pipeline.is_empty() {
            let msgs = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Exit::Killed,
                msgs = self.pipeline.next() => msgs,
            };
            if !self.send_all(msgs).await {
                return Exit::Killed;
            }
        }
        Exit::Eof
    }

    /// Sends `msgs` in order; `false` when the stream is gone or killed.
    async fn send_all(&self, msgs: Vec<DownstreamMessage>) -> bool {
        for m in msgs {
            if !self.reply(m).await {
                return false;
            }
        }
        true
    }

    /// Sends an answer now, or queues it until its commit completes.
    async fn answer(&mut self, answer: Answer) -> bool {
        match answer {
            Answer::Now(msgs) => self.send_all(msgs).await,
            Answer::Later(deferred) => {
                self.pipeline.push(deferred);
                true
            }
        }
    }

    /// Sends a direct reply; `false` when the stream is gone or killed.
    async fn reply(&self, msg: DownstreamMessage) -> bool {
        tokio::select! {
            biased;
            r = self.tx.reply(msg) => r.is_ok(),
            _ = self.handle.cancel.cancelled() => false,
        }
    }

    async fn error(&self, e: ErrorReply) -> bool {
        self.reply(e.into_downstream()).await
    }

    /// Handles one upstream frame; `Some` ends the session.
    async fn dispatch(&mut self, frame: UpstreamFrame) -> Option<Exit> {
        let msg = match frame {
            UpstreamFrame::Send(send) => {
                let size = wire_size(send.encoded_len());
                return match self.route_send(send, size) {
                    Ok(()) => None,
                    Err(e) => self.refuse(e).await,
                };
            }
            UpstreamFrame::Frame(msg) => msg,
        };
        let size = msg.encoded_len();
        if let Some(Payload::Send(send)) = msg.payload {
            // A send frame with more than its `send` field (active
            // extensions, which the gateway has no use for).
            return match self.route_send(SharedSend::from(*send), size) {
                Ok(()) => None,
                Err(e) => self.refuse(e).await,
            };
        }
        if proxy::is_frame(msg.payload.as_ref()) {
            // Proxy frames have their own limits and refusals.
            let payload = msg.payload?;
            let sender = proxy::Sender {
                handle: &self.handle,
                workspace: &self.workspace,
            };
            self.hub
                .proxy
                .handle(&sender, &mut self.outbox, payload, size);
            return None;
        }
        let rated = !matches!(msg.payload, Some(Payload::Init(_)) | None);
        if let Err(e) = self.admit(size, rated, || {
            unimplemented::describe(msg.payload.as_ref())
        }) {
            return self.refuse(e).await;
        }
        let ok = match msg.payload {
            Some(Payload::Init(_)) => {
                return Some(Exit::Status(Status::invalid_argument(
                    "InitConnection already sent",
                )));
            }
            Some(Payload::SwitchWorkspace(sw)) => self.switch_workspace(*sw).await,
            Some(Payload::SessionOp(op)) => {
                let resp = admin::session_op(&self.hub.cx, &self.handle, &self.workspace, *op);
                self.reply(downstream(downstream_message::Payload::SessionResponse(
                    Box::new(resp),
                )))
                .await
            }
            Some(Payload::ConnectionStatusRequest(req)) => {
                let resp =
                    admin::connection_status(&self.hub.cx, &self.handle, &self.workspace, *req);
                self.reply(downstream(
                    downstream_message::Payload::ConnectionStatusResponse(Box::new(resp)),
                ))
                .await
            }
            Some(Payload::KvOp(mut op)) => {
                let caller = kv::Caller::of(&self.handle.principal, &self.workspace);
                // A context that does not resolve stays on the op, which
                // the KV store then refuses (typed, with its request id).
                let obo = self.on_behalf(op.authorization.as_ref());
                if obo.is_ok() {
                    op.authorization = None;
                }
                let actor = match &obo {
                    Ok(Some(o)) => o.actor(),
                    _ => self.handle.authz_actor(&self.workspace),
                };
                let answer = self.hub.kv.handle(&self.hub.cx.authz, &actor, &caller, *op);
                self.answer(answer).await
            }
            Some(Payload::CheckpointOp(op)) => {
                let answer = self.hub.checkpoints.handle(&self.handle.identity, *op);
                self.answer(answer).await
            }
            Some(Payload::CreateTask(req)) => {
                let agents = &self.hub.agents;
                let obo = self.on_behalf(req.authorization.as_ref());
                let answer = tasks::create::create_task(
                    &self.hub.tasks,
                    &self.handle,
                    &self.workspace,
                    obo,
                    *req,
                    |implementation| agents.get(implementation).map(|a| a.launch_params),
                );
                self.answer(answer).await
            }
            Some(Payload::TaskQuery(q)) => {
                let resp =
                    tasks::query::task_query(&self.hub.tasks, &self.handle, &self.workspace, *q);
                self.reply(downstream(downstream_message::Payload::TaskQuery(
                    Box::new(resp),
                )))
                .await
            }
            Some(Payload::TaskOp(op)) => {
                let answer =
                    tasks::ops::task_op(&self.hub.tasks, &self.handle, &self.workspace, *op);
                self.answer(answer).await
            }
            Some(Payload::TaskSubscriptionOp(op)) => {
                // Answered by a push, ordered with the events it replays.
                tasks::subscribe::task_subscription_op(
                    &self.hub.tasks,
                    &self.handle,
                    &self.workspace,
                    *op,
                );
                true
            }
            Some(Payload::Progress(report)) => {
                let sent = progress::report(
                    &self.hub.cx,
                    &self.hub.tasks,
                    &self.handle,
                    &self.workspace,
                    self.rate.as_mut(),
                    *report,
                )
                .await;
                match sent {
                    Ok(()) => true,
                    Err(e) => self.error(e).await,
                }
            }
            Some(Payload::AgentOp(op)) => {
                let hub = &self.hub;
                let resp = registry::agent_op(
                    &hub.agents,
                    &hub.tasks,
                    &hub.cx,
                    &self.handle,
                    &self.workspace,
                    *op,
                )
                .await;
                self.reply(downstream(downstream_message::Payload::Agent(Box::new(
                    resp,
                ))))
                .await
            }
            Some(Payload::WorkspaceOp(op)) => {
                let actor = self.handle.authz_actor(&self.workspace);
                let hub = &self.hub;
                let answer =
                    workspaces::workspace_op(&hub.workspaces, &hub.cx, &hub.tasks, &actor, *op);
                self.answer(answer).await
            }
            Some(Payload::AccessCheck(op)) => {
                let resp = match self.on_behalf(op.authorization.as_ref()) {
                    Err(error) => aether_protocol::proto::AccessCheckResponse {
                        request_id: op.request_id,
                        error,
                        ..Default::default()
                    },
                    Ok(Some(o)) => {
                        let parties = authz::check_op::Parties::on_behalf(&self.handle.acl, &o);
                        authz::check_op::access_check(&self.hub.cx.authz, &o.actor(), &parties, *op)
                    }
                    Ok(None) => {
                        let actor = self.handle.authz_actor(&self.workspace);
                        let parties = self.direct_parties();
                        authz::check_op::access_check(&self.hub.cx.authz, &actor, &parties, *op)
                    }
                };
                self.reply(downstream(
                    downstream_message::Payload::AccessCheckResponse(Box::new(resp)),
                ))
                .await
            }
            Some(Payload::BatchAccessCheck(op)) => {
                let actor = self.handle.authz_actor(&self.workspace);
                let parties = self.direct_parties();
                let resp =
                    authz::check_op::batch_access_check(&self.hub.cx.authz, &actor, &parties, *op);
                self.reply(downstream(
                    downstream_message::Payload::BatchAccessCheckResponse(Box::new(resp)),
                ))
                .await
            }
            Some(Payload::WorkflowOp(op)) => {
                let workflows = self.hub.workflows.clone();
                match workflows.forward(&self.hub.cx, &self.handle, *op) {
                    None => true,
                    Some(resp) => {
                        self.reply(downstream(downstream_message::Payload::WorkflowResponse(
                            Box::new(resp),
                        )))
                        .await
                    }
                }
            }
            Some(Payload::WorkflowResponse(resp)) => {
                self.hub.workflows.answer(&self.handle, *resp);
                true
            }
            Some(Payload::AuthorityGrantOp(op)) => {
                let caller = self.grant_caller();
                let answer = crate::authority::grant_op::grant_op(&self.hub.cx, &caller, *op);
                self.answer(answer).await
            }
            Some(Payload::AuthorityRequestOp(op)) => {
                let caller = self.grant_caller();
                let answer = crate::authority::request_op::request_op(&self.hub.cx, &caller, *op);
                self.answer(answer).await
            }
            Some(Payload::ResolveAuthorityRequest(req)) => {
                let caller = self.grant_caller();
                let resp =
                    crate::authority::resolve_op::resolve_authority(&self.hub.cx, &caller, *req);
                self.reply(downstream(
                    downstream_message::Payload::ResolveAuthorityResponse(Box::new(resp)),
                ))
                .await
            }
            Some(Payload::AclOp(op)) => {
                // On behalf of a subject, the subject's rights (capped by
                // the grant) decide, never the caller's.
                let answer = match self.on_behalf(op.authorization.as_ref()) {
                    Err(error) => Answer::Now(vec![downstream(downstream_message::Payload::Acl(
                        Box::new(aether_protocol::proto::AclResponse {
                            success: false,
                            error,
                            request_id: op.request_id.clone(),
                            ..Default::default()
                        }),
                    ))]),
                    Ok(Some(o)) => authz::acl_op::acl_op(&self.hub.cx.authz, &o.actor(), *op),
                    Ok(None) => {
                        let actor = self.handle.authz_actor(&self.workspace);
                        authz::acl_op::acl_op(&self.hub.cx.authz, &actor, *op)
                    }
                };
                self.answer(answer).await
            }
            Some(Payload::TokenOp(op)) => {
                let hub = &self.hub;
                let resp = crate::auth::ops::token_op(&hub.auth, &hub.cx, &self.handle, *op).await;
                self.reply(downstream(downstream_message::Payload::Token(Box::new(
                    resp,
                ))))
                .await
            }
            Some(Payload::AuditQuery(mut q)) => {
                // The engine's audit gate: system-level sessions, or
                // `admin/audit` READ by a rule; on behalf of a subject, the
                // subject's rights under the grant.
                let authz = &self.hub.cx.authz;
                let family = authz::gates::Family::Audit;
                let allowed = match self.on_behalf(q.authorization.as_ref()) {
                    Ok(Some(o)) => Ok(authz.admin(&o.actor(), family, authz::Level::READ)),
                    Ok(None) => Ok(authz.admin(
                        &self.handle.authz_actor(&self.workspace),
                        family,
                        authz::Level::READ,
                    )),
                    Err(e) => Err(e),
                };
                q.authorization = None;
                let resp = match allowed {
                    Ok(allowed) => audit::ops::answer_query(&self.hub.cx.audit, allowed, *q),
                    Err(error) => aether_protocol::proto::AuditQueryResponse {
                        request_id: q.request_id,
                        error,
                        ..Default::default()
                    },
                };
                self.reply(downstream(downstream_message::Payload::AuditResponse(
                    Box::new(resp),
                )))
                .await
            }
            Some(Payload::SubmitAuditEvent(req)) => {
                let mut actor = self.handle.actor();
                actor.workspace = self.workspace.to_string();
                let who = audit::ops::Submitter {
                    actor,
                    admin: self.handle.administrator,
                    within_rate: self.audit_rate.try_take(),
                };
                let (resp, commit) = audit::ops::submit(&self.hub.cx.audit, who, *req);
                let reply = vec![answer::frame(
                    downstream_message::Payload::SubmitAuditEventResponse(Box::new(resp.clone())),
                )];
                let answer = match commit {
                    None => Answer::Now(reply),
                    Some(commit) => Answer::after(commit, reply, move |e| {
                        let mut failed = resp;
                        failed.success = false;
                        failed.error_code = "ERR_INTERNAL".to_string();
                        failed.error_message = format!("audit entry not stored: {e}");
                        vec![answer::frame(
                            downstream_message::Payload::SubmitAuditEventResponse(Box::new(failed)),
                        )]
                    }),
                };
                self.answer(answer).await
            }
            other => self.error(unimplemented::reply(other.as_ref())).await,
        };
        (!ok).then_some(Exit::Killed)
    }

    /// The checks every frame but a proxy frame passes: its size, and the
    /// identity's rate when `rated`.
    fn admit<'a>(
        &self,
        size: usize,
        rated: bool,
        describe: impl FnOnce() -> (&'static str, &'a str),
    ) -> Result<(), ErrorReply> {
        let limit = self.hub.cx.config.limits.max_frame_bytes;
        if size > limit {
            let (op, id) = describe();
            self.hub.cx.stats.refuse(Reason::FrameTooLarge, 1);
            return Err(ErrorReply::new(
                code::FRAME_TOO_LARGE,
                format!("{op} frame is {size} bytes; the limit is {limit} bytes"),
            )
            .with_request_id(id));
        }
        if let Some(rates) = &self.hub.cx.identity_rates
            && rated
            && let Err(retry_after) = rates.take(&self.handle.acl)
        {
            let (op, id) = describe();
            return Err(ErrorReply::new(
                code::RATE_LIMITED,
                format!("rate limit exceeded for this identity ({op})"),
            )
            .with_request_id(id)
            .retryable(retry_after));
        }
        Ok(())
    }

    /// Tells the client `e`; `Some` when the session ended meanwhile.
    async fn refuse(&self, e: ErrorReply) -> Option<Exit> {
        (!self.error(e).await).then_some(Exit::Killed)
    }

    /// A send: held while its receiver paces this sender, else admitted
    /// and routed. Not async, so that a send is not moved into a future on
    /// its way (only a refusal waits, to be queued).
    fn route_send(&mut self, mut send: SharedSend, size: usize) -> Result<(), ErrorReply> {
        if self
            .pacing
            .as_ref()
            .is_some_and(|p| p.holds(&send.target_topic))
        {
            self.hold(send, size);
            return Ok(());
        }
        self.admit(size, true, || ("send", ""))?;
        let obo = self.on_behalf(send.authorization.as_deref()).map_err(|m| {
            Stats::bump(&self.hub.cx.stats.send_errors);
            ErrorReply::new(code::PERMISSION_DENIED, m)
        })?;
        send.authorization = None;
        let sender = Sender {
            cx: &self.hub.cx,
            kind: self.handle.kind,
            source_topic: &self.source_topic,
            workspace: &self.workspace,
            actor: match &obo {
                Some(o) => o.actor(),
                None => self.handle.authz_actor(&self.workspace),
            },
            on_behalf_of: obo.as_ref().map(|o| &o.subject),
        };
        let routed = routing::route(&sender, self.rate.as_mut(), &mut self.recent, send)?;
        if let Some(target) = &routed.offline_target {
            triggers::message_to_offline(
                &self.hub.agents,
                &self.hub.tasks,
                target,
                &self.handle.identity,
            );
        }
        // One pause at a time; a second congested receiver still refuses
        // what its bounds cannot take.
        if let Some((receiver, topic)) = routed.congested
            && self.pacing.is_none()
        {
            let wait = self.hub.cx.config.limits.backpressure_wait;
            self.pacing = Some(Pacing::start(topic, receiver, wait, &self.hub.cx.stats));
        }
        Ok(())
    }

    /// Resolves the authorization context of a request from this session.
    fn on_behalf(
        &self,
        ctx: Option<&aether_protocol::proto::AuthorizationContext>,
    ) -> Result<Option<authz::grants::obo::OnBehalf>, String> {
        authz::grants::obo::resolve(&self.hub.cx.authz, &self.handle.acl, ctx)
    }

    /// This session as the authority operations see it.
    fn grant_caller(&self) -> crate::authority::grant_op::Caller<'_> {
        crate::authority::grant_op::Caller {
            handle: &self.handle,
            workspace: &self.workspace,
        }
    }

    /// The parties of a decision the caller asks for itself.
    fn direct_parties(&self) -> authz::check_op::Parties<'_> {
        authz::check_op::Parties {
            actor: &self.handle.acl,
            mode: "direct",
            grant_id: "",
            root_grant_id: "",
            expires_at_ms: 0,
        }
    }

    /// Pauses reading until `receiver`, online and keeping up, has drained
    /// its mailbox to a quarter (bounded: see [`crate::mailbox`]), so flow
    /// control slows this sender to its reader's speed; `false` when the
    /// session was ended meanwhile.
    async fn switch_workspace(&mut self, sw: SwitchWorkspace) -> bool {
        if self.handle.kind != PrincipalKind::User {
            return self
                .error(ErrorReply::new(
                    code::INVALID_PRINCIPAL,
                    "only users can switch workspaces",
                ))
                .await;
        }
        if let Err(e) = validate_segment(&sw.new_workspace_id) {
            return self
                .error(ErrorReply::new(
                    code::INVALID_ARGUMENT,
                    format!("invalid workspace: {e}"),
                ))
                .await;
        }
        if !self
            .handle
            .credential
            .allows_workspace(&sw.new_workspace_id)
        {
            return self
                .error(ErrorReply::new(
                    code::PERMISSION_DENIED,
                    format!(
                        "{} not authorized for workspace {}",
                        match self.handle.credential {
                            crate::credential::Credential::Certificate { .. } => {
                                "client certificate"
                            }
                            _ => "API key",
                        },
                        sw.new_workspace_id
                    ),
                ))
                .await;
        }
        let actor = self.handle.authz_actor(&self.workspace);
        if !self.hub.cx.authz.allows(
            &actor,
            authz::Resource::workspace(&sw.new_workspace_id),
            authz::Level::READ,
        ) {
            return self
                .error(ErrorReply::new(
                    code::PERMISSION_DENIED,
                    format!("not authorized for workspace {}", sw.new_workspace_id),
                ))
                .await;
        }
        self.hub
            .cx
            .switch_workspace(&self.handle, &sw.new_workspace_id);
        self.workspace = sw.new_workspace_id.into();
        true
    }
}

fn downstream(payload: downstream_message::Payload) -> DownstreamMessage {
    DownstreamMessage {
        payload: Some(payload),
        active_extensions: Vec::new(),
    }
}

/// The encoded size of an `UpstreamMessage` holding only a send of
/// `send_len` bytes: a one-byte key, the length, the send.
fn wire_size(send_len: usize) -> usize {
    1 + prost::length_delimiter_len(send_len) + send_len
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_protocol::proto::{SendMessage, UpstreamMessage};

    #[test]
    fn a_send_frame_is_sized_as_prost_sizes_it() {
        for (topic, payload, ws) in [
            ("", 0, ""),
            ("ag::w::i::s", 64, "w"),
            (
                "ag::a-long-workspace::an-implementation::a-specifier",
                70_000,
                "ws",
            ),
        ] {
            let send = SendMessage {
                target_topic: topic.into(),
                payload: vec![1u8; payload].into(),
                message_type: 4,
                app_workspace: ws.into(),
                authorization: (payload > 0).then(Box::default),
                ..Default::default()
            };
            let msg = UpstreamMessage {
                payload: Some(Payload::Send(Box::new(send.clone()))),
                active_extensions: Vec::new(),
            };
            let shared = SharedSend::from(send);
            assert_eq!(wire_size(shared.encoded_len()), msg.encoded_len());
        }
    }
}
