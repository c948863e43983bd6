//! `Connection: close` on an HTTP/1 answer given before the request body was
//! read to its end.
//!
//! Many answers come before the body is read: 404 for an unknown route or
//! provider, 405, 401, 429, 413 for a declared length over the limit, a bad
//! api-version. HTTP/1 cannot carry the next request on that connection
//! until the rest of the body has been read, so the server closes it after
//! the answer. Without saying so, a keep-alive client sends its next request
//! into the closed connection and sees a TLS EOF instead of an answer. This
//! layer tracks whether the body was read to its end and, if not, adds
//! `Connection: close` to the answer (RFC 9112 §9.6), so the client opens a
//! new connection. Unread bodies are not drained: reading a body nobody
//! wants would let a client make the node spend bandwidth after the answer.
//! HTTP/2 needs none of this (a stream ends on its own).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// A request body that records when it has been read to its end.
struct Tracked {
    inner: Body,
    done: Arc<AtomicBool>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.done.store(true, Ordering::Relaxed),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => {
                self.done.store(true, Ordering::Relaxed)
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The middleware (see the module docs).
pub async fn close_if_unread(req: Request, next: Next) -> Response {
    let http1 = matches!(req.version(), Version::HTTP_10 | Version::HTTP_11);
    if !http1 || req.body().is_end_stream() {
        return next.run(req).await;
    }
    let done = Arc::new(AtomicBool::new(false));
    let req = req.map(|inner| {
        Body::new(Tracked {
            inner,
            done: done.clone(),
        })
    });
    let mut resp = next.run(req).await;
    if !done.load(Ordering::Relaxed) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route(
                "/read",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .route("/ignore", post(|| async { "ignored" }))
            .layer(axum::middleware::from_fn(close_if_unread))
    }

    async fn call(path: &str, body: &'static str) -> Response {
        let req = Request::post(path).body(Body::from(body)).unwrap();
        app().oneshot(req).await.unwrap()
    }

    #[tokio::test]
    async fn an_unread_body_closes_the_connection_a_read_one_does_not() {
        let read = call("/read", "hello").await;
        assert_eq!(read.status(), 200);
        assert!(read.headers().get(header::CONNECTION).is_none());

        let ignored = call("/ignore", "hello").await;
        assert_eq!(ignored.status(), 200);
        assert_eq!(ignored.headers()[header::CONNECTION], "close");

        let not_found = call("/nowhere", "hello").await;
        assert_eq!(not_found.status(), 404);
        assert_eq!(not_found.headers()[header::CONNECTION], "close");

        // No body: nothing to read, the connection stays open.
        let empty = call("/ignore", "").await;
        assert!(empty.headers().get(header::CONNECTION).is_none());
    }
}
