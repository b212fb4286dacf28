//! An async receiver on tokio's reactor (feature `tokio`).
//!
//! [`AsyncReceiver`] registers a [`Receiver`]'s eventfd with the tokio
//! runtime it is created in ([`AsyncFd`]) and waits for it there instead of
//! blocking a thread: [`wait`](AsyncReceiver::wait) for anything pending
//! (signals, events, gaps, the close), [`recv`](AsyncReceiver::recv) and the
//! [`Stream`] impl for events and gap markers alone. Producers stay plain:
//! a [`Sender`](crate::Sender) or [`Raiser`](crate::Raiser) on any OS thread
//! or task wakes the task, and still makes no syscall while it is awake.
//!
//! # Why no wake-up is lost
//!
//! Tokio registers the eventfd edge-triggered and caches its readiness: a
//! readiness that is set may be stale (its write was for something already
//! taken), and a cleared one turns back only on a new eventfd write. A
//! producer writes the eventfd only for a receiver that has *parked*, and a
//! receiver whose fd was handed out (here: at registration) parks on every
//! empty check (see [`Receiver::try_recv`]). Every poll therefore does:
//!
//! 1. **Check first.** Something may be pending that rang no bell, or whose
//!    edge tokio never saw: it came while the receiver was awake (producers
//!    write only for a parked receiver), or a check read the eventfd before
//!    the reactor collected the write's edge. An empty check
//!    (`try_recv` returning `Empty`, `Receiver::wait` with a zero timeout
//!    returning `false`) parks the receiver and re-checks, so anything
//!    published from then on rings the eventfd, and tokio sees an edge.
//! 2. **Await readiness**, then check again while holding the readiness guard.
//! 3. **Clear readiness only if that check found nothing.** Tokio clears it
//!    only if no new edge came since the guard was taken (readiness carries a
//!    tick), so a write racing with the check is never cleared away; the
//!    check has parked the receiver again, so the next publication rings.
//!
//! Both waits take part in tokio's cooperative budget: a task that keeps
//! finding something pending still yields to the scheduler now and then.
//!
//! # Signals and the stream
//!
//! [`recv`](AsyncReceiver::recv) and the [`Stream`] see events and gaps only.
//! Their empty check parks the receiver for events, gaps and the close only,
//! so a signal left pending does not keep waking them; a signal raised while
//! they wait wakes the task once (a raise rings only when it makes its signal
//! pending), and they go back to sleep. On a channel whose producers raise
//! signals, use [`wait`](AsyncReceiver::wait) (which returns for them) and
//! take them ([`take_signals`](AsyncReceiver::take_signals)) each time.
//!
//! # Blocked signals
//!
//! [`block`](AsyncReceiver::block) and [`unblock`](AsyncReceiver::unblock)
//! are the receiver's mask. A raise of a blocked signal rings nothing, and
//! the checks of every poll ignore blocked signals, so it neither ends a
//! [`wait`](AsyncReceiver::wait) nor keeps one awake. Unblocking takes
//! `&mut self`: no wait of this receiver is running then, and the next one
//! checks first, so it returns at once for a pending signal that was just
//! unblocked. A hand-written future that unblocks between two polls is
//! covered too: the last poll left the receiver parked, and an unblock of a
//! parked receiver re-checks and makes the fd readable for what it made
//! visible, which wakes the waker that poll kept.
//!
//! ```
//! use eventsig::{tokio::AsyncReceiver, Delivery, Signal};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let vm_stopped = Signal::new(3)?;
//! let (mut tx, rx) = eventsig::channel::<u32>(64)?;
//! let mut rx = AsyncReceiver::new(rx)?;
//!
//! std::thread::spawn(move || {
//!     for i in 0..10 {
//!         let _ = tx.send(i);
//!     }
//!     let _ = tx.raise(vm_stopped);
//! }); // dropping `tx` closes the channel
//!
//! let (mut events, mut stopped) = (0, false);
//! loop {
//!     rx.wait().await?;
//!     let closed = rx.is_closed(); // before taking: nothing can come after it
//!     stopped |= rx.take_signals().contains(vm_stopped);
//!     events += rx.drain().filter(|d| matches!(d, Delivery::Event(_))).count();
//!     if closed {
//!         break;
//!     }
//! }
//! assert_eq!((events, stopped), (10, true));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;
use ::tokio::task::coop;
use futures_core::Stream;

