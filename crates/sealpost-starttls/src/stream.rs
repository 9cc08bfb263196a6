//! A connection that is plaintext now and may become TLS later.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsStream;

/// A stream that is plaintext or TLS (client or server side).
///
/// STARTTLS turns a `Plain` stream into a `Tls` one: take the inner stream with
/// [`MaybeTls::into_plain`], run the handshake, and wrap the result again.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTls<S> {
    /// Not (yet) encrypted.
    Plain(S),
    /// Under TLS.
    Tls(Box<TlsStream<S>>),
}

impl<S> MaybeTls<S> {
    /// True under TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTls::Tls(_))
    }

    /// The plaintext stream, or `Err(self)` when TLS is already running.
    pub fn into_plain(self) -> Result<S, Self> {
        match self {
            MaybeTls::Plain(s) => Ok(s),
            tls => Err(tls),
        }
    }

    /// The underlying transport (for example the TCP stream, to read the peer address).
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTls::Plain(s) => s,
            MaybeTls::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl<S> From<tokio_rustls::server::TlsStream<S>> for MaybeTls<S> {
    fn from(tls: tokio_rustls::server::TlsStream<S>) -> Self {
        MaybeTls::Tls(Box::new(TlsStream::Server(tls)))
    }
}

impl<S> From<tokio_rustls::client::TlsStream<S>> for MaybeTls<S> {
    fn from(tls: tokio_rustls::client::TlsStream<S>) -> Self {
        MaybeTls::Tls(Box::new(TlsStream::Client(tls)))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(s) => s.is_write_vectored(),
            MaybeTls::Tls(s) => s.is_write_vectored(),
        }
    }
}
