//! The channel: signals, the event ring and the doorbell composed, with
//! closing and statistics. The wake-up protocol itself is in `doorbell.rs`.
//!
//! # When the receiver parks
//!
//! Producers write the eventfd only for a parked receiver. The receiver parks
//! (1) inside [`Receiver::wait`], and (2) once its fd has been handed out
//! ([`AsFd::as_fd`], [`AsRawFd::as_raw_fd`], mio `register`): at once, then
//! at the end of every [`Receiver::drain`] that yielded nothing, on every
//! [`Receiver::try_recv`] that returns `Empty`, and when `wait` returns
//! `false`: that is where an epoll caller goes to sleep. A receiver that only
//! busy-polls and never hands out its fd never parks, so its producers never
//! make a syscall. Taking signals never parks or unparks.
//!
//! A raise of a [blocked](Receiver::block) signal never rings (see
//! `mask.rs`); the park's re-check ignores blocked signals, and unblocking
//! parks again a receiver parked for an epoll caller.
//!
//! A drain of an exposed receiver that yielded something does not park: the
//! consumer is busy, and parking costs a heavy barrier and invites producers
//! to write. It writes the fd itself instead (one `write(2)` by the consumer,
//! none by producers), so an epoll caller that goes back to sleep after it
//! comes straight back for a drain that finds the channel empty, and parks
//! there. Under a flood the receiver so never parks and producers never write.

use std::fmt;
use std::io;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::barrier::Barrier;
use crate::classes::{Classifier, LostClasses};
use crate::doorbell::Doorbell;
use crate::error::{RaiseError, SendError, TryRecvError};
use crate::mask::BlockedMask;
use crate::overrun::{OverrunCounts, SignalCounts};
use crate::parking::{Parking, Waiter};
use crate::policy::{self, EventReceiver, EventSender, OverflowPolicy, Snapshot};
use crate::ring::{BuildError, Delivery};
use crate::signals::{PendingSignals, Signal, SignalSet};
use crate::stats::Stats;
use crate::sync::{Arc, AtomicBool, AtomicUsize, Bell, Ordering};
use crate::values::ValueSlots;

/// State shared by every handle of one channel (and of one hub: see `hub.rs`).
pub(crate) struct Shared {
    pub(crate) signals: CachePadded<PendingSignals>,
    /// The receiver's blocked signals, for raisers (see `mask.rs`).
    blocked: BlockedMask,
    /// The doorbell's barrier mode, for the raisers' look at the mask.
    barrier: Barrier,
    pub(crate) doorbell: Doorbell,
    /// Read on every send and raise, written once: kept apart from the
    /// counters below.
    pub(crate) receiver_alive: CachePadded<AtomicBool>,
    /// Live producer handles: the `Sender` and every `Raiser`.
    pub(crate) producers: AtomicUsize,
    /// The classes of refused events, on a classified channel.
    classes: Option<Box<LostClasses>>,
    /// Per-signal raise counters, on a channel that keeps overrun counts.
    counts: Option<Box<OverrunCounts>>,
    /// The latest value of each signal (see `values.rs`).
    values: ValueSlots,
}

impl Shared {
    /// The shared state of a hub (see `hub.rs`): no counts, no classes,
    /// nothing blocked; one producer handle (the hub's).
    pub(crate) fn for_hub(bell: Bell) -> Shared {
        let barrier = Barrier::detect();
        Shared {
            signals: CachePadded::new(PendingSignals::new()),
            blocked: BlockedMask::new(false),
            barrier,
            doorbell: Doorbell::new(bell, barrier),
            receiver_alive: CachePadded::new(AtomicBool::new(true)),
            producers: AtomicUsize::new(1),
            classes: None,
            counts: None,
            values: ValueSlots::new(),
        }
    }

    /// The receiver is gone: senders and raisers learn of it.
    pub(crate) fn mark_receiver_gone(&self) {
        // Relaxed: senders only need to learn of it eventually.
        self.receiver_alive.store(false, Ordering::Relaxed);
        // Raisers learn of it from the raise mode.
        self.blocked.close();
    }

    pub(crate) fn raise(&self, signal: Signal) -> Result<(), RaiseError> {
        // The raise mode also says whether the receiver is gone (a hint: a
        // raise racing with the receiver's drop may land in a channel nobody
        // reads, as with any channel); see `mask.rs`.
        let mode = self.blocked.mode();
        if mode == 0 {
            self.raise_plain(signal);
            Ok(())
        } else {
            self.raise_in_mode(signal, mode)
        }
    }

    /// `raise` carrying `value`: the value is stored first, then published
    /// by the raise (see `values.rs`).
    fn raise_with(&self, signal: Signal, value: u64) -> Result<(), RaiseError> {
        let mode = self.blocked.mode();
        if BlockedMask::closed(mode) {
            return Err(RaiseError::Closed);
        }
        self.values.store(signal, value);
        if mode == 0 {
            self.raise_plain(signal);
            Ok(())
        } else {
            self.raise_in_mode(signal, mode)
        }
    }

    /// The plain path of a raise: no counts kept, nothing blocked, receiver
    /// alive.
    #[inline(always)]
    fn raise_plain(&self, signal: Signal) {
        if self.signals.raise(signal) {
            self.doorbell.ring_if_parked();
        }
        // A raise that found its signal pending needs no wake-up check: the
        // raise that made it pending published it before its own check, so
        // either the receiver's re-check sees the bit or that raise rings.
    }

    /// `raise` on a channel that keeps counts, has signals blocked, or whose
    /// receiver is gone.
    #[inline(never)]
    fn raise_in_mode(&self, signal: Signal, mode: u64) -> Result<(), RaiseError> {
        if BlockedMask::closed(mode) {
            return Err(RaiseError::Closed);
        }
        if self.make_pending(signal) {
            self.blocked
                .ring_unless_blocked(mode, signal, self.barrier, &self.doorbell);
        }
        Ok(())
    }

    /// Makes `signal` pending, counting the raise if counts are kept;
    /// returns whether this raise set the pending bit.
    #[inline]
    fn make_pending(&self, signal: Signal) -> bool {
        if let Some(counts) = &self.counts {
            // Counted before the bit is set (see `overrun.rs`).
            counts.count(signal);
        }
        self.signals.raise(signal)
    }

