//! The KV operations: one type per request, each knowing its reply.
//!
//! Only GET, LIST, SET_CARD, PUT and DELETE are safe to repeat (the retry
//! layer may resend them); counters, guarded counters, SET_NX, CAS, CAD,
//! SET_ADD and purges are never resent automatically.

use std::time::Duration;

use bytes::Bytes;

use super::page::KvPage;
use super::scope::{KvScope, ttl_secs, validate_key, validate_prefix};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::kv_operation::OpType;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{KvOperation, KvResponse};
use crate::stack::{OpRequest, Operation, Reply};

/// A KV frame being built.
#[derive(Debug, Clone)]
pub(crate) struct KvCall {
    name: &'static str,
    op: KvOperation,
}

impl KvCall {
    fn new(name: &'static str, op: OpType, key: &str, scope: &KvScope) -> Result<Self> {
        let (scope, user_id, workspace) = scope.wire()?;
        Ok(KvCall {
            name,
            op: KvOperation {
                op: op as i32,
                scope: scope as i32,
                key: key.to_string(),
                user_id,
                workspace,
                ..Default::default()
            },
        })
    }

    fn keyed(name: &'static str, op: OpType, key: &str, scope: &KvScope) -> Result<Self> {
        validate_key(key)?;
        Self::new(name, op, key, scope)
    }

    fn guarded(
        name: &'static str,
        op: OpType,
        key: &str,
        delta: i64,
        guard: i64,
        scope: &KvScope,
    ) -> Result<Self> {
        if delta < 1 {
            return Err(Error::invalid(format!(
                "{name}: delta must be at least 1, got {delta}"
            )));
        }
        let mut c = Self::keyed(name, op, key, scope)?;
        c.op.delta_value = delta;
        c.op.guard_value = guard;
        Ok(c)
    }

    fn request(self) -> OpRequest {
        let idempotent = [
            OpType::Get,
            OpType::List,
            OpType::SetCard,
            OpType::Put,
            OpType::Delete,
        ]
        .iter()
        .any(|t| *t as i32 == self.op.op);
        OpRequest::awaited(self.name, Up::KvOp(Box::new(self.op))).idempotent(idempotent)
    }
}

/// The successful `KVResponse` of a call, or the error it stands for.
///
/// A `success=false` reply carries no reason (the gateway only logs it), so
/// it becomes [`ErrorKind::Rejected`]. The gateway follows it with an
/// `ErrorResponse{KV_ERROR}` bearing the same request id; by then the call
/// has been resolved, so that frame reaches `on_error` (and
/// [`Client::frames`](crate::Client::frames)) as an uncorrelated push.
fn kv_reply(name: &str, reply: Reply) -> Result<KvResponse> {
    match reply.into_frame(name)? {
        Down::Kv(r) if r.success => Ok(*r),
        Down::Kv(_) => Err(Error::new(
            ErrorKind::Rejected,
            format!(
                "{name} refused by the gateway (KV replies carry no reason: the principal or \
                 scope may not be allowed, a scope parameter may be missing, an ACL may deny \
                 it, or the stored value is not a counter or set)"
            ),
        )),
        other => Err(Error::unexpected(name, &other)),
    }
}

/// GET: the value, `None` when missing (or empty).
#[derive(Debug, Clone)]
pub(crate) struct KvGet(KvCall);

impl Operation for KvGet {
    const NAME: &'static str = "kv_get";
    type Output = Option<Bytes>;

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<Option<Bytes>> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok((!r.value.is_empty()).then_some(r.value))
    }
}

/// PUT (upsert) with an optional TTL.
#[derive(Debug, Clone)]
pub(crate) struct KvPut(KvCall);

impl Operation for KvPut {
    const NAME: &'static str = "kv_put";
    type Output = ();

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<()> {
        kv_reply(Self::NAME, reply)?;
        Ok(())
    }
}

/// One LIST page.
#[derive(Debug, Clone)]
pub(crate) struct KvList(KvCall);

impl Operation for KvList {
    const NAME: &'static str = "kv_list";
    type Output = KvPage;

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<KvPage> {
        let r = kv_reply(Self::NAME, reply)?;
        KvPage::from_reply(r)
    }
}

/// DELETE (deleting a missing key succeeds).
#[derive(Debug, Clone)]
pub(crate) struct KvDelete(KvCall);

impl Operation for KvDelete {
    const NAME: &'static str = "kv_delete";
    type Output = ();

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<()> {
        kv_reply(Self::NAME, reply)?;
        Ok(())
    }
}

/// INCREMENT by one: the new value.
#[derive(Debug, Clone)]
pub(crate) struct KvIncrement(KvCall);

