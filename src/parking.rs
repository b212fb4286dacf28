//! The receiver's side of the wake-up protocol, shared by the channel's
//! [`Receiver`](crate::Receiver) and the hub's receiver: when it parks, when
//! it arms for an epoll caller, when it keeps its fd readable, and which
//! eventfd writes it still has to read. The producer's side, and the
//! argument that no wake-up is lost, are in `doorbell.rs`.
//!
//! The state is in `Cell`s because handing out the fd (`as_fd`, through
//! `&self`) parks the receiver; the receivers are not `Sync`.

use std::cell::Cell;
use std::io;
use std::time::{Duration, Instant};

use crate::doorbell::Doorbell;

pub(crate) struct Parking {
    /// The park flag may be set, or the eventfd may hold a write meant for
    /// us: unpark (and clear the eventfd) before the next delivery.
    armed: Cell<bool>,
    /// The fd was handed out: park where an epoll caller goes to sleep.
    exposed: Cell<bool>,
    /// eventfd writes made for us (or claimed, and so on their way) that no
    /// read has consumed yet: the next park or wake reads the fd while this
    /// is not zero, so a level-triggered epoll caller is never left with a
    /// stale readable fd (which would wake it over and over).
    unread: Cell<u64>,
    /// The close was rung on the fd, which stays readable from then on.
    closed_rung: Cell<bool>,
    /// Writes the receiver made to its own fd (`Stats::self_rings`).
    self_rings: Cell<u64>,
    /// Times the receiver parked (`Stats::parks`).
    parks: Cell<u64>,
}

impl Parking {
    pub(crate) fn new() -> Parking {
        Parking {
            armed: Cell::new(false),
            exposed: Cell::new(false),
            unread: Cell::new(0),
            closed_rung: Cell::new(false),
            self_rings: Cell::new(0),
            parks: Cell::new(0),
        }
    }

    /// Whether the park flag may be set (see `armed`).
    pub(crate) fn armed(&self) -> bool {
        self.armed.get()
    }

    /// Whether the fd was handed out.
    pub(crate) fn exposed(&self) -> bool {
        self.exposed.get()
    }

    pub(crate) fn parks(&self) -> u64 {
        self.parks.get()
    }

    pub(crate) fn self_rings(&self) -> u64 {
        self.self_rings.get()
    }

    /// Announces that the receiver may sleep. The caller must re-check every
    /// source afterwards and sleep only if all are empty.
    pub(crate) fn park(&self, bell: &Doorbell) {
        // Earlier writes must not wake us: the fd is to become readable only
        // for what is published after the park.
        self.settle(bell);
        self.parks.set(self.parks.get() + 1);
        self.armed.set(true);
        bell.park();
    }

    /// Parks for an epoll caller about to sleep on the fd; if `pending()`
    /// (checked after the park's barrier) finds something, makes the fd
    /// readable so it comes back. Returns what `pending()` said.
    pub(crate) fn arm(
        &self,
        bell: &Doorbell,
        pending: impl FnOnce() -> bool,
        closed: impl FnOnce() -> bool,
    ) -> bool {
        self.park(bell);
        if !pending() {
            return false;
        }
        // After the close, ring once: the fd is never cleared again.
        if closed() && self.closed_rung.replace(true) {
            return true;
        }
        bell.ring_self();
        true
    }

    /// The end of a drain that yielded something, fd handed out: the caller
    /// is busy and will drain again; make sure it does, even if it sleeps in
    /// epoll first (level- or edge-triggered), without parking.
    pub(crate) fn keep_readable(&self, bell: &Doorbell) {
        bell.notify_self();
        self.unread.set(self.unread.get() + 1);
        self.self_rings.set(self.self_rings.get() + 1);
    }

    /// Marks the fd as handed out; returns `true` the first time, when the
    /// caller must arm at once (an epoll caller may sleep straight after
    /// registering).
    pub(crate) fn expose(&self) -> bool {
        !self.exposed.replace(true)
    }

    /// Leaves the parked state: withdraws the flag and, if an eventfd write
    /// was made for us, clears it before any delivery, so that the fd is
    /// readable only for what comes later. After the close the fd stays
    /// readable.
    #[inline]
    pub(crate) fn wake(&self, bell: &Doorbell) {
        if self.armed.get() {
            self.unpark_and_settle(bell);
        }
    }

    #[cold]
    fn unpark_and_settle(&self, bell: &Doorbell) {
        self.armed.set(false);
        if bell.unpark() {
            // One write per claim, made (`ring_self`) or on its way.
            self.unread.set(self.unread.get() + 1);
        }
        self.settle(bell);
    }

    /// Reads the eventfd if writes made for us are unread. A claimed write
    /// may land just after the read: it stays counted in `unread`, and the
    /// next park or wake reads it. After the close the fd stays readable, and
    /// is never read again.
    fn settle(&self, bell: &Doorbell) {
        if self.unread.get() == 0 || self.closed_rung.get() {
            return;
        }
        let count = bell.clear();
        self.unread.set(self.unread.get().saturating_sub(count));
    }
}

impl std::fmt::Debug for Parking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parking")
            .field("armed", &self.armed.get())
            .field("exposed", &self.exposed.get())
            .field("unread", &self.unread.get())
            .finish_non_exhaustive()
    }
}