use crate::{Delivery, Drain, Overflow, Receiver, SignalCounts, SignalSet, Stats, TryRecvError};

/// A [`Receiver`] whose waits are futures on tokio's reactor, and a
/// [`Stream`] of its deliveries. `Send` (for a `T: Send`), not `Sync`, like
/// the receiver. Wrapping the receiver changes only how the task waits: the
/// other methods are the receiver's.
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<eventsig::tokio::AsyncReceiver<u32>>();
/// ```
///
/// ```
/// use eventsig::{tokio::AsyncReceiver, Delivery};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (mut tx, rx) = eventsig::channel::<&str>(8)?;
/// let mut rx = AsyncReceiver::new(rx)?;
/// std::thread::spawn(move || tx.send("vnc client connected"));
/// assert_eq!(rx.recv().await, Some(Delivery::Event("vnc client connected")));
/// assert_eq!(rx.recv().await, None); // the sender is gone and all was delivered
/// # Ok(())
/// # }
/// ```
pub struct AsyncReceiver<T> {
    // Never hand out `&mut Receiver<T>`: swapping the receiver out would
    // break the registration's contract (see `new`).
    fd: AsyncFd<Receiver<T>>,
}

// The receiver is never pinned through an `AsyncReceiver` (nothing here is
// structurally pinned), so moving it after a poll is fine for any `T`.
impl<T> Unpin for AsyncReceiver<T> {}

impl<T> AsyncReceiver<T> {
    /// Registers `receiver`'s eventfd with the current tokio runtime's reactor
    /// (read interest only). This hands out the fd, so the receiver parks on
    /// every empty check from now on (see the [`Receiver`] docs).
    ///
    /// # Errors
    ///
    /// The `epoll_ctl(2)` error (e.g. `ENOSPC`, `ENOMEM`); the receiver is
    /// dropped then, which closes the channel for its producers.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one built without I/O
    /// (`enable_io`/`enable_all`), as [`AsyncFd`] does.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (_tx, rx) = eventsig::channel::<u32>(8)?;
    /// let rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// assert_eq!(rx.capacity(), 8);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(receiver: Receiver<T>) -> io::Result<Self> {
        // SAFETY: `Receiver::as_raw_fd` returns the eventfd of the channel's
        // doorbell, fixed when the channel was made and owned (through an
        // `Arc`) by the receiver, so it stays open and the same for as long
        // as the `AsyncFd` owns the receiver. The receiver cannot be swapped
        // for another one meanwhile: this type never hands out a
        // `&mut Receiver<T>`, and `into_inner` deregisters before giving it
        // back.
        let fd = unsafe { AsyncFd::register_with_interest(receiver, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(AsyncReceiver { fd })
    }

    /// Waits until a signal, an event, a gap or the close is pending. Returns
    /// at once if something is pending now, and every time once the channel
    /// is closed: check [`is_closed`](AsyncReceiver::is_closed) before taking
    /// and draining, and stop after a round that began closed.
    ///
    /// Cancel-safe: it takes nothing, so dropping the future loses nothing.
    ///
    /// # Errors
    ///
    /// The reactor's error once the runtime that the receiver was registered
    /// with has shut down.
    ///
    /// ```
    /// use eventsig::Signal;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let vm_stopped = Signal::new(3)?;
    /// let (tx, rx) = eventsig::channel::<()>(8)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// let raiser = tx.raiser();
    /// std::thread::spawn(move || raiser.raise(vm_stopped));
    /// rx.wait().await?; // a signal alone is enough
    /// assert!(rx.take_signals().contains(vm_stopped));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    /// The poll form of [`wait`](AsyncReceiver::wait), for hand-written
    /// futures. On `Pending`, the waker of `cx` is woken when something
    /// becomes pending (only the most recent poll's waker is kept).
    ///
    /// # Errors
    ///
    /// As [`wait`](AsyncReceiver::wait).
    ///
    /// ```
    /// use std::task::Poll;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = eventsig::channel::<u32>(8)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// std::future::poll_fn(|cx| {
    ///     assert!(rx.poll_wait(cx).is_pending()); // nothing yet: the waker is kept
    ///     Poll::Ready(())
    /// })
    /// .await;
    /// tx.send(1).unwrap();
    /// std::future::poll_fn(|cx| rx.poll_wait(cx)).await?;
    /// assert_eq!(rx.try_recv(), Ok(eventsig::Delivery::Event(1)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A task that keeps finding something pending still yields to the
        // scheduler once its budget is spent (the budget is given back on
        // `Pending`).
        let budget = ready!(coop::poll_proceed(cx));
        // 1. Check first: what came while we were awake rang no bell.
        if pending_or_park(self.fd.get_mut()) {
            budget.made_progress();
            return Poll::Ready(Ok(()));
        }
        loop {
            // 2. The check parked the receiver: the next publication rings.
            let mut guard = ready!(self.fd.poll_read_ready_mut(cx))?;
            if pending_or_park(guard.get_inner_mut()) {
                budget.made_progress();
                return Poll::Ready(Ok(()));
            }
            // 3. Found nothing (and parked again): only now drop the
            // readiness, unless a newer edge came meanwhile.
            guard.clear_ready();
        }
    }