impl Operation for KvIncrement {
    const NAME: &'static str = "kv_increment";
    type Output = i64;

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<i64> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok(r.counter_value)
    }
}

/// DECREMENT by one: the new value.
#[derive(Debug, Clone)]
pub(crate) struct KvDecrement(KvCall);

impl Operation for KvDecrement {
    const NAME: &'static str = "kv_decrement";
    type Output = i64;

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<i64> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok(r.counter_value)
    }
}

/// INCREMENT_IF: the (new or unchanged) value and whether it applied.
#[derive(Debug, Clone)]
pub(crate) struct KvIncrementIf(KvCall);

impl Operation for KvIncrementIf {
    const NAME: &'static str = "kv_increment_if";
    type Output = (i64, bool);

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<(i64, bool)> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok((r.counter_value, r.applied))
    }
}

/// DECREMENT_IF: the (new or unchanged) value and whether it applied.
#[derive(Debug, Clone)]
pub(crate) struct KvDecrementIf(KvCall);

impl Operation for KvDecrementIf {
    const NAME: &'static str = "kv_decrement_if";
    type Output = (i64, bool);

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<(i64, bool)> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok((r.counter_value, r.applied))
    }
}

/// SET_NX: whether it was written.
#[derive(Debug, Clone)]
pub(crate) struct KvSetNx(KvCall);

impl Operation for KvSetNx {
    const NAME: &'static str = "kv_set_nx";
    type Output = bool;

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<bool> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok(r.applied)
    }
}

/// COMPARE_AND_SET: whether it was replaced.
#[derive(Debug, Clone)]
pub(crate) struct KvCompareAndSet(KvCall);

impl Operation for KvCompareAndSet {
    const NAME: &'static str = "kv_compare_and_set";
    type Output = bool;

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<bool> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok(r.applied)
    }
}

/// COMPARE_AND_DELETE: whether it was deleted.
#[derive(Debug, Clone)]
pub(crate) struct KvCompareAndDelete(KvCall);

impl Operation for KvCompareAndDelete {
    const NAME: &'static str = "kv_compare_and_delete";
    type Output = bool;

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<bool> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok(r.applied)
    }
}

/// SET_ADD: whether the member was new, and the set's cardinality.
#[derive(Debug, Clone)]
pub(crate) struct KvSetAdd(KvCall);

impl Operation for KvSetAdd {
    const NAME: &'static str = "kv_set_add";
    type Output = (bool, i64);

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<(bool, i64)> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok((r.applied, r.counter_value))
    }
}

/// SET_CARD: the set's cardinality (0 when missing).
#[derive(Debug, Clone)]
pub(crate) struct KvSetCard(KvCall);

impl Operation for KvSetCard {
    const NAME: &'static str = "kv_set_card";
    type Output = i64;

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<i64> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok(r.counter_value)
    }
}

/// PURGE_IDENTITY: how many keys were deleted.
#[derive(Debug, Clone)]
pub(crate) struct KvPurgeIdentity(KvCall);

impl Operation for KvPurgeIdentity {
    const NAME: &'static str = "kv_purge_identity";
    type Output = u64;

    fn into_request(self) -> OpRequest {
        self.0.request()
    }

    fn decode(reply: Reply) -> Result<u64> {
        let r = kv_reply(Self::NAME, reply)?;
        Ok(u64::try_from(r.counter_value).unwrap_or(0))
    }
}

impl KvGet {
    pub(crate) fn new(key: &str, scope: &KvScope) -> Result<Self> {
        KvCall::keyed(Self::NAME, OpType::Get, key, scope).map(Self)
    }
}