    /// Takes the pending signals not in `blocked`; with counts kept, takes
    /// their counts too, as the protocol requires of every take, into
    /// `report` if given, adds the raises they stand for to `counted`
    /// (`Stats::coalesced`), and leaves out a signal whose raises an earlier
    /// take counted (see `overrun.rs`).
    #[inline]
    fn take(
        &self,
        blocked: SignalSet,
        report: Option<&mut SignalCounts>,
        counted: &mut u64,
    ) -> Taken {
        let taken = self.signals.take_unblocked(blocked);
        match &self.counts {
            None => {
                if let Some(report) = report {
                    for s in taken {
                        report.set(s, 1);
                    }
                }
                Taken {
                    reported: taken,
                    cleared: taken,
                }
            }
            Some(counts) => Self::take_counts(counts, taken, report, counted),
        }
    }

    /// `take` on a channel that keeps counts.
    #[inline(never)]
    fn take_counts(
        counts: &OverrunCounts,
        taken: SignalSet,
        mut report: Option<&mut SignalCounts>,
        counted: &mut u64,
    ) -> Taken {
        let mut reported = SignalSet::EMPTY;
        for s in taken {
            let n = counts.take(s);
            *counted = counted.saturating_add(n);
            if n > 0 {
                reported = reported.with(s);
                if let Some(report) = report.as_deref_mut() {
                    report.set(s, n);
                }
            }
        }
        Taken {
            reported,
            cleared: taken,
        }
    }

    pub(crate) fn release_producer(&self) {
        // Release: every send and raise of this handle happens before the
        // receiver's Acquire load that sees the count reach 0.
        if self.producers.fetch_sub(1, Ordering::Release) == 1 {
            self.doorbell.ring_if_parked();
        }
    }

    pub(crate) fn closed(&self) -> bool {
        // Acquire: pairs with the Release decrement in `release_producer`.
        self.producers.load(Ordering::Acquire) == 0
    }

    /// Sender side, on a classified channel: drop number `drop` was of
    /// `class`. Records it, then raises the class. The caller rings for the
    /// drop afterwards, which covers the raise too.
    fn record_loss(&self, classes: &LostClasses, drop: u64, class: Option<Signal>) {
        classes.record(drop, class);
        if let Some(class) = class {
            // Release (in `raise`): a receiver that takes the class also sees
            // the record above (`Receiver::overflow`).
            self.make_pending(class);
        }
    }
}

/// What one take of signals found (`Shared::take`).
struct Taken {
    /// The signals to report.
    reported: SignalSet,
    /// The pending bits cleared, each set by one raise (`Stats::raised`).
    cleared: SignalSet,
}

/// What a channel is built with besides its capacity, eventfd and spin:
/// the typed options of [`Builder`](crate::Builder).
pub(crate) struct Extras<T> {
    /// Runs on every refused event (see `classes.rs`).
    pub(crate) classify: Option<Classifier<T>>,
    /// Keep overrun counts (see `overrun.rs`).
    pub(crate) overrun_counts: bool,
    /// What a full ring does (see `policy.rs`).
    pub(crate) policy: OverflowPolicy,
}

impl<T> Default for Extras<T> {
    fn default() -> Extras<T> {
        Extras {
            classify: None,
            overrun_counts: false,
            policy: OverflowPolicy::DropNewest,
        }
    }
}

/// Creates a channel whose event ring holds exactly `capacity` events.
///
/// # Errors
///
/// [`BuildError::ZeroCapacity`], [`BuildError::CapacityTooLarge`], or
/// [`BuildError::Io`] when `eventfd(2)` fails (e.g. `EMFILE`).
///
/// ```
/// use eventsig::{Delivery, Signal};
/// let (mut tx, mut rx) = eventsig::channel::<&str>(8)?;
/// let vm_stopped = Signal::new(3).unwrap();
/// tx.send("vnc client connected").unwrap();
/// tx.raise(vm_stopped).unwrap();
/// assert!(rx.take_signals().contains(vm_stopped));
/// assert_eq!(rx.try_recv(), Ok(Delivery::Event("vnc client connected")));
/// # Ok::<(), eventsig::BuildError>(())
/// ```
pub fn channel<T>(capacity: usize) -> Result<(Sender<T>, Receiver<T>), BuildError> {
    build(
        capacity,
        None,
        cfg!(not(eventsig_loom)),
        OverflowPolicy::DropNewest,
    )
}

/// Builds a channel: the ring `policy` asks for, then the doorbell on `bell`
/// (a new eventfd if `None`). The options are [`Builder`](crate::Builder)'s.
pub(crate) fn build<T>(
    capacity: usize,
    bell: Option<Bell>,
    spin: bool,
    policy: OverflowPolicy,
) -> Result<(Sender<T>, Receiver<T>), BuildError> {
    build_with(
        capacity,
        bell,
        spin,
        Extras {
            policy,
            ..Extras::default()
        },
    )
}

/// [`build`] with the typed options.
pub(crate) fn build_with<T>(
    capacity: usize,
    bell: Option<Bell>,
    spin: bool,
    extras: Extras<T>,
) -> Result<(Sender<T>, Receiver<T>), BuildError> {
    let (producer, consumer) = policy::ring(capacity, extras.policy)?;
    let bell = match bell {
        Some(bell) => bell,
        None => Bell::new()?,
    };
    let barrier = Barrier::detect();
    let shared = Arc::new(Shared {
        signals: CachePadded::new(PendingSignals::new()),
        blocked: BlockedMask::new(extras.overrun_counts),
        barrier,
        doorbell: Doorbell::new(bell, barrier),
        receiver_alive: CachePadded::new(AtomicBool::new(true)),
        producers: AtomicUsize::new(1),
        classes: extras
            .classify
            .is_some()
            .then(|| Box::new(LostClasses::new())),
        counts: extras
            .overrun_counts
            .then(|| Box::new(OverrunCounts::new())),
        values: ValueSlots::new(),
    });
    let sender = Sender {
        ring: producer,
        shared: Arc::clone(&shared),
        classify: extras.classify,
    };
    let receiver = Receiver {
        ring: consumer,
        shared,
        parking: Parking::new(),
        signals_taken: 0,
        raises_counted: 0,
        blocked: SignalSet::EMPTY,
        acked_drops: 0,
        spin,
    };
    Ok((sender, receiver))
}

