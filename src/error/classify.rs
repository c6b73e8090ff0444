//! Every mapping from what the gateway says to an [`ErrorKind`], in one
//! place: `ErrorResponse` codes, and the reasons typed replies give when
//! their `success` is false.

use super::ErrorKind;

/// The kind of an `ErrorResponse` code. Known codes map exactly; codes of
/// other gateways fall back on what their name says (`..._NOT_FOUND`,
/// `..._TOO_LARGE`, ...), and to [`ErrorKind::Gateway`] otherwise.
/// `ERR_QUOTA_001` is the gateway's quota code for two things: a retryable
/// message-rate quota, and a KV value over its size quota (not retryable).
pub(super) fn code_kind(code: &str, retryable: bool) -> ErrorKind {
    match code {
        "ERR_PERMISSION_DENIED" => ErrorKind::PermissionDenied,
        "ERR_NOT_IMPLEMENTED" | "ERR_EXTENSION_UNSUPPORTED" => ErrorKind::Unimplemented,
        "ERR_PAYLOAD_TOO_LARGE" | "ERR_FRAME_TOO_LARGE" => ErrorKind::PayloadTooLarge,
        "ERR_QUOTA_001" if retryable => ErrorKind::RateLimited,
        "ERR_QUOTA_001" => ErrorKind::PayloadTooLarge,
        "ERR_RATE_LIMITED" | "ERR_WORKSPACE_RATE_LIMITED" | "ERR_AUDIT_RATE_LIMITED" => {
            ErrorKind::RateLimited
        }
        "ERR_SV_UNAVAILABLE" | "ERR_TARGET_OFFLINE" | "ERR_CIRCUIT_OPEN" | "ERR_PUBLISH_FAILED"
        | "ERR_MAILBOX_FULL" | "BACKPRESSURE" => ErrorKind::Unavailable,
        "ERR_INVALID_ARGUMENT"
        | "ERR_INVALID_IDENTIFIER"
        | "ERR_INVALID_PRINCIPAL"
        | "ERR_INVALID_TOPIC"
        | "ERR_METRIC_EMPTY"
        | "ERR_METRIC_INVALID"
        | "ERR_METRIC_INVALID_ENTRY"
        | "ERR_METRIC_NEGATIVE_FORBIDDEN" => ErrorKind::InvalidArgument,
        other => by_name(other),
    }
}

fn by_name(code: &str) -> ErrorKind {
    let code = code.to_ascii_uppercase();
    if code.contains("PERMISSION_DENIED") || code.contains("FORBIDDEN") {
        ErrorKind::PermissionDenied
    } else if code.contains("UNAUTHENTICATED") {
        ErrorKind::Unauthenticated
    } else if code.contains("NOT_FOUND") {
        ErrorKind::NotFound
    } else if code.contains("NOT_IMPLEMENTED") || code.contains("UNIMPLEMENTED") {
        ErrorKind::Unimplemented
    } else if code.contains("TOO_LARGE") {
        ErrorKind::PayloadTooLarge
    } else if code.contains("RATE_LIMITED") {
        ErrorKind::RateLimited
    } else if code.contains("INVALID") {
        ErrorKind::InvalidArgument
    } else {
        ErrorKind::Gateway
    }
}

/// The kind of a typed reply's refusal reason, for an operation on a
/// `subject` (`"task"`, `"session"`, ...): the subject itself is missing
/// (`"task not found"`, `"session not found: s1"`; a missing dependency or
/// parent is a refusal, not a missing subject; `"workspace w not found"`
/// is the subject), something is too large (`"checkpoint too large:
/// ..."`), the caller lacks the rights (`"... permission denied"`, `"...
/// require(s) ... privileges"`, `"not authorized ..."`, `"... workspace
/// access"`), or it was refused for another reason.
pub(super) fn refusal_kind(subject: &str, reason: &str) -> ErrorKind {
    let reason = reason.trim().to_ascii_lowercase();
    let missing = reason
        .strip_prefix(subject)
        .is_some_and(|rest| rest.trim_start().starts_with("not found"))
        || (reason.starts_with(subject) && reason.ends_with("not found"));
    if missing {
        ErrorKind::NotFound
    } else if reason.contains("too large") {
        ErrorKind::PayloadTooLarge
    } else if reason.contains("permission denied")
        || reason.contains("not authorized")
        || (reason.contains("require") && reason.contains("privileges"))
        || reason.contains("privileges")
        || reason.contains("workspace-level access")
        || reason.contains("workspace access")
    {
        ErrorKind::PermissionDenied
    } else {
        ErrorKind::Rejected
    }
}

/// The kind and stable code of a `ProxyError.kind` (HTTP over Aether).
pub(super) fn proxy_kind(kind: i32) -> (ErrorKind, &'static str) {
    use crate::proto::proxy_error::Kind;
    match Kind::try_from(kind).unwrap_or(Kind::Unknown) {
        Kind::SidecarUnavailable => (ErrorKind::Unavailable, "SIDECAR_UNAVAILABLE"),
        Kind::DialFailed => (ErrorKind::Unavailable, "DIAL_FAILED"),
        Kind::UpstreamReset => (ErrorKind::Unavailable, "UPSTREAM_RESET"),
        Kind::Timeout => (ErrorKind::Timeout, "TIMEOUT"),
        Kind::PayloadTooLarge => (ErrorKind::PayloadTooLarge, "PAYLOAD_TOO_LARGE"),
        Kind::AclDenied => (ErrorKind::PermissionDenied, "ACL_DENIED"),
        Kind::DecodeFailed => (ErrorKind::Protocol, "DECODE_FAILED"),
        Kind::Unknown => (ErrorKind::Gateway, "UNKNOWN"),
    }
}

