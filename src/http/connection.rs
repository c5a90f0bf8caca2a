//! The connection under the HTTP server. actix-http answers a request it cannot parse (a URL
//! over 64 KiB, a head over 128 KiB or with more than 96 headers, a malformed request line, a
//! head that does not arrive in time) itself, before any middleware or handler runs, with an
//! empty body. This wrapper recognises those answers on their way out (an error status with
//! `content-length: 0` and `connection: close`: every error the service's own code produces
//! carries the JSON envelope, so the two cannot be confused) and sends the envelope in their
//! place, so that a client reads the same `{"error": {...}}` for every failure.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::rt::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::error::{ApiError, ErrorBody};
use crate::app::{Code, Error};

/// The longest request line the HTTP layer accepts (the `http` crate's limit on a URI).
const MAX_URI_BYTES: usize = 65_534;

/// A TCP connection whose parse-error answers are rewritten into the error envelope.
pub struct EnvelopeIo {
    inner: TcpStream,
    /// Bytes owed to the socket: a rewritten answer not yet fully written.
    pending: Vec<u8>,
    written: usize,
    /// The length of the current request's first line so far, while it is being read, to tell a
    /// URL that is too long from other malformed requests.
    request_line: usize,
    in_request_line: bool,
    /// The client's address, for the warning a refused request leaves in the log.
    peer: Option<std::net::SocketAddr>,
}

impl EnvelopeIo {
    pub fn new(inner: TcpStream) -> EnvelopeIo {
        let peer = inner.peer_addr().ok();
        EnvelopeIo { inner, pending: Vec::new(), written: 0, request_line: 0, in_request_line: true, peer }
    }

    /// Writes what is owed; `Ready(Ok)` once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

/// Where in `buf` an empty error answer of the HTTP layer begins, if `buf` ends with one.
fn bare_error_at(buf: &[u8]) -> Option<(usize, u16)> {
    const END: &[u8] = b"\r\n\r\n";
    if !buf.ends_with(END) {
        return None;
    }
    // The head's start: the last status line in the buffer.
    let start = buf.windows(9).rposition(|w| w == b"HTTP/1.1 " || w == b"HTTP/1.0 ")?;
    let head = std::str::from_utf8(&buf[start..]).ok()?;
    let status: u16 = head.get(9..12)?.parse().ok()?;
    let lower = head.to_ascii_lowercase();
    let bare = (400..600).contains(&status)
        && lower.contains("\r\ncontent-length: 0\r\n")
        && lower.contains("\r\nconnection: close\r\n")
        && !lower.contains("\r\ncontent-type:");
    bare.then_some((start, status))
}

/// The envelope for an answer the HTTP layer gave before any handler ran.
fn envelope(status: u16, uri_too_long: bool) -> Vec<u8> {
    use actix_web::http::StatusCode;
    let api: ApiError = match status {
        400 | 431 if uri_too_long => Error::new(
            Code::UriTooLong,
            format!("the URL is longer than {MAX_URI_BYTES} bytes; send long inputs in a request body instead"),
        )
        .into(),
        400 => Error::new(
            Code::MalformedRequest,
            "the request is not valid HTTP/1.1: check the request line (METHOD /path HTTP/1.1), the header names and values, and the body's framing",
        )
        .into(),
        431 => Error::new(
            Code::HeadersTooLarge,
            "the request's headers are too large: at most 96 headers, and the request line and headers together under 128 KiB",
        )
        .into(),
        408 => Error::new(
            Code::RequestTimeout,
            "the request's head did not arrive in time; send it whole within 5 seconds of connecting",
        )
        .into(),
        other => {
            let status = StatusCode::from_u16(other).unwrap_or(StatusCode::BAD_REQUEST);
            ApiError::from_status(status, "", "")
        }
    };
    let status = api.status;
    let request_id = uuid::Uuid::new_v4().to_string();
    let body: ErrorBody = api.body(Some(request_id.clone()), super::error::Language::Zh);
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {request_id}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

impl AsyncRead for EnvelopeIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let this = &mut *self;
            if this.in_request_line {
                let read = &buf.filled()[before..];
                match read.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        this.request_line += end;
                        this.in_request_line = false;
                    }
                    None => this.request_line += read.len(),
                }
            }
        }
        result
    }
}

impl AsyncWrite for EnvelopeIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if let Some((start, status)) = bare_error_at(buf) {
            // The client's doing (a URL or head too large, a malformed request): a warning, never
            // an error, so that nobody outside can fill the error log.
            let client = this.peer.map(|p| p.ip().to_string()).unwrap_or_default();
            let answered = if this.request_line > MAX_URI_BYTES { 414 } else { status };
            tracing::warn!(status = answered, client, "a request the HTTP layer could not read was refused");
            this.pending.extend_from_slice(&buf[..start]);
            this.pending.extend_from_slice(&envelope(status, this.request_line > MAX_URI_BYTES));
            if let Poll::Ready(Err(e)) = this.drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        // An answer on its way out: the next bytes read begin the next request.
        this.in_request_line = true;
        this.request_line = 0;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_http_layers_empty_error_answers_are_recognised() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\ndate: Wed, 02 Dec 2026 13:04:06 GMT\r\n\r\n";
        assert_eq!(bare_error_at(bare), Some((0, 431)));
        let mut pipelined = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec();
        pipelined.extend_from_slice(bare);
        assert_eq!(bare_error_at(&pipelined), Some((40, 431)));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
        assert_eq!(bare_error_at(ours), None);
        let ok = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        assert_eq!(bare_error_at(ok), None);
        let text = envelope(400, true);
        let text = String::from_utf8(text).unwrap();
        assert!(text.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{text}");
        assert!(text.contains("\"code\":\"uri_too_long\""));
    }
}