/// The one producer of events: `Send`, not `Sync`.
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<eventsig::Sender<u32>>();
/// ```
pub struct Sender<T> {
    ring: EventSender<T>,
    shared: Arc<Shared>,
    /// The classifier of a classified channel; runs on refused events only.
    classify: Option<Classifier<T>>,
}

impl<T> Sender<T> {
    /// Queues `value` as the next event. Never blocks, never allocates; makes
    /// a syscall only when the receiver is parked (one per sleep).
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] when the ring is full: the attempt is dropped,
    /// counted, and reported in the stream ([`Delivery::Lost`]) and by
    /// [`Receiver::overflow`]. On a classified channel
    /// ([`Builder::build_classified`](crate::Builder::build_classified)) the
    /// classifier runs on the refused value, here, and the class it names is
    /// raised and listed by [`Overflow::classes`]. [`SendError::Closed`] once
    /// the receiver is gone.
    /// With [`OverflowPolicy::DropOldest`] a full ring accepts the value and
    /// drops its oldest unread event instead (counted and reported the same
    /// way, but not classified): `send` then never returns `Full`.
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::channel(1)?;
    /// assert!(tx.send(1).is_ok());
    /// assert_eq!(tx.send(2).unwrap_err().into_inner(), 2);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    #[inline]
    pub fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        // Relaxed: a hint, as in `Shared::raise`.
        if !self.shared.receiver_alive.load(Ordering::Relaxed) {
            return Err(SendError::Closed(value));
        }
        match self.ring.push(value) {
            Ok(()) => {
                self.shared.doorbell.ring_if_parked();
                Ok(())
            }
            Err(value) => Err(self.refused(value)),
        }
    }

    /// `send` found the ring full: classify the value (on a classified
    /// channel), then ring for the new gap, which needs the receiver too.
    #[cold]
    fn refused(&mut self, value: T) -> SendError<T> {
        if let (Some(classify), Some(classes)) = (&self.classify, &self.shared.classes) {
            self.shared
                .record_loss(classes, self.ring.dropped(), classify(&value));
        }
        self.shared.doorbell.ring_if_parked();
        SendError::Full(value)
    }

    /// Sends events from `items` while the ring has room, publishing them
    /// at once (one index store, at most one wake-up). Returns how many
    /// were sent; it stops at the first item that does not fit, leaving it
    /// and the rest in the iterator: no drop is counted, and the items not
    /// taken get no sequence number. For back-pressure users and batches.
    /// With [`OverflowPolicy::DropOldest`] it evicts nothing either: it
    /// fills free slots only.
    ///
    /// Returns 0 without taking anything once the receiver is gone.
    ///
    /// ```
    /// let (mut tx, mut rx) = eventsig::channel(3)?;
    /// let mut items = 0..10;
    /// assert_eq!(tx.send_iter(&mut items), 3);
    /// assert_eq!(items.next(), Some(3));                // not taken
    /// assert_eq!(rx.drain().count(), 3);
    /// assert_eq!(rx.overflow(), None);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn send_iter<I: Iterator<Item = T>>(&mut self, items: &mut I) -> usize {
        // Relaxed: a hint, as in `send`.
        if !self.shared.receiver_alive.load(Ordering::Relaxed) {
            return 0;
        }
        let sent = self.ring.push_iter(items);
        if sent > 0 {
            self.shared.doorbell.ring_if_parked();
        }
        sent
    }

    /// Free slots in the ring now: `> 0` means the next `send` is accepted
    /// (only this sender fills the ring) and, with
    /// [`OverflowPolicy::DropOldest`], that it evicts nothing.
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::channel(2)?;
    /// tx.send(()).unwrap();
    /// assert_eq!(tx.free_slots(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn free_slots(&mut self) -> usize {
        self.ring.free_slots()
    }

    /// Raises `signal`, like [`Raiser::raise`].
    ///
    /// # Errors
    ///
    /// [`RaiseError::Closed`] once the receiver is gone.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// tx.raise(Signal::new(1).unwrap()).unwrap();
    /// assert_eq!(rx.take_signals().len(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn raise(&self, signal: Signal) -> Result<(), RaiseError> {
        self.shared.raise(signal)
    }

    /// Raises `signal` with `value` as its latest value, like
    /// [`Raiser::raise_with`].
    ///
    /// # Errors
    ///
    /// [`RaiseError::Closed`] once the receiver is gone.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let balloon = Signal::new(4)?;
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// tx.raise_with(balloon, 512)?;
    /// let mut values = [None; 64];
    /// rx.take_signals_with(&mut values);
    /// assert_eq!(values[4], Some(512));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn raise_with(&self, signal: Signal, value: u64) -> Result<(), RaiseError> {
        self.shared.raise_with(signal, value)
    }

    /// A new [`Raiser`] for this channel. The channel closes for the receiver
    /// when the sender and every raiser are gone.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// let raiser = tx.raiser();
    /// std::thread::spawn(move || raiser.raise(Signal::new(2).unwrap())).join().unwrap().unwrap();
    /// assert_eq!(rx.take_signals().len(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn raiser(&self) -> Raiser {
        Raiser::new(&self.shared)
    }

    /// The ring's capacity.
    ///
    /// ```
    /// let (tx, _rx) = eventsig::channel::<()>(5)?;
    /// assert_eq!(tx.capacity(), 5);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// What the ring does when it is full (set with
    /// [`Builder::overflow_policy`](crate::Builder::overflow_policy)).
    ///
    /// ```
    /// use eventsig::OverflowPolicy;
    /// let (tx, _rx) = eventsig::channel::<()>(5)?;
    /// assert_eq!(tx.overflow_policy(), OverflowPolicy::DropNewest);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn overflow_policy(&self) -> OverflowPolicy {
        self.ring.policy()
    }

    /// Whether the receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = eventsig::channel::<()>(1)?;
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        // Relaxed: a racy answer by nature.
        !self.shared.receiver_alive.load(Ordering::Relaxed)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.release_producer();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("ring", &self.ring)
            .field("classified", &self.classify.is_some())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Raises signals from any thread: `Clone + Send + Sync`.
