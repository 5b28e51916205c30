//! A connection's socket, timestamped: when the current exchange's first and
//! last bytes were handed to it, and when the first byte of its answer came
//! back. One request is in flight per connection, so the marks of the
//! current exchange are the connection's marks since it was last
//! [`reset`](Marks::reset).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// The marks of the exchange under way, shared by the socket (which sets
/// them, inside hyper's connection task) and the connection's handle (which
/// reads them): nanoseconds since `origin`, plus one; 0 is "not yet".
#[derive(Debug)]
pub(super) struct Marks {
    origin: Instant,
    first_write: AtomicU64,
    last_write: AtomicU64,
    first_read: AtomicU64,
}

/// What [`Marks`] saw of one exchange.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seen {
    /// The request's first byte handed to the socket.
    pub(super) first_write: Option<Instant>,
    /// Its last byte.
    pub(super) last_write: Option<Instant>,
    /// The answer's first byte read.
    pub(super) first_read: Option<Instant>,
}

impl Marks {
    pub(super) fn new() -> Arc<Marks> {
        Arc::new(Marks {
            origin: Instant::now(),
            first_write: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            first_read: AtomicU64::new(0),
        })
    }

    /// Forget the previous exchange: a new request is about to be written.
    pub(super) fn reset(&self) {
        self.first_write.store(0, Ordering::Relaxed);
        self.last_write.store(0, Ordering::Relaxed);
        self.first_read.store(0, Ordering::Relaxed);
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    fn at(&self, mark: &AtomicU64) -> Option<Instant> {
        match mark.load(Ordering::Acquire) {
            0 => None,
            n => Some(self.origin + std::time::Duration::from_nanos(n - 1)),
        }
    }

    /// `polled`, a write's result, marking the bytes it took.
    fn wrote_if(&self, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote();
        }
        polled
    }

    fn wrote(&self) {
        let now = self.now();
        // Only the first write of the exchange sets its first mark.
        let _ = self
            .first_write
            .compare_exchange(0, now, Ordering::Release, Ordering::Relaxed);
        self.last_write.store(now, Ordering::Release);
    }

    fn read(&self) {
        if self.first_read.load(Ordering::Relaxed) == 0 {
            self.first_read.store(self.now(), Ordering::Release);
        }
    }

    /// The marks of the exchange under way.
    pub(super) fn seen(&self) -> Seen {
        Seen {
            first_write: self.at(&self.first_write),
            last_write: self.at(&self.last_write),
            first_read: self.at(&self.first_read),
        }
    }
}

/// The socket under a connection: plain TCP or TLS over it.
#[derive(Debug)]
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// What a [`Stream`] is, plain or TLS: a socket to read, write and poll in
/// place.
trait Io: AsyncRead + AsyncWrite + Unpin {}

impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

impl Stream {
    /// The socket, whichever it is, to poll: the one place that tells the
    /// two apart.
    fn pinned(&mut self) -> Pin<&mut dyn Io> {
        match self {
            Stream::Plain(s) => Pin::new(s),
            Stream::Tls(s) => Pin::new(s.as_mut()),
        }
    }
}

/// A socket that sets its connection's [`Marks`] as bytes go through it.
#[derive(Debug)]
pub(super) struct Timed {
    pub(super) stream: Stream,
    pub(super) marks: Arc<Marks>,
}

impl AsyncRead for Timed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = this.stream.pinned().poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.marks.read();
        }
        polled
    }
}

impl AsyncWrite for Timed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.marks
            .wrote_if(this.stream.pinned().poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.marks
            .wrote_if(this.stream.pinned().poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream.pinned().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream.pinned().poll_shutdown(cx)
    }
}
