//! A component's stdio as the test drives it: stdin written step by step
//! and closed at `wait`, stdout and stderr read step by step while the
//! program runs. Each is one shared stream however many handles the guest
//! opens. Output is bounded; a program that writes more fails.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;
use wasmtime_wasi::cli::{IsTerminal, StdinStream, StdoutStream};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Standard input: what the test wrote and has not been read yet.
#[derive(Clone, Default)]
pub(super) struct Input(Arc<Mutex<InputState>>);

#[derive(Default)]
struct InputState {
    buf: VecDeque<u8>,
    closed: bool,
    readers: Vec<Waker>,
}

impl Input {
    /// Makes `bytes` available to the program.
    pub(super) fn write(&self, bytes: &[u8]) {
        let mut s = lock(&self.0);
        s.buf.extend(bytes);
        s.readers.drain(..).for_each(Waker::wake);
    }

    /// End of input: the program reads what is left, then end of file.
    pub(super) fn close(&self) {
        let mut s = lock(&self.0);
        s.closed = true;
        s.readers.drain(..).for_each(Waker::wake);
    }
}

impl AsyncRead for Input {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let mut s = lock(&self.0);
        if !s.buf.is_empty() {
            let n = out.remaining().min(s.buf.len());
            let taken: Vec<u8> = s.buf.drain(..n).collect();
            out.put_slice(&taken);
            return Poll::Ready(Ok(()));
        }
        if s.closed {
            return Poll::Ready(Ok(()));
        }
        if !s.readers.iter().any(|w| w.will_wake(cx.waker())) {
            s.readers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl IsTerminal for Input {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdinStream for Input {
    fn async_stream(&self) -> Box<dyn AsyncRead + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Standard output or error: everything the program wrote, and how far the
/// test has read.
#[derive(Clone)]
pub(super) struct Output(Arc<OutputShared>);

struct OutputShared {
    state: Mutex<OutputState>,
    changed: Notify,
    limit: usize,
}

struct OutputState {
    buf: Vec<u8>,
    /// How much of `buf` the test's steps have consumed.
    read: usize,
    /// The program ended: nothing more will come.
    closed: bool,
}

/// Why a read did not get its bytes.
#[derive(Debug)]
pub(super) enum ReadEnd {
    /// The program ended first; what it wrote after the last read.
    Closed(Vec<u8>),
    /// The test's time limit passed.
    Deadline,
}

impl Output {
    pub(super) fn new(limit: usize) -> Output {
        Output(Arc::new(OutputShared {
            state: Mutex::new(OutputState { buf: Vec::new(), read: 0, closed: false }),
            changed: Notify::new(),
            limit,
        }))
    }

    /// Nothing more will be written (the program ended).
    pub(super) fn close(&self) {
        lock(&self.0.state).closed = true;
        self.0.changed.notify_waiters();
    }

    /// Everything not read yet; it counts as read.
    pub(super) fn rest(&self) -> Vec<u8> {
        let mut s = lock(&self.0.state);
        let rest = s.buf[s.read..].to_vec();
        s.read = s.buf.len();
        rest
    }

    /// The last `n` bytes written, read or not (for failure messages).
    pub(super) fn tail(&self, n: usize) -> String {
        let s = lock(&self.0.state);
        String::from_utf8_lossy(&s.buf[s.buf.len().saturating_sub(n)..]).into_owned()
    }

    /// Waits until `want(unread)` says how much to take, then takes it.
    async fn take_when(&self, deadline: Instant, want: impl Fn(&[u8]) -> Option<usize>) -> Result<Vec<u8>, ReadEnd> {
        loop {
            let changed = self.0.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut s = lock(&self.0.state);
                let unread = &s.buf[s.read..];
                if let Some(n) = want(unread) {
                    let taken = unread[..n].to_vec();
                    s.read += n;
                    return Ok(taken);
                }
                if s.closed {
                    return Err(ReadEnd::Closed(unread.to_vec()));
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(ReadEnd::Deadline);
            }
        }
    }

    /// Exactly `n` bytes, as soon as they are there.
    pub(super) async fn read_exact(&self, n: usize, deadline: Instant) -> Result<Vec<u8>, ReadEnd> {
        self.take_when(deadline, |unread| (unread.len() >= n).then_some(n)).await
    }

    /// What the program writes first, for the test to connect to: a line
    /// (without its end), or, when no line end follows within a moment, what
    /// has come (at most `max` bytes), as wasmtime's test takes one read of
    /// the program's stdout.
    pub(super) async fn read_address(&self, max: usize, deadline: Instant) -> Result<Vec<u8>, ReadEnd> {
        self.take_when(deadline, |unread| (!unread.is_empty()).then_some(0)).await?;
        let settle = deadline.min(Instant::now() + std::time::Duration::from_millis(200));
        let line = |unread: &[u8]| match unread.iter().position(|b| *b == b'\n') {
            Some(i) => Some(i + 1),
            None if unread.len() >= max => Some(max),
            None => None,
        };
        let mut got = match self.take_when(settle, line).await {
            Ok(l) => l,
            Err(ReadEnd::Closed(_) | ReadEnd::Deadline) => {
                let mut rest = self.rest();
                rest.truncate(max);
                rest
            }
        };
        while got.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            got.pop();
        }
        Ok(got)
    }
}

impl AsyncWrite for Output {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
        let mut s = lock(&self.0.state);
        if s.buf.len() + bytes.len() > self.0.limit {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "the test's output limit of {} bytes per stream is reached",
                self.0.limit
            ))));
        }
        s.buf.extend_from_slice(bytes);
        drop(s);
        self.0.changed.notify_waiters();
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for Output {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Output {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}