///
/// A raise is one `fetch_or` on an awake receiver; it is allocation-free and
/// lock-free, and makes at most one `write(2)` (when the receiver is parked).
///
/// # Async-signal safety
///
/// [`Raiser::raise`] may be called from a POSIX signal handler, which makes
/// the channel a coalescing self-pipe: a handler for `SIGTERM` or `SIGHUP`
/// raises a [`Signal`], and the receiver learns of it on its eventfd like of
/// any other raise. The path is lock-free atomic operations only (a load of
/// the raise mode, a `fetch_or` (with
/// [overrun counts](crate::Builder::overrun_counts) a `fetch_add` before
/// it), a fence, a load of the park flag (with signals
/// [blocked](Receiver::block), a fence and a load of the mask before it),
/// and for a parked receiver a swap of the flag and a counter increment),
/// then at most one `write(2)`, which `signal-safety(7)` lists as safe.
/// It takes no lock, allocates nothing, and leaves `errno` as it found it
/// (see [`EventFd::notify`](crate::EventFd::notify)).
///
/// Only `raise` is for handlers. Keep the `Raiser` where a handler reads it
/// without a lock: a `static` [`OnceLock`](std::sync::OnceLock) set before
/// the handler is installed (`OnceLock::get` on an initialised cell is one
/// atomic load) or an `AtomicPtr`. Do not clone or drop a `Raiser` in a
/// handler: dropping the last producer handle closes the channel and may
/// free it. `examples/signal_handler.rs` is a complete program.
///
/// ```
/// use eventsig::Signal;
/// let (tx, mut rx) = eventsig::channel::<()>(1)?;
/// let raiser = tx.raiser();
/// let s = Signal::new(5).unwrap();
/// let threads: Vec<_> = (0..4)
///     .map(|_| { let r = raiser.clone(); std::thread::spawn(move || r.raise(s)) })
///     .collect();
/// for t in threads { t.join().unwrap().unwrap(); }
/// assert_eq!(rx.take_signals().iter().collect::<Vec<_>>(), [s]);   // merged (S2)
/// # Ok::<(), eventsig::BuildError>(())
/// ```
pub struct Raiser {
    shared: Arc<Shared>,
}

impl Raiser {
    pub(crate) fn new(shared: &Arc<Shared>) -> Raiser {
        // Relaxed: a handle is made from a live one, so the count cannot
        // reach 0 meanwhile (the same argument as `Arc::clone`).
        shared.producers.fetch_add(1, Ordering::Relaxed);
        Raiser {
            shared: Arc::clone(shared),
        }
    }

    /// Makes `signal` pending; raises of a pending signal merge (S2), and a
    /// raised signal is reported by a later [`Receiver::take_signals`] (S1).
    ///
    /// # Errors
    ///
    /// [`RaiseError::Closed`] once the receiver is gone.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// tx.raiser().raise(Signal::new(0).unwrap())?;
    /// assert!(!rx.take_signals().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Async-signal safety
    ///
    /// Safe to call from a signal handler (see [`Raiser`]): no lock, no
    /// allocation, at most one `write(2)`, `errno` preserved. Handler runs
    /// that find the signal pending merge, as the kernel merges a pending
    /// standard signal.
    ///
    /// ```
    /// use std::sync::OnceLock;
    /// use eventsig::{Raiser, Signal};
    ///
    /// static RAISER: OnceLock<Raiser> = OnceLock::new();
    /// const RELOAD: Signal = match Signal::new(1) {
    ///     Ok(s) => s,
    ///     Err(_) => panic!("signal numbers are below 64"),
    /// };
    ///
    /// extern "C" fn on_sighup(_: libc::c_int) {
    ///     if let Some(raiser) = RAISER.get() {
    ///         let _ = raiser.raise(RELOAD); // Err only once the receiver is gone
    ///     }
    /// }
    ///
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// RAISER.set(tx.raiser()).expect("set once, before the handler");
    /// // SAFETY: a zeroed `sigaction` is valid (empty mask); the handler
    /// // only calls `Raiser::raise`, which is async-signal-safe.
    /// unsafe {
    ///     let mut action: libc::sigaction = std::mem::zeroed();
    ///     action.sa_sigaction = on_sighup as extern "C" fn(libc::c_int) as libc::sighandler_t;
    ///     action.sa_flags = libc::SA_RESTART;
    ///     assert_eq!(libc::sigaction(libc::SIGHUP, &action, std::ptr::null_mut()), 0);
    ///     libc::raise(libc::SIGHUP); // the handler runs before this returns
    ///     libc::raise(libc::SIGHUP);
    /// }
    /// assert_eq!(rx.take_signals().iter().collect::<Vec<_>>(), [RELOAD]); // merged
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn raise(&self, signal: Signal) -> Result<(), RaiseError> {
        self.shared.raise(signal)
    }

    /// Stores `value` as `signal`'s latest value, then raises `signal`: the
    /// receiver gets the value with the signal
    /// ([`Receiver::take_signals_with`]). Raises merge as with
    /// [`raise`](Raiser::raise), and the last value stored wins, as QEMU
    /// keeps only the latest state of a throttled event ("balloon at 512
    /// MiB" replaces "balloon at 768 MiB"). A value is never torn, and a take
    /// never returns a value older than the raise that made the signal
    /// pending. Any number of raisers may raise with values at once.
    ///
    /// Async-signal-safe like [`raise`](Raiser::raise): one more atomic store
    /// (and, the first time a signal gets a value, a `fetch_or`).
    ///
    /// # Errors
    ///
    /// [`RaiseError::Closed`] once the receiver is gone.
    ///
    /// ```
    /// use eventsig::Signal;
    /// let balloon = Signal::new(4)?;
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// let raiser = tx.raiser();
    /// raiser.raise_with(balloon, 768)?;
    /// raiser.raise_with(balloon, 512)?; // merges; the last value wins
    /// let mut values = [None; 64];
    /// let taken = rx.take_signals_with(&mut values);
    /// assert!(taken.contains(balloon));
    /// assert_eq!(values[balloon.number() as usize], Some(512));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn raise_with(&self, signal: Signal, value: u64) -> Result<(), RaiseError> {
        self.shared.raise_with(signal, value)
    }
}