/// A receiver over a [`Parking`] and a doorbell: the channel's and the hub's
/// implement the required methods over their own sources, and share the
/// rest of the receiver's side of the wake-up protocol, and [`wait`].
pub(crate) trait Waiter {
    fn parking(&self) -> &Parking;
    fn doorbell(&self) -> &Doorbell;
    /// Whether anything is pending: the re-check after a park.
    fn pending(&self) -> bool;
    /// Whether every producer is gone.
    fn closed(&self) -> bool;
    /// Whether `wait` spins briefly before it parks.
    fn spins(&self) -> bool;
    /// The re-check after a park found nothing (the hub clears its
    /// suspects: nothing was published before the park's heavy barrier).
    fn found_nothing_after_park(&mut self) {}
    /// `wait` gives up: an epoll caller may sleep on the fd now, so park
    /// for it as an empty `try_recv` would. Returns `false`.
    fn give_up(&mut self) -> bool;

    /// Announces a sleep; see [`Parking::park`].
    fn park(&self) {
        self.parking().park(self.doorbell());
    }

    /// Parks for an epoll caller about to sleep on the fd; if something is
    /// pending after all, makes the fd readable so it comes back. Returns
    /// whether something was pending.
    fn arm(&self) -> bool {
        self.parking()
            .arm(self.doorbell(), || self.pending(), || self.closed())
    }

    /// See [`Parking::keep_readable`].
    fn keep_readable(&self) {
        self.parking().keep_readable(self.doorbell());
    }

    /// Marks the fd as handed out; the first time, parks right away, so an
    /// epoll caller that sleeps straight after registering is woken.
    fn expose(&self) {
        if self.parking().expose() {
            self.arm();
        }
    }

    /// See [`Parking::wake`].
    #[inline]
    fn wake(&self) {
        self.parking().wake(self.doorbell());
    }

    /// Blocks on the eventfd for at most `timeout`.
    fn sleep(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.doorbell().eventfd().wait(timeout).map(drop)
    }
}

/// The receivers' `wait`: a bounded spin (if on), then park, re-check and
/// sleep on the eventfd until something is pending or `timeout` passes.
pub(crate) fn wait(rx: &mut impl Waiter, timeout: Option<Duration>) -> io::Result<bool> {
    rx.wake();
    if rx.pending() {
        return Ok(true);
    }
    if timeout == Some(Duration::ZERO) {
        return Ok(rx.give_up());
    }
    if rx.spins() && spin_until_pending(rx) {
        return Ok(true);
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        rx.park();
        if rx.pending() {
            rx.wake();
            return Ok(true);
        }
        rx.found_nothing_after_park();
        let remaining = match deadline {
            None => None,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(r) if !r.is_zero() => Some(r),
                _ => {
                    rx.wake();
                    return Ok(rx.give_up());
                }
            },
        };
        let slept = rx.sleep(remaining);
        rx.wake();
        slept?;
        if rx.pending() {
            return Ok(true);
        }
    }
}

/// The spin phase of `wait`: a bounded backoff (doubling busy-wait hints,
/// then a few yields) that returns as soon as something is pending.
fn spin_until_pending(rx: &impl Waiter) -> bool {
    const SPIN_ROUNDS: u32 = 7; // 1 + 2 + ... + 64 busy-wait hints
    const YIELD_ROUNDS: u32 = 4;
    for round in 0..SPIN_ROUNDS + YIELD_ROUNDS {
        if round < SPIN_ROUNDS {
            for _ in 0..1u32 << round {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
        if rx.pending() {
            return true;
        }
    }
    false
}

/// The fd hand-out of a receiver type with a `parking: Parking`, an
/// `expose(&self)` that parks on the first hand-out, and its doorbell at
/// `self.$shared.doorbell`: `AsFd`, `AsRawFd` and mio's `Source` (which all
/// expose first), and under loom, where there is no fd, `loom_expose` and
/// `loom_sleep_on_fd` in their place. `$doc` documents the `AsFd` impl.
macro_rules! fd_source {
    ($receiver:ident, $shared:ident, $(#[doc = $doc:expr])*) => {
        /// The epoll path for the loom models, where there is no fd to hand out.
        #[cfg(eventsig_loom)]
        #[doc(hidden)]
        impl<T> $receiver<T> {
            /// What handing out the fd does (`as_fd`).
            pub fn loom_expose(&self) {
                self.expose();
            }

            /// A level-triggered `epoll_wait` on the fd: blocks until it is
            /// readable, consumes nothing.
            pub fn loom_sleep_on_fd(&self) {
                let _ = self.$shared.doorbell.eventfd().wait(None);
            }
        }

        #[cfg(not(eventsig_loom))]
        $(#[doc = $doc])*
        impl<T> std::os::fd::AsFd for $receiver<T> {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.expose();
                self.$shared.doorbell.eventfd().as_fd()
            }
        }

        #[cfg(not(eventsig_loom))]
        /// As [`AsFd`](std::os::fd::AsFd).
        impl<T> std::os::fd::AsRawFd for $receiver<T> {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.expose();
                self.$shared.doorbell.eventfd().as_raw_fd()
            }
        }

        #[cfg(all(feature = "mio", not(eventsig_loom)))]
        impl<T> mio::event::Source for $receiver<T> {
            fn register(
                &mut self,
                registry: &mio::Registry,
                token: mio::Token,
                interests: mio::Interest,
            ) -> std::io::Result<()> {
                use std::os::fd::AsRawFd;
                mio::unix::SourceFd(&self.as_raw_fd()).register(registry, token, interests)
            }

            fn reregister(
                &mut self,
                registry: &mio::Registry,
                token: mio::Token,
                interests: mio::Interest,
            ) -> std::io::Result<()> {
                use std::os::fd::AsRawFd;
                mio::unix::SourceFd(&self.as_raw_fd()).reregister(registry, token, interests)
            }

            fn deregister(&mut self, registry: &mio::Registry) -> std::io::Result<()> {
                use std::os::fd::AsRawFd;
                mio::unix::SourceFd(&self.as_raw_fd()).deregister(registry)
            }
        }
    };
}
pub(crate) use fd_source;