impl KvPut {
    pub(crate) fn new(
        key: &str,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<Self> {
        let mut c = KvCall::keyed(Self::NAME, OpType::Put, key, scope)?;
        c.op.value = value;
        c.op.ttl = ttl_secs(ttl);
        Ok(Self(c))
    }
}

impl KvList {
    /// One page (`limit` 0 = the gateway's default, 100) after `cursor`.
    pub(crate) fn new(
        prefix: &str,
        scope: &KvScope,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Self> {
        validate_prefix(prefix)?;
        let mut c = KvCall::new(Self::NAME, OpType::List, prefix, scope)?;
        c.op.limit = i32::try_from(limit).unwrap_or(i32::MAX);
        c.op.cursor = cursor.unwrap_or_default().to_string();
        Ok(Self(c))
    }
}

impl KvDelete {
    pub(crate) fn new(key: &str, scope: &KvScope) -> Result<Self> {
        KvCall::keyed(Self::NAME, OpType::Delete, key, scope).map(Self)
    }
}

impl KvIncrement {
    /// The TTL applies only when the counter is created.
    pub(crate) fn new(key: &str, scope: &KvScope, ttl: Option<Duration>) -> Result<Self> {
        let mut c = KvCall::keyed(Self::NAME, OpType::Increment, key, scope)?;
        c.op.ttl = ttl_secs(ttl);
        Ok(Self(c))
    }
}

impl KvDecrement {
    pub(crate) fn new(key: &str, scope: &KvScope) -> Result<Self> {
        KvCall::keyed(Self::NAME, OpType::Decrement, key, scope).map(Self)
    }
}

impl KvIncrementIf {
    /// Adds `delta` only if the result stays `<= ceiling`.
    pub(crate) fn new(
        key: &str,
        delta: i64,
        ceiling: i64,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<Self> {
        let mut c = KvCall::guarded(Self::NAME, OpType::IncrementIf, key, delta, ceiling, scope)?;
        c.op.ttl = ttl_secs(ttl);
        Ok(Self(c))
    }
}

impl KvDecrementIf {
    /// Subtracts `delta` only if the result stays `>= floor`.
    pub(crate) fn new(key: &str, delta: i64, floor: i64, scope: &KvScope) -> Result<Self> {
        KvCall::guarded(Self::NAME, OpType::DecrementIf, key, delta, floor, scope).map(Self)
    }
}

impl KvSetNx {
    pub(crate) fn new(
        key: &str,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<Self> {
        let mut c = KvCall::keyed(Self::NAME, OpType::SetNx, key, scope)?;
        c.op.value = value;
        c.op.ttl = ttl_secs(ttl);
        Ok(Self(c))
    }
}

impl KvCompareAndSet {
    pub(crate) fn new(
        key: &str,
        expected: Bytes,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<Self> {
        let mut c = KvCall::keyed(Self::NAME, OpType::CompareAndSet, key, scope)?;
        c.op.expected_value = expected;
        c.op.value = value;
        c.op.ttl = ttl_secs(ttl);
        Ok(Self(c))
    }
}

impl KvCompareAndDelete {
    pub(crate) fn new(key: &str, expected: Bytes, scope: &KvScope) -> Result<Self> {
        let mut c = KvCall::keyed(Self::NAME, OpType::CompareAndDelete, key, scope)?;
        c.op.expected_value = expected;
        Ok(Self(c))
    }
}

impl KvSetAdd {
    /// The TTL is (re)applied when the member is new.
    pub(crate) fn new(
        key: &str,
        member: &str,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<Self> {
        let mut c = KvCall::keyed(Self::NAME, OpType::SetAdd, key, scope)?;
        c.op.value = Bytes::copy_from_slice(member.as_bytes());
        c.op.ttl = ttl_secs(ttl);
        Ok(Self(c))
    }
}

impl KvSetCard {
    pub(crate) fn new(key: &str, scope: &KvScope) -> Result<Self> {
        KvCall::keyed(Self::NAME, OpType::SetCard, key, scope).map(Self)
    }
}

impl KvPurgeIdentity {
    /// Another identity's global-exclusive keys (those under `prefix`, or
    /// all with `""`). The gateway forces the user id and workspace of a
    /// purge empty, so global-exclusive is the one scope it can purge.
    pub(crate) fn new(target_identity: &str, prefix: &str) -> Result<Self> {
        if target_identity.is_empty() {
            return Err(Error::invalid(
                "kv_purge_identity: the target identity must not be empty",
            ));
        }
        validate_prefix(prefix)?;
        let mut c = KvCall::new(
            Self::NAME,
            OpType::PurgeIdentity,
            prefix,
            &KvScope::GlobalExclusive,
        )?;
        c.op.target_identity = target_identity.to_string();
        Ok(Self(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::scope::MAX_KEY_BYTES;
    use crate::identity::Segment;
    use crate::proto::kv_operation::Scope;

    fn op(o: impl Operation) -> KvOperation {
        match o.into_request().payload().clone() {
            Up::KvOp(op) => *op,
            other => panic!("not a KV op: {other:?}"),
        }
    }

    fn get(key: &str, scope: &KvScope) -> Result<KvGet> {
        KvGet::new(key, scope)
    }
    fn put(key: &str, v: Bytes, scope: &KvScope, ttl: Option<Duration>) -> Result<KvPut> {
        KvPut::new(key, v, scope, ttl)
    }
    fn list(p: &str, scope: &KvScope, limit: u32, cursor: Option<&str>) -> Result<KvList> {
        KvList::new(p, scope, limit, cursor)
    }
    fn frame(d: Down) -> Reply {
        Reply::Frame(d)
    }

    #[test]
    fn scopes_map_to_the_wire() {
        let cases = [
            (KvScope::Global, Scope::Global, "", ""),
            (KvScope::Workspace, Scope::Workspace, "", ""),
            (
                KvScope::workspace_in("w").unwrap(),
                Scope::Workspace,
                "",
                "w",
            ),
            (KvScope::user("u").unwrap(), Scope::User, "u", ""),
            (
                KvScope::user_workspace("u", "w").unwrap(),
                Scope::UserWorkspace,
                "u",
                "w",
            ),
            (KvScope::GlobalExclusive, Scope::GlobalExclusive, "", ""),
            (
                KvScope::WorkspaceExclusive,
                Scope::WorkspaceExclusive,
                "",
                "",
            ),
            (
                KvScope::workspace_exclusive_in("w").unwrap(),
                Scope::WorkspaceExclusive,
                "",
                "w",
            ),
            (
                KvScope::user_shared("u").unwrap(),
                Scope::UserShared,
                "u",
                "",
            ),
            (
                KvScope::user_workspace_shared("u", "w").unwrap(),
                Scope::UserWorkspaceShared,
                "u",
                "w",
            ),
        ];
        for (scope, wire, user, ws) in cases {
            let o = op(get("k", &scope).unwrap());
            assert_eq!(o.scope, wire as i32, "{scope:?}");
            assert_eq!(o.user_id, user, "{scope:?}");
            assert_eq!(o.workspace, ws, "{scope:?}");
        }
    }

    #[test]
    fn missing_scope_parameters_are_rejected() {
        assert!(KvScope::user("").is_err());
        assert!(KvScope::user_workspace("u", "").is_err());
        assert!(KvScope::workspace_in("a::b").is_err());
        let sneaky = KvScope::User(Segment::default());
        assert_eq!(
            get("k", &sneaky).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn keys_are_validated_before_sending() {
        assert_eq!(
            get("", &KvScope::Global).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(
            put(&long, Bytes::new(), &KvScope::Global, None)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidArgument
        );
        assert!(get(&"k".repeat(MAX_KEY_BYTES), &KvScope::Global).is_ok());
        // A listing prefix may be empty.
        assert!(list("", &KvScope::Global, 0, None).is_ok());
        assert!(list(&long, &KvScope::Global, 0, None).is_err());
    }

    #[test]
    fn ttls_are_whole_seconds_rounded_up() {
        assert_eq!(ttl_secs(None), 0);
        assert_eq!(ttl_secs(Some(Duration::ZERO)), 1);
        assert_eq!(ttl_secs(Some(Duration::from_millis(1))), 1);
        assert_eq!(ttl_secs(Some(Duration::from_millis(1500))), 2);
        assert_eq!(ttl_secs(Some(Duration::from_secs(30))), 30);
        assert_eq!(ttl_secs(Some(Duration::MAX)), i64::MAX);
    }

    #[test]
    fn operations_carry_their_fields() {
        let g = KvScope::Global;
        let o = op(put(
            "k",
            Bytes::from_static(b"v"),
            &g,
            Some(Duration::from_secs(5)),
        )
        .unwrap());
        assert_eq!(
            (o.op, o.value.as_ref(), o.ttl),
            (OpType::Put as i32, &b"v"[..], 5)
        );
        let o = op(list("pre", &g, 50, Some("c1")).unwrap());
        assert_eq!(
            (o.op, o.key.as_str(), o.limit, o.cursor.as_str()),
            (OpType::List as i32, "pre", 50, "c1")
        );
        let o = op(KvIncrementIf::new("n", 2, 10, &g, Some(Duration::from_secs(4))).unwrap());
        assert_eq!(
            (o.op, o.delta_value, o.guard_value, o.ttl),
            (OpType::IncrementIf as i32, 2, 10, 4)
        );
        let o = op(KvDecrementIf::new("n", 1, 0, &g).unwrap());
        assert_eq!(
            (o.op, o.delta_value, o.guard_value),
            (OpType::DecrementIf as i32, 1, 0)
        );
        assert!(KvIncrementIf::new("n", 0, 10, &g, None).is_err());
        let o = op(KvCompareAndSet::new("k", "a".into(), "b".into(), &g, None).unwrap());
        assert_eq!(
            (o.op, o.expected_value.as_ref(), o.value.as_ref()),
            (OpType::CompareAndSet as i32, &b"a"[..], &b"b"[..])
        );
        let o = op(KvCompareAndDelete::new("k", "a".into(), &g).unwrap());
        assert_eq!(
            (o.op, o.expected_value.as_ref()),
            (OpType::CompareAndDelete as i32, &b"a"[..])
        );
        let o = op(KvSetAdd::new("s", "m", &g, Some(Duration::from_secs(9))).unwrap());
        assert_eq!(
            (o.op, o.value.as_ref(), o.ttl),
            (OpType::SetAdd as i32, &b"m"[..], 9)
        );
        let o = op(KvPurgeIdentity::new("ag::w::i::s", "p/").unwrap());
        assert_eq!(
            (o.op, o.scope, o.target_identity.as_str(), o.key.as_str()),
            (
                OpType::PurgeIdentity as i32,
                Scope::GlobalExclusive as i32,
                "ag::w::i::s",
                "p/"
            )
        );
        assert!(KvPurgeIdentity::new("", "").is_err());
    }

    #[test]
    fn only_repeatable_operations_are_idempotent() {
        let g = KvScope::Global;
        let v = || Bytes::from_static(b"v");
        let repeatable = [
            get("k", &g).unwrap().into_request(),
            put("k", v(), &g, None).unwrap().into_request(),
            list("", &g, 0, None).unwrap().into_request(),
            KvDelete::new("k", &g).unwrap().into_request(),
            KvSetCard::new("k", &g).unwrap().into_request(),
        ];
        for r in repeatable {
            assert!(r.is_idempotent(), "{}", r.name());
        }
        let once = [
            KvIncrement::new("k", &g, None).unwrap().into_request(),
            KvDecrement::new("k", &g).unwrap().into_request(),
            KvIncrementIf::new("k", 1, 1, &g, None)
                .unwrap()
                .into_request(),
            KvDecrementIf::new("k", 1, 0, &g).unwrap().into_request(),
            KvSetNx::new("k", v(), &g, None).unwrap().into_request(),
            KvCompareAndSet::new("k", v(), v(), &g, None)
                .unwrap()
                .into_request(),
            KvCompareAndDelete::new("k", v(), &g)
                .unwrap()
                .into_request(),
            KvSetAdd::new("k", "m", &g, None).unwrap().into_request(),
            KvPurgeIdentity::new("ag::w::i::s", "")
                .unwrap()
                .into_request(),
        ];
        for r in once {
            assert!(!r.is_idempotent(), "{}", r.name());
        }
        let nowait = crate::stack::NoWait(put("k", v(), &g, None).unwrap()).into_request();
        assert!(!nowait.expects_reply());
    }

    #[test]
    fn replies_are_parsed() {
        let ok = frame(Down::Kv(Box::new(KvResponse {
            success: true,
            counter_value: 3,
            ..Default::default()
        })));
        assert_eq!(KvIncrement::decode(ok).unwrap(), 3);
        let refused = frame(Down::Kv(Box::default()));
        assert_eq!(
            KvGet::decode(refused).unwrap_err().kind(),
            ErrorKind::Rejected
        );
        let other = frame(Down::Checkpoint(Default::default()));
        assert_eq!(
            KvGet::decode(other).unwrap_err().kind(),
            ErrorKind::Protocol
        );
        assert_eq!(
            KvGet::decode(Reply::Sent).unwrap_err().kind(),
            ErrorKind::Protocol
        );
        let value = frame(Down::Kv(Box::new(KvResponse {
            success: true,
            value: Bytes::from_static(b"v"),
            ..Default::default()
        })));
        assert_eq!(KvGet::decode(value).unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn pages_keep_keys_values_and_cursors() {
        let r = KvResponse {
            success: true,
            keys: vec!["b".into(), "a".into()],
            kv_map: [
                ("a".to_string(), Bytes::from_static(b"1")),
                ("b".to_string(), Bytes::from_static(b"2")),
            ]
            .into(),
            next_cursor: "c".into(),
            has_more: true,
            ..Default::default()
        };
        let page = KvPage::from_reply(r).unwrap();
        assert!(page.has_more());
        assert_eq!(page.next_cursor.as_deref(), Some("c"));
        assert_eq!(
            page.into_entries(),
            vec![
                ("b".to_string(), Bytes::from_static(b"2")),
                ("a".to_string(), Bytes::from_static(b"1"))
            ]
        );
        let broken = KvResponse {
            success: true,
            has_more: true,
            ..Default::default()
        };
        assert_eq!(
            KvPage::from_reply(broken).unwrap_err().kind(),
            ErrorKind::Protocol
        );
        let last = KvPage::from_reply(KvResponse {
            success: true,
            ..Default::default()
        })
        .unwrap();
        assert!(!last.has_more());
    }
}