impl Clone for Raiser {
    fn clone(&self) -> Raiser {
        Raiser::new(&self.shared)
    }
}

impl Drop for Raiser {
    fn drop(&mut self) {
        self.shared.release_producer();
    }
}

impl fmt::Debug for Raiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Raiser").finish_non_exhaustive()
    }
}

/// A standing loss condition, from [`Receiver::overflow`]: events were
/// dropped that have not been acknowledged. The receiver should re-poll the
/// state those events described, then [`Receiver::acknowledge`] it.
///
/// ```
/// let (mut tx, mut rx) = eventsig::channel::<u8>(1)?;
/// tx.send(0).unwrap();
/// let _ = tx.send(1);
/// let ov = rx.overflow().expect("a drop happened");
/// assert_eq!(ov.lost(), 1);
/// rx.acknowledge(ov);
/// assert!(rx.overflow().is_none());
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    pub(crate) lost: u64,
    /// The drop count this overflow was read at; acknowledging it clears
    /// drops up to this count only.
    pub(crate) upto: u64,
    pub(crate) classes: SignalSet,
}

impl Overflow {
    /// Number of dropped events it stands for (since the last acknowledgement).
    ///
    /// ```
    /// let (mut tx, rx) = eventsig::channel::<u8>(1)?;
    /// for i in 0..5 { let _ = tx.send(i); }
    /// assert_eq!(rx.overflow().map(|o| o.lost()), Some(4));
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The classes of the events dropped since the last acknowledgement: the
    /// signals the classifier named for them, on a channel built with
    /// [`Builder::build_classified`](crate::Builder::build_classified); empty
    /// on other channels, and for drops the classifier named no class for.
    /// Re-poll the state of these classes, not all state.
    ///
    /// A class dropped again while the overflow was being read may be listed
    /// once more by the next overflow (a redundant re-poll); a class is never
    /// left out.
    ///
    /// ```
    /// use eventsig::{Signal, SignalSet};
    /// enum Ev { Vnc(u32), Block(&'static str) }
    /// let vnc = Signal::new(10)?;
    /// let block = Signal::new(11)?;
    /// let (mut tx, mut rx) = eventsig::builder()
    ///     .capacity(1)
    ///     .build_classified(move |ev: &Ev| match ev {
    ///         Ev::Vnc(_) => Some(vnc),
    ///         Ev::Block(_) => Some(block),
    ///     })?;
    /// let _ = tx.send(Ev::Block("vda"));   // accepted
    /// let _ = tx.send(Ev::Vnc(1));         // dropped: the ring is full
    /// let ov = rx.overflow().unwrap();
    /// assert_eq!(ov.classes(), SignalSet::from(vnc)); // re-poll VNC only
    /// rx.acknowledge(ov);
    /// assert!(rx.overflow().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn classes(&self) -> SignalSet {
        self.classes
    }
}

/// The one consumer: takes signals, drains events, sleeps on the eventfd.
/// `Send`, not `Sync`.
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<eventsig::Receiver<u32>>();
/// ```
pub struct Receiver<T> {
    ring: EventReceiver<T>,
    shared: Arc<Shared>,
    /// The receiver's side of the wake-up protocol (see `parking.rs`).
    parking: Parking,
    /// Pending bits the takes cleared so far (each set by one raise).
    signals_taken: u64,
    /// With overrun counts kept: the raises the takes counted so far (each
    /// raise is counted by exactly one take; see `overrun.rs`).
    raises_counted: u64,
    /// The blocked signals; published for raisers in `Shared::blocked`.
    blocked: SignalSet,
    acked_drops: u64,
    /// Spin briefly in `wait` before parking.
    spin: bool,
}

impl<T> Receiver<T> {
    /// Takes every pending signal at once (one `swap`), leaving none pending.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// let s = Signal::new(9).unwrap();
    /// tx.raise(s).unwrap();
    /// tx.raise(s).unwrap();
    /// assert_eq!(rx.take_signals().len(), 1);
    /// assert!(rx.take_signals().is_empty());
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn take_signals(&mut self) -> SignalSet {
        let taken = self
            .shared
            .take(self.blocked, None, &mut self.raises_counted);
        self.note(taken)
    }

