//! gRPC status codes as the SDK's own type, so the public error API does
//! not expose the transport crate.

use super::ErrorKind;

/// The gRPC status code a gateway ended the stream with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RpcCode {
    /// `OK` (a stream ended without error).
    Ok,
    /// `CANCELLED`.
    Cancelled,
    /// `UNKNOWN`.
    Unknown,
    /// `INVALID_ARGUMENT`.
    InvalidArgument,
    /// `DEADLINE_EXCEEDED`.
    DeadlineExceeded,
    /// `NOT_FOUND`.
    NotFound,
    /// `ALREADY_EXISTS` (a duplicate identity).
    AlreadyExists,
    /// `PERMISSION_DENIED`.
    PermissionDenied,
    /// `RESOURCE_EXHAUSTED`.
    ResourceExhausted,
    /// `FAILED_PRECONDITION`.
    FailedPrecondition,
    /// `ABORTED`.
    Aborted,
    /// `OUT_OF_RANGE`.
    OutOfRange,
    /// `UNIMPLEMENTED`.
    Unimplemented,
    /// `INTERNAL`.
    Internal,
    /// `UNAVAILABLE`.
    Unavailable,
    /// `DATA_LOSS`.
    DataLoss,
    /// `UNAUTHENTICATED`.
    Unauthenticated,
}

impl RpcCode {
    /// The error kind a stream ended with this code stands for.
    pub fn kind(self) -> ErrorKind {
        match self {
            RpcCode::Unauthenticated => ErrorKind::Unauthenticated,
            RpcCode::PermissionDenied => ErrorKind::PermissionDenied,
            RpcCode::AlreadyExists => ErrorKind::DuplicateIdentity,
            RpcCode::InvalidArgument => ErrorKind::InvalidArgument,
            RpcCode::NotFound => ErrorKind::NotFound,
            RpcCode::Unimplemented => ErrorKind::Unimplemented,
            RpcCode::Unavailable => ErrorKind::Unreachable,
            RpcCode::DeadlineExceeded => ErrorKind::Timeout,
            RpcCode::ResourceExhausted => ErrorKind::RateLimited,
            _ => ErrorKind::Rpc,
        }
    }

    /// Whether a connection refused with this code can never succeed as
    /// configured (so reconnecting is pointless).
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            RpcCode::Unauthenticated
                | RpcCode::PermissionDenied
                | RpcCode::AlreadyExists
                | RpcCode::InvalidArgument
                | RpcCode::NotFound
                | RpcCode::Unimplemented
        )
    }
}

impl From<tonic::Code> for RpcCode {
    fn from(code: tonic::Code) -> Self {
        use tonic::Code as C;
        match code {
            C::Ok => RpcCode::Ok,
            C::Cancelled => RpcCode::Cancelled,
            C::Unknown => RpcCode::Unknown,
            C::InvalidArgument => RpcCode::InvalidArgument,
            C::DeadlineExceeded => RpcCode::DeadlineExceeded,
            C::NotFound => RpcCode::NotFound,
            C::AlreadyExists => RpcCode::AlreadyExists,
            C::PermissionDenied => RpcCode::PermissionDenied,
            C::ResourceExhausted => RpcCode::ResourceExhausted,
            C::FailedPrecondition => RpcCode::FailedPrecondition,
            C::Aborted => RpcCode::Aborted,
            C::OutOfRange => RpcCode::OutOfRange,
            C::Unimplemented => RpcCode::Unimplemented,
            C::Internal => RpcCode::Internal,
            C::Unavailable => RpcCode::Unavailable,
            C::DataLoss => RpcCode::DataLoss,
            C::Unauthenticated => RpcCode::Unauthenticated,
        }
    }
}