    /// The next event or gap marker; `None` once every producer is gone and
    /// everything was delivered. Signals do not end the wait (see the
    /// [module docs](crate::tokio#signals-and-the-stream)).
    ///
    /// Cancel-safe: a delivery is taken only by the poll that returns it.
    ///
    /// # Panics
    ///
    /// If the runtime that the receiver was registered with has shut down
    /// (there is no reactor left to wait on); [`wait`](AsyncReceiver::wait)
    /// reports that as an error instead.
    ///
    /// ```
    /// use eventsig::Delivery;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = eventsig::channel::<u32>(2)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// std::thread::spawn(move || {
    ///     for i in 0..4 {
    ///         let _ = tx.send(i); // Err(Full) while the task lags 2 behind
    ///     }
    /// });
    /// let mut got = Vec::new();
    /// while let Some(d) = rx.recv().await {
    ///     got.push(d);
    /// }
    /// // In order; a gap (if the task lagged) stands where the drops were.
    /// assert_eq!(got.first(), Some(&Delivery::Event(0)));
    /// assert!(matches!(got.last(), Some(Delivery::Event(3) | Delivery::Lost { .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<Delivery<T>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](AsyncReceiver::recv), for hand-written
    /// futures; the [`Stream`] impl uses it.
    ///
    /// # Panics
    ///
    /// As [`recv`](AsyncReceiver::recv).
    ///
    /// ```
    /// use std::task::Poll;
    /// use eventsig::Delivery;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = eventsig::channel::<u32>(8)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// tx.send(7).unwrap();
    /// let d = std::future::poll_fn(|cx| rx.poll_recv(cx)).await;
    /// assert_eq!(d, Some(Delivery::Event(7)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery<T>>> {
        // The same steps as `poll_wait`; an empty `try_recv` parks.
        let budget = ready!(coop::poll_proceed(cx));
        if let Some(r) = delivery_or_park(self.fd.get_mut()) {
            budget.made_progress();
            return Poll::Ready(r);
        }
        loop {
            let mut guard = match self.fd.poll_read_ready_mut(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(guard)) => guard,
                Poll::Ready(Err(e)) => {
                    panic!("eventsig: cannot wait for the receiver's eventfd: {e}")
                }
            };
            if let Some(r) = delivery_or_park(guard.get_inner_mut()) {
                budget.made_progress();
                return Poll::Ready(r);
            }
            guard.clear_ready();
        }
    }

    /// The next event or gap marker if one is pending now, as
    /// [`Receiver::try_recv`].
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] (the receiver parks: a later await is woken
    /// for what comes next), [`TryRecvError::Closed`].
    ///
    /// ```
    /// use eventsig::TryRecvError;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (_tx, rx) = eventsig::channel::<u32>(8)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_recv(&mut self) -> Result<Delivery<T>, TryRecvError> {
        self.fd.get_mut().try_recv()
    }

    /// The events and gap markers pending now, in order, as
    /// [`Receiver::drain`]; its end parks the receiver.
    ///
    /// ```
    /// use eventsig::Delivery;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = eventsig::channel::<u32>(2)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// for i in 0..5 {
    ///     let _ = tx.send(i);
    /// }
    /// rx.wait().await?;
    /// let got: Vec<_> = rx.drain().collect();
    /// assert_eq!(got, [Delivery::Event(0), Delivery::Event(1), Delivery::Lost { first: 2, count: 3 }]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn drain(&mut self) -> Drain<'_, T> {
        self.fd.get_mut().drain()
    }

    /// Takes every pending signal at once, as [`Receiver::take_signals`].
    ///
    /// ```
    /// use eventsig::Signal;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let s = Signal::new(9)?;
    /// let (tx, rx) = eventsig::channel::<()>(1)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// tx.raise(s)?;
    /// tx.raise(s)?;
    /// assert_eq!(rx.take_signals().len(), 1); // merged
    /// assert!(rx.take_signals().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_signals(&mut self) -> SignalSet {
        self.fd.get_mut().take_signals()
    }

    /// Takes every pending signal, as
    /// [`take_signals`](AsyncReceiver::take_signals), and writes the latest
    /// value of each signal taken into `values` (entry `n` for signal `n`),
    /// as [`Receiver::take_signals_with`]: the value of the last
    /// [`raise_with`](crate::Raiser::raise_with), or `None` if the signal
    /// was never raised with a value; entries of signals not taken are left
    /// as they are.
    ///
    /// ```
    /// use eventsig::Signal;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let balloon = Signal::new(4)?;
    /// let (tx, rx) = eventsig::channel::<()>(1)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// let raiser = tx.raiser();
    /// std::thread::spawn(move || {
    ///     raiser.raise_with(balloon, 768)?;
    ///     raiser.raise_with(balloon, 512) // merges; the last value wins
    /// })
    /// .join()
    /// .unwrap()?;
    /// rx.wait().await?;
    /// let mut values = [None; 64];
    /// assert!(rx.take_signals_with(&mut values).contains(balloon));
    /// assert_eq!(values[4], Some(512));
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_signals_with(&mut self, values: &mut [Option<u64>; 64]) -> SignalSet {
        self.fd.get_mut().take_signals_with(values)
    }

    /// Takes every pending signal with the number of raises each stands for,
    /// as [`Receiver::take_signals_counted`]: counted on a channel built with
    /// [`Builder::overrun_counts`](crate::Builder::overrun_counts), 1 for
    /// each signal taken on another.
    ///
    /// ```
    /// use eventsig::Signal;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let tick = Signal::new(1)?;
    /// let (tx, rx) = eventsig::builder().overrun_counts(true).build::<()>()?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// for _ in 0..5 {
    ///     tx.raise(tick)?; // a timer firing while the task is busy
    /// }
    /// rx.wait().await?;
    /// let taken = rx.take_signals_counted();
    /// assert_eq!((taken.count(tick), taken.overruns(tick)), (5, 4));
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_signals_counted(&mut self) -> SignalCounts {
        self.fd.get_mut().take_signals_counted()
    }

    /// Blocks the signals in `set`, as [`Receiver::block`]
    /// (`sigprocmask(SIG_BLOCK)`): raised while blocked they stay pending but
    /// neither end [`wait`](AsyncReceiver::wait) nor wake the task, and the
    /// takes leave them out until they are
    /// [unblocked](AsyncReceiver::unblock). Events, gaps and the close are
    /// not affected.
    ///
    /// ```
    /// use std::time::Duration;
    /// use eventsig::{Signal, SignalSet};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let tick = Signal::new(1)?;
    /// let (tx, rx) = eventsig::channel::<()>(1)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// rx.block(SignalSet::from(tick));
    /// tx.raise(tick)?;
    /// // Blocked: the wait does not return for it.
    /// let waited = tokio::time::timeout(Duration::from_millis(10), rx.wait()).await;
    /// assert!(waited.is_err());
    /// assert!(rx.take_signals().is_empty()); // still pending, not reported
    /// # Ok(())
    /// # }
    /// ```
    pub fn block(&mut self, set: SignalSet) {
        self.fd.get_mut().block(set);
    }

    /// Unblocks the signals in `set`, as [`Receiver::unblock`]
    /// (`sigprocmask(SIG_UNBLOCK)`). Those pending become visible at once:
    /// the next [`wait`](AsyncReceiver::wait) returns for them without
    /// waiting. (It takes `&mut self`, so no wait of this receiver is in
    /// progress meanwhile; the next one checks before it sleeps.)
    ///
    /// ```
    /// use eventsig::{Signal, SignalSet};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let tick = Signal::new(1)?;
    /// let (tx, rx) = eventsig::channel::<()>(1)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// rx.block(SignalSet::from(tick));
    /// tx.raise(tick)?;
    /// rx.unblock(SignalSet::ALL);
    /// rx.wait().await?; // returns at once: the signal is pending and visible
    /// assert_eq!(rx.take_signals(), SignalSet::from(tick));
    /// # Ok(())
    /// # }
    /// ```
    pub fn unblock(&mut self, set: SignalSet) {
        self.fd.get_mut().unblock(set);
    }

    /// The blocked signals, as [`Receiver::blocked`].
    ///
    /// ```
    /// use eventsig::{Signal, SignalSet};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (_tx, rx) = eventsig::channel::<()>(1)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// assert!(rx.blocked().is_empty());
    /// rx.block(SignalSet::from_bits(0b110));
    /// rx.unblock(SignalSet::from(Signal::new(1)?));
    /// assert_eq!(rx.blocked(), SignalSet::from(Signal::new(2)?));
    /// # Ok(())
    /// # }
    /// ```
    pub fn blocked(&self) -> SignalSet {
        self.fd.get_ref().blocked()
    }

    /// The signals pending now, without taking them, as
    /// [`Receiver::pending_signals`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = eventsig::channel::<()>(1)?;
    /// let rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// tx.raise(eventsig::Signal::new(9)?)?;
    /// assert_eq!(rx.pending_signals().len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pending_signals(&self) -> SignalSet {
        self.fd.get_ref().pending_signals()
    }

    /// Whether events were dropped that have not been acknowledged, as
    /// [`Receiver::overflow`]: sticky until acknowledged.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = eventsig::channel::<u8>(1)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// tx.send(0)?;
    /// let _ = tx.send(1); // dropped
    /// rx.drain().for_each(drop);
    /// assert_eq!(rx.overflow().map(|o| o.lost()), Some(1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn overflow(&self) -> Option<Overflow> {
        self.fd.get_ref().overflow()
    }

    /// Clears the overflow condition for the drops `overflow` stands for, as
    /// [`Receiver::acknowledge`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = eventsig::channel::<u8>(1)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// tx.send(0)?;
    /// let _ = tx.send(1);
    /// if let Some(ov) = rx.overflow() {
    ///     // Re-poll all state here, then:
    ///     rx.acknowledge(ov);
    /// }
    /// assert!(rx.overflow().is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn acknowledge(&mut self, overflow: Overflow) {
        self.fd.get_mut().acknowledge(overflow);
    }

    /// Whether every producer handle is gone, as [`Receiver::is_closed`].
    /// What they sent and raised can still be taken.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = eventsig::channel::<()>(1)?;
    /// let rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.fd.get_ref().is_closed()
    }

    /// The ring's capacity.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (_tx, rx) = eventsig::channel::<()>(3)?;
    /// assert_eq!(eventsig::tokio::AsyncReceiver::new(rx)?.capacity(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn capacity(&self) -> usize {
        self.fd.get_ref().capacity()
    }

    /// The channel's counters, as [`Receiver::stats`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = eventsig::channel(1)?;
    /// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// tx.send(())?;
    /// rx.recv().await;
    /// assert_eq!((rx.stats().sent, rx.stats().delivered), (1, 1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn stats(&self) -> Stats {
        self.fd.get_ref().stats()
    }

    /// The receiver, for its other read-only methods.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (_tx, rx) = eventsig::channel::<()>(1)?;
    /// let rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// assert!(rx.get_ref().overflow().is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_ref(&self) -> &Receiver<T> {
        self.fd.get_ref()
    }

    /// Deregisters the eventfd from the reactor and gives the receiver back,
    /// with everything still pending in it. The fd stays handed out: the
    /// receiver keeps parking on empty checks, so it can be registered
    /// again, with tokio or with epoll.
    ///
    /// ```
    /// use eventsig::Delivery;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = eventsig::channel::<u32>(4)?;
    /// let rx = eventsig::tokio::AsyncReceiver::new(rx)?;
    /// tx.send(1)?;
    /// let mut rx = rx.into_inner();
    /// assert_eq!(rx.try_recv(), Ok(Delivery::Event(1)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_inner(self) -> Receiver<T> {
        self.fd.into_inner()
    }
}