    /// Takes every pending signal, as [`take_signals`](Receiver::take_signals),
    /// and writes the latest value of each signal taken into `values` (entry
    /// `n` for signal `n`): the value of the last
    /// [`raise_with`](Raiser::raise_with) of that signal, or `None` if it was
    /// never raised with a value. A plain raise leaves the latest value as it
    /// was. Entries of signals not taken are left as they are, so `values`
    /// can be the consumer's table of latest values.
    ///
    /// The value is never older than the raise that made the signal pending;
    /// a raise racing with the take may already show its value, and then
    /// makes the signal pending again for the next take (which reports the
    /// same value or a later one).
    ///
    /// ```
    /// use eventsig::{Signal, SignalSet};
    /// let (balloon, stopped) = (Signal::new(4)?, Signal::new(3)?);
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// tx.raise_with(balloon, 1024)?;
    /// tx.raise(stopped)?;
    /// let mut values = [None; 64];
    /// let taken = rx.take_signals_with(&mut values);
    /// assert_eq!(taken, SignalSet::from(balloon) | stopped);
    /// assert_eq!((values[4], values[3]), (Some(1024), None));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_signals_with(&mut self, values: &mut [Option<u64>; 64]) -> SignalSet {
        let taken = self.take_signals();
        // After the take's Acquire read-modify-writes (see `values.rs`).
        self.shared.values.read_into(taken, values);
        taken
    }

    /// Takes every pending signal, as [`take_signals`](Receiver::take_signals),
    /// with the number of raises each stands for: the raises merged since the
    /// last take that reported it, plus one (the POSIX timer overrun count
    /// plus one; [`SignalCounts::overruns`] is the overrun count itself).
    /// Saturates at `u32::MAX`.
    ///
    /// The counts are kept on a channel built with
    /// [`Builder::overrun_counts`](crate::Builder::overrun_counts); on
    /// another, every signal taken counts 1 (nothing was counted). Every take
    /// (also `take_signals`) resets the counts of the signals it takes; the
    /// merges they stood for go to [`Stats::coalesced`] either way.
    ///
    /// ```
    /// use eventsig::Signal;
    /// let (tick, stop) = (Signal::new(1)?, Signal::new(2)?);
    /// let (tx, mut rx) = eventsig::builder().overrun_counts(true).build::<()>()?;
    /// let raiser = tx.raiser();
    /// for _ in 0..5 {
    ///     raiser.raise(tick)?; // a timer firing while the consumer is busy
    /// }
    /// tx.raise(stop)?;
    /// let taken = rx.take_signals_counted();
    /// assert_eq!((taken.count(tick), taken.overruns(tick)), (5, 4));
    /// assert_eq!(taken.count(stop), 1);
    /// tx.raise(tick)?;
    /// assert_eq!(rx.take_signals_counted().count(tick), 1); // counted from the last take
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_signals_counted(&mut self) -> SignalCounts {
        let mut report = SignalCounts::EMPTY;
        let taken = self
            .shared
            .take(self.blocked, Some(&mut report), &mut self.raises_counted);
        self.note(taken);
        report
    }

    /// Adds a take to the counters of [`stats`](Receiver::stats); returns
    /// the signals it reports.
    #[inline]
    fn note(&mut self, taken: Taken) -> SignalSet {
        self.signals_taken += taken.cleared.len() as u64;
        taken.reported
    }

    /// The signals pending now, without taking them.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// tx.raise(Signal::new(9).unwrap()).unwrap();
    /// assert_eq!(rx.pending_signals().len(), 1);
    /// assert_eq!(rx.take_signals().len(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn pending_signals(&self) -> SignalSet {
        self.shared.signals.peek() - self.blocked
    }

    /// Blocks the signals in `set`, as `sigprocmask(SIG_BLOCK)` does: raised
    /// while blocked they stay pending, but do not wake the receiver (a
    /// raise of a blocked signal makes no syscall) and are not reported by
    /// the takes or [`pending_signals`](Receiver::pending_signals) until they
    /// are [unblocked](Receiver::unblock). Blocking a signal that is pending
    /// keeps it pending. Raises merge as usual; overrun counts and values
    /// keep accumulating.
    ///
    /// A raise racing with `block` may still wake the receiver once (a
    /// spurious wake-up). Events, gaps and the close are not affected.
    ///
    /// ```
    /// use eventsig::{Signal, SignalSet};
    /// let (tick, stop) = (Signal::new(1)?, Signal::new(2)?);
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// rx.block(SignalSet::from(tick));
    /// tx.raise(tick)?;
    /// tx.raise(stop)?;
    /// assert_eq!(rx.take_signals(), SignalSet::from(stop)); // tick stays pending
    /// rx.unblock(SignalSet::from(tick));
    /// assert_eq!(rx.take_signals(), SignalSet::from(tick));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn block(&mut self, set: SignalSet) {
        self.blocked |= set;
        self.shared.blocked.store(self.blocked);
    }

    /// Unblocks the signals in `set` (`sigprocmask(SIG_UNBLOCK)`). Those
    /// pending become visible at once: [`wait`](Receiver::wait) returns for
    /// them, and if the fd was handed out it becomes readable, as for a
    /// raise. A raise racing with the unblock is not lost either.
    ///
    /// ```
    /// use std::time::Duration;
    /// use eventsig::{Signal, SignalSet};
    /// let s = Signal::new(7)?;
    /// let (tx, mut rx) = eventsig::channel::<()>(1)?;
    /// rx.block(SignalSet::from(s));
    /// tx.raise(s)?;
    /// assert!(!rx.wait(Some(Duration::from_millis(1)))?); // blocked: no wake-up
    /// rx.unblock(SignalSet::ALL);
    /// assert!(rx.wait(Some(Duration::ZERO))?);            // pending, now visible
    /// assert_eq!(rx.pending_signals(), SignalSet::from(s));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unblock(&mut self, set: SignalSet) {
        let unblocked = self.blocked & set;
        if unblocked.is_empty() {
            return;
        }
        self.blocked = self.blocked - set;
        self.shared.blocked.store(self.blocked);
        if self.parking.armed() {
            // Parked for an epoll caller, which may go back to sleep on the
            // fd without parking again: park again now, so that the re-check
            // (after the park's barrier) sees a signal raised while blocked,
            // and a raise racing with the store above sees either the new
            // mask or our re-check sees it (see `mask.rs`).
            self.wake();
            self.arm();
        } else if self.parking.exposed() && !(self.shared.signals.peek() & unblocked).is_empty() {
            // Awake with the fd handed out: make it readable for the signals
            // now visible. (A receiver that may sleep parks first, which
            // covers the raises racing with the store.)
            self.keep_readable();
        }
    }

    /// The blocked signals.
    ///
    /// ```
    /// use eventsig::{Signal, SignalSet};
    /// let (_tx, mut rx) = eventsig::channel::<()>(1)?;
    /// assert!(rx.blocked().is_empty());
    /// rx.block(SignalSet::from_bits(0b110));
    /// rx.unblock(SignalSet::from(Signal::new(1)?));
    /// assert_eq!(rx.blocked(), SignalSet::from(Signal::new(2)?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn blocked(&self) -> SignalSet {
        self.blocked
    }

    /// The next event or gap marker.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when nothing is pending now (this parks the
    /// receiver if its fd was handed out, see the module docs),
    /// [`TryRecvError::Closed`] when every producer is gone and everything
    /// they sent was delivered.
    ///
    /// ```
    /// # use eventsig::{Delivery, TryRecvError};
    /// let (mut tx, mut rx) = eventsig::channel(4)?;
    /// tx.send('x').unwrap();
    /// assert_eq!(rx.try_recv(), Ok(Delivery::Event('x')));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    #[inline]
    pub fn try_recv(&mut self) -> Result<Delivery<T>, TryRecvError> {
        self.wake();
        match self.ring.pop() {
            Some(d) => Ok(d),
            None => self.try_recv_empty(),
        }
    }

    /// `try_recv` found nothing: closed, or empty (and parks if exposed).
    #[cold]
    fn try_recv_empty(&mut self) -> Result<Delivery<T>, TryRecvError> {
        if self.shared.closed() {
            // Every send happens before the close we just saw: look again.
            return self.ring.pop().ok_or(TryRecvError::Closed);
        }
        if self.parking.exposed() {
            self.arm();
        }
        Err(TryRecvError::Empty)
    }

    /// `try_recv` for a caller that waits for events only (the tokio
    /// `recv`): an empty one parks with a re-check that ignores pending
    /// signals, so an untaken signal does not keep the fd readable. A signal
    /// raised after the park still rings once (a raise rings only when it
    /// makes its signal pending).
    #[cfg(all(feature = "tokio", not(eventsig_loom)))]
    pub(crate) fn try_recv_events(&mut self) -> Result<Delivery<T>, TryRecvError> {
        self.wake();
        if let Some(d) = self.ring.pop() {
            return Ok(d);
        }
        if self.shared.closed() {
            return self.ring.pop().ok_or(TryRecvError::Closed);
        }
        if self.parking.exposed() {
            self.arm_with(|rx| rx.ring.has_pending() || rx.shared.closed());
        }
        Err(TryRecvError::Empty)
    }

    /// Iterates over the events and gap markers pending now, in order. It
    /// ends even if the producer keeps sending, and frees the ring's slots
    /// once, when dropped.
    ///
    /// ```
    /// # use eventsig::Delivery;
    /// let (mut tx, mut rx) = eventsig::channel(2)?;
    /// for i in 0..5 { let _ = tx.send(i); }
    /// let got: Vec<_> = rx.drain().collect();
    /// assert_eq!(got, [Delivery::Event(0), Delivery::Event(1), Delivery::Lost { first: 2, count: 3 }]);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn drain(&mut self) -> Drain<'_, T> {
        self.wake();
        let snap = self.ring.snapshot();
        Drain {
            rx: self,
            snap,
            yielded: false,
        }
    }

    /// Whether events were dropped that have not been acknowledged. It stays
    /// `Some` until [`acknowledge`](Receiver::acknowledge)d: draining does not
    /// clear it (S8).
    ///
    /// ```
    /// let (mut tx, mut rx) = eventsig::channel::<u8>(1)?;
    /// assert!(rx.overflow().is_none());
    /// tx.send(0).unwrap();
    /// let _ = tx.send(1);
    /// rx.drain().for_each(drop);
    /// assert!(rx.overflow().is_some());
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn overflow(&self) -> Option<Overflow> {
        let total = self.drops_recorded();
        (total > self.acked_drops).then(|| Overflow {
            lost: total - self.acked_drops,
            upto: total,
            classes: match &self.shared.classes {
                // After `drops_recorded` read `published`: every class of a
                // drop up to `total` is visible (see `classes.rs`).
                Some(classes) => classes.since(self.acked_drops),
                None => SignalSet::EMPTY,
            },
        })
    }

    /// The drops an overflow reports: the ring's count, or on a classified
    /// channel the drops whose class is recorded (the same count once the
    /// sender is out of `send`).
    fn drops_recorded(&self) -> u64 {
        match &self.shared.classes {
            Some(classes) => classes.published(),
            None => self.ring.dropped(),
        }
    }

    /// Clears the overflow condition for the drops `overflow` stands for,
    /// and for their [classes](Overflow::classes). Drops that happened after
    /// it was read keep the condition set, with their classes.
    ///
    /// ```
    /// let (mut tx, mut rx) = eventsig::channel::<u8>(1)?;
    /// tx.send(0).unwrap();
    /// let _ = tx.send(1);
    /// let ov = rx.overflow().unwrap();
    /// let _ = tx.send(2);                      // a drop after the read
    /// rx.acknowledge(ov);
    /// assert_eq!(rx.overflow().map(|o| o.lost()), Some(1));
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn acknowledge(&mut self, overflow: Overflow) {
        // Clamped, so an `Overflow` of another channel cannot clear drops
        // this one has not had.
        let upto = overflow.upto.min(self.drops_recorded());
        self.acked_drops = self.acked_drops.max(upto);
    }

    /// Blocks until a signal, an event, a gap or the close is pending, or
    /// `timeout` passes (`None`: no timeout). Returns `true` when something is
    /// pending or the channel is closed, `false` on timeout. A
    /// [blocked](Receiver::block) signal does not count as pending.
    ///
    /// Parks on the eventfd (`poll(2)`); producers write it once per sleep.
    ///
    /// # Errors
    ///
    /// The `poll(2)` or `read(2)` error, which an eventfd does not produce in
    /// practice.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (mut tx, mut rx) = eventsig::channel(1)?;
    /// assert!(!rx.wait(Some(Duration::from_millis(1)))?);
    /// std::thread::spawn(move || tx.send(1));
    /// assert!(rx.wait(Some(Duration::from_secs(10)))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        crate::parking::wait(self, timeout)
    }

    /// `wait` found nothing: an epoll caller may go to sleep on the fd now,
    /// so park for it as an empty `try_recv` would. Returns `false`.
    fn timed_out(&self) -> bool {
        if self.parking.exposed() {
            self.arm();
        }
        false
    }

    /// Whether `wait` spins briefly before it parks (the default). A blocking
    /// wake-up costs tens of microseconds on a virtual machine; a spin of a
    /// few microseconds catches a producer that answers quickly, as
    /// crossbeam-channel does. Turn it off to save the CPU time when waits
    /// are long anyway.
    ///
    /// ```
    /// let (_tx, mut rx) = eventsig::channel::<()>(1)?;
    /// rx.set_wait_spin(false);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn set_wait_spin(&mut self, spin: bool) {
        self.spin = spin;
    }

    /// Whether every producer handle (the sender and all raisers) is gone.
    /// Pending events, gaps and signals can still be taken.
    ///
    /// ```
    /// let (tx, rx) = eventsig::channel::<()>(1)?;
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.closed()
    }

    /// The ring's capacity.
    ///
    /// ```
    /// let (_tx, rx) = eventsig::channel::<()>(3)?;
    /// assert_eq!(rx.capacity(), 3);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// What the ring does when it is full (set with
    /// [`Builder::overflow_policy`](crate::Builder::overflow_policy)).
    ///
    /// ```
    /// use eventsig::OverflowPolicy;
    /// let (_tx, rx) = eventsig::builder()
    ///     .overflow_policy(OverflowPolicy::DropOldest)
    ///     .build::<()>()?;
    /// assert_eq!(rx.overflow_policy(), OverflowPolicy::DropOldest);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn overflow_policy(&self) -> OverflowPolicy {
        self.ring.policy()
    }

    /// The channel's counters.
    ///
    /// ```
    /// let (mut tx, rx) = eventsig::channel(1)?;
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.stats().sent, 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn stats(&self) -> Stats {
        Stats {
            // Each raise that made a signal pending is either taken or
            // pending now: counted here, at no cost to the raisers.
            raised: self.signals_taken + self.shared.signals.peek().len() as u64,
            // Every raise the takes counted either set a pending bit a take
            // cleared, or merged (see `Stats::coalesced`).
            coalesced: self
                .shared
                .counts
                .is_some()
                .then(|| self.raises_counted.saturating_sub(self.signals_taken)),
            sent: self.ring.attempts(),
            dropped: self.ring.dropped(),
            delivered: self.ring.taken(),
            doorbell_writes: self.shared.doorbell.writes(),
            self_rings: self.parking.self_rings(),
            parks: self.parking.parks(),
        }
    }

    /// Whether anything is pending: an unblocked signal, an event, a gap, or
    /// the close.
    fn ready(&self) -> bool {
        !(self.shared.signals.peek() - self.blocked).is_empty()
            || self.ring.has_pending()
            || self.shared.closed()
    }

    /// `arm` with the re-check `pending`.
    #[cfg(all(feature = "tokio", not(eventsig_loom)))]
    fn arm_with(&self, pending: impl Fn(&Self) -> bool) {
        self.parking.arm(
            &self.shared.doorbell,
            || pending(self),
            || self.shared.closed(),
        );
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.mark_receiver_gone();
    }
}

