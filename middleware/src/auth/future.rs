//! Response future for [`Auth`](super::Auth).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

pin_project! {
    /// Response future for [`Auth`](super::Auth): either the inner service's
    /// future or the credentials error.
    #[derive(Debug)]
    pub struct ResponseFuture<F, E> {
        #[pin]
        kind: Kind<F, E>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F, E> {
        Future { #[pin] future: F },
        Error { error: Option<E> },
    }
}

impl<F, E> ResponseFuture<F, E> {
    pub(crate) fn future(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Future { future },
        }
    }

    pub(crate) fn error(error: E) -> Self {
        ResponseFuture {
            kind: Kind::Error { error: Some(error) },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Future { future } => future.poll(cx),
            KindProj::Error { error } => match error.take() {
                Some(e) => Poll::Ready(Err(e)),
                None => panic!("auth ResponseFuture polled after completion"),
            },
        }
    }
}