/// An empty check of everything (signals, ring, gap, close) that parks the
/// receiver when it finds nothing: `Receiver::wait` with a zero timeout
/// neither spins nor sleeps, and parks an exposed receiver when it returns
/// `false` (see the channel module docs).
fn pending_or_park<T>(rx: &mut Receiver<T>) -> bool {
    // A zero-timeout wait makes no `poll(2)` or `read(2)` that could fail;
    // treat an error as "look again", which the caller does at once.
    rx.wait(Some(Duration::ZERO)).unwrap_or(true)
}

/// `try_recv`, with `Empty` (which parks the exposed receiver for events,
/// gaps and the close, not for signals) as `None`.
fn delivery_or_park<T>(rx: &mut Receiver<T>) -> Option<Option<Delivery<T>>> {
    match rx.try_recv_events() {
        Ok(d) => Some(Some(d)),
        Err(TryRecvError::Closed) => Some(None),
        Err(TryRecvError::Empty) => None,
    }
}

/// Events and gap markers in order, ending once the channel is closed and
/// drained: [`recv`](AsyncReceiver::recv) as a stream, for combinators such
/// as `futures::StreamExt` or `tokio_stream::StreamExt`.
///
/// ```
/// use std::pin::Pin;
/// use eventsig::Delivery;
/// use futures_core::Stream;
///
/// async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
///     std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (mut tx, rx) = eventsig::channel::<u32>(8)?;
/// let mut rx = eventsig::tokio::AsyncReceiver::new(rx)?;
/// tx.send(1)?;
/// drop(tx);
/// assert_eq!(next(&mut rx).await, Some(Delivery::Event(1)));
/// assert_eq!(next(&mut rx).await, None);
/// # Ok(())
/// # }
/// ```
impl<T> Stream for AsyncReceiver<T> {
    type Item = Delivery<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery<T>>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> fmt::Debug for AsyncReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncReceiver")
            .field("receiver", self.fd.get_ref())
            .finish()
    }
}