impl<T> Waiter for Receiver<T> {
    fn parking(&self) -> &Parking {
        &self.parking
    }

    fn doorbell(&self) -> &Doorbell {
        &self.shared.doorbell
    }

    fn pending(&self) -> bool {
        self.ready()
    }

    fn closed(&self) -> bool {
        self.shared.closed()
    }

    fn spins(&self) -> bool {
        self.spin
    }

    fn give_up(&mut self) -> bool {
        self.timed_out()
    }
}

crate::parking::fd_source!(
    Receiver,
    shared,
    /// Hands out the eventfd to poll on. The receiver parks now, and from then on
    /// at the end of every drain that yielded nothing and on every empty
    /// `try_recv`, so the fd becomes readable whenever something is pending while
    /// the caller sleeps in epoll; a drain that yielded something leaves the fd
    /// readable, so the caller comes back for one that finds the channel empty.
);

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("ring", &self.ring)
            .field("pending_signals", &self.pending_signals())
            .field("blocked", &self.blocked)
            .field("closed", &self.is_closed())
            .field("overflow", &self.overflow())
            .finish_non_exhaustive()
    }
}

/// The iterator of [`Receiver::drain`]: what was pending when it started;
/// when dropped it frees the slots it read and, if the receiver's fd was
/// handed out, parks (it yielded nothing) or keeps the fd readable (it
/// yielded something), see the module docs.
///
/// ```
/// # use eventsig::Delivery;
/// let (mut tx, mut rx) = eventsig::channel(4)?;
/// tx.send(1).unwrap();
/// let mut drain = rx.drain();
/// assert_eq!(drain.next(), Some(Delivery::Event(1)));
/// assert_eq!(drain.next(), None);
/// # Ok::<(), eventsig::BuildError>(())
/// ```
pub struct Drain<'a, T> {
    rx: &'a mut Receiver<T>,
    snap: Snapshot,
    yielded: bool,
}