/// The kind and code of the proxy error named at the start of a detail
/// (`SIDECAR_UNAVAILABLE: …`), as the gateway words a refused tunnel.
pub(super) fn proxy_code_prefix(detail: &str) -> Option<(ErrorKind, &'static str)> {
    use crate::proto::proxy_error::Kind;
    let (name, _) = detail.split_once(':')?;
    let kind = Kind::from_str_name(name.trim())?;
    Some(proxy_kind(kind as i32))
}

/// The kind and stable code of a `TunnelClose.reason` other than NORMAL.
pub(super) fn tunnel_close_kind(reason: i32) -> (ErrorKind, &'static str) {
    use crate::proto::tunnel_close::Reason;
    match Reason::try_from(reason).unwrap_or(Reason::Error) {
        Reason::Normal => (ErrorKind::Closed, "NORMAL"),
        Reason::PeerReset => (ErrorKind::Unavailable, "PEER_RESET"),
        Reason::IdleTimeout => (ErrorKind::Timeout, "IDLE_TIMEOUT"),
        Reason::Quota => (ErrorKind::RateLimited, "QUOTA"),
        Reason::Error => (ErrorKind::Gateway, "ERROR"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_tunnels_name_their_proxy_error() {
        assert_eq!(
            proxy_code_prefix("SIDECAR_UNAVAILABLE: no instance of sv::x"),
            Some((ErrorKind::Unavailable, "SIDECAR_UNAVAILABLE"))
        );
        assert_eq!(
            proxy_code_prefix("ACL_DENIED: proxy_chain_depth_exceeded"),
            Some((ErrorKind::PermissionDenied, "ACL_DENIED"))
        );
        assert_eq!(proxy_code_prefix("tunnel_id is required"), None);
        assert_eq!(proxy_code_prefix("NOT_A_KIND: x"), None);
    }

    #[test]
    fn known_codes_map_exactly() {
        assert_eq!(
            code_kind("ERR_PERMISSION_DENIED", false),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            code_kind("ERR_PAYLOAD_TOO_LARGE", false),
            ErrorKind::PayloadTooLarge
        );
        assert_eq!(
            code_kind("ERR_NOT_IMPLEMENTED", false),
            ErrorKind::Unimplemented
        );
        assert_eq!(
            code_kind("ERR_INVALID_TOPIC", false),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            code_kind("ERR_QUOTA_001", false),
            ErrorKind::PayloadTooLarge
        );
        assert_eq!(code_kind("ERR_QUOTA_001", true), ErrorKind::RateLimited);
        assert_eq!(code_kind("ERR_RATE_LIMITED", true), ErrorKind::RateLimited);
        assert_eq!(
            code_kind("ERR_SV_UNAVAILABLE", true),
            ErrorKind::Unavailable
        );
        assert_eq!(code_kind("KV_ERROR", false), ErrorKind::Gateway);
    }

    #[test]
    fn a_target_that_cannot_take_a_message_now_is_unavailable() {
        // The embedded gateway's refusal of a message to a full mailbox, and
        // upstream's best-effort notice of shed deliveries.
        assert_eq!(code_kind("ERR_MAILBOX_FULL", true), ErrorKind::Unavailable);
        assert_eq!(code_kind("BACKPRESSURE", false), ErrorKind::Unavailable);
    }

    #[test]
    fn unknown_codes_fall_back_on_their_name() {
        assert_eq!(
            code_kind("ERR_WIDGET_NOT_FOUND", false),
            ErrorKind::NotFound
        );
        assert_eq!(
            code_kind("err_blob_too_large", false),
            ErrorKind::PayloadTooLarge
        );
        assert_eq!(code_kind("ERR_SOMETHING", false), ErrorKind::Gateway);
    }

    #[test]
    fn proxy_and_tunnel_kinds() {
        use crate::proto::{proxy_error::Kind, tunnel_close::Reason};
        assert_eq!(
            proxy_kind(Kind::SidecarUnavailable as i32),
            (ErrorKind::Unavailable, "SIDECAR_UNAVAILABLE")
        );
        assert_eq!(
            proxy_kind(Kind::AclDenied as i32).0,
            ErrorKind::PermissionDenied
        );
        assert_eq!(proxy_kind(99), (ErrorKind::Gateway, "UNKNOWN"));
        assert_eq!(
            tunnel_close_kind(Reason::PeerReset as i32),
            (ErrorKind::Unavailable, "PEER_RESET")
        );
        assert_eq!(tunnel_close_kind(Reason::Quota as i32).1, "QUOTA");
        assert_eq!(
            tunnel_close_kind(Reason::IdleTimeout as i32).0,
            ErrorKind::Timeout
        );
    }

    #[test]
    fn refusal_reasons() {
        assert_eq!(refusal_kind("task", "task not found"), ErrorKind::NotFound);
        assert_eq!(
            refusal_kind("task", " Task Not Found "),
            ErrorKind::NotFound
        );
        assert_eq!(
            refusal_kind("session", "session not found: s1"),
            ErrorKind::NotFound
        );
        assert_eq!(
            refusal_kind("task", "dependency not found: t2"),
            ErrorKind::Rejected
        );
        assert_eq!(
            refusal_kind("task", "parent task p not found"),
            ErrorKind::Rejected
        );
        assert_eq!(
            refusal_kind(
                "checkpoint",
                "checkpoint too large: 9 bytes exceeds the limit of 8 bytes"
            ),
            ErrorKind::PayloadTooLarge
        );
        assert_eq!(
            refusal_kind("workspace", "workspace w not found"),
            ErrorKind::NotFound
        );
        assert_eq!(
            refusal_kind(
                "session",
                "admin sessions operations require system-level privileges"
            ),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            refusal_kind("task", "cannot complete a pending task"),
            ErrorKind::Rejected
        );
    }
}