impl<T> Drain<'_, T> {
    /// The next run of this drain: every event up to the next gap (or the
    /// end of the ring's slot array) as one slice, or the gap marker. The
    /// batch form of [`Iterator::next`], with which it mixes freely: the
    /// events are read in place and dropped with the run.
    ///
    /// ```
    /// use eventsig::Run;
    /// let (mut tx, mut rx) = eventsig::channel::<u64>(8)?;
    /// for i in 0..10 { let _ = tx.send(i); }
    /// let (mut sum, mut lost) = (0, 0);
    /// let mut drain = rx.drain();
    /// while let Some(run) = drain.next_run() {
    ///     match run {
    ///         Run::Events(events) => sum += events.iter().sum::<u64>(),
    ///         Run::Lost { count, .. } => lost += count,
    ///     }
    /// }
    /// drop(drain);
    /// assert_eq!((sum, lost), ((0..8).sum(), 2));
    /// assert_eq!(rx.stats().delivered, 8);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    #[cfg(not(eventsig_loom))]
    pub fn next_run(&mut self) -> Option<crate::ring::Run<'_, T>> {
        let run = self.rx.ring.next_run_within(&self.snap)?;
        self.yielded = true;
        Some(run)
    }
}

impl<T> Iterator for Drain<'_, T> {
    type Item = Delivery<T>;

    #[inline]
    fn next(&mut self) -> Option<Delivery<T>> {
        let d = self.rx.ring.next_within(&self.snap);
        self.yielded |= d.is_some();
        d
    }
}

impl<T> Drop for Drain<'_, T> {
    fn drop(&mut self) {
        self.rx.ring.publish();
        if self.rx.parking.exposed() {
            if self.yielded {
                self.rx.keep_readable();
            } else {
                self.rx.arm();
            }
        }
    }
}

impl<T> fmt::Debug for Drain<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").finish_non_exhaustive()
    }
}
