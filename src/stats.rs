//! Channel counters.

use std::fmt;

/// Counters of one channel, read by [`Receiver::stats`](crate::Receiver::stats).
///
/// Each counter is exact once the producers are quiet; while they run, each is
/// a recent value.
///
/// ```
/// let (mut tx, mut rx) = eventsig::channel::<u8>(1)?;
/// tx.send(1).unwrap();
/// let _ = tx.send(2);                 // dropped: the ring is full
/// rx.drain().for_each(drop);
/// let s = rx.stats();
/// assert_eq!((s.sent, s.dropped, s.delivered), (2, 1, 1));
/// assert_eq!(s.doorbell_writes, 0);   // the receiver never slept
/// assert_eq!(s.coalesced, None);      // not counted: no overrun counts
/// println!("{s}");
/// # Ok::<(), eventsig::BuildError>(())
/// ```
///
/// With [overrun counts](crate::Builder::overrun_counts) the takes also
/// count the raises that merged:
///
/// ```
/// let tick = eventsig::Signal::new(1)?;
/// let (tx, mut rx) = eventsig::builder().overrun_counts(true).build::<()>()?;
/// for _ in 0..5 {
///     tx.raise(tick)?;
/// }
/// rx.take_signals();
/// let s = rx.stats();
/// assert_eq!((s.raised, s.coalesced), (1, Some(4))); // 1 + 4 == 5 raises
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Raises that made a signal pending: those taken so far plus those
    /// pending now. A raise of a signal that was already pending merges
    /// with it and is not counted here (the count costs raisers nothing);
    /// see [`coalesced`](Stats::coalesced).
    pub raised: u64,
    /// Raises that merged with an already pending signal (S2), as far as the
    /// takes have counted them: `Some` on a channel built with
    /// [`Builder::overrun_counts`](crate::Builder::overrun_counts), where each
    /// take learns how many raises each signal it takes stands for (its
    /// count, of which all but the one that made the signal pending merged).
    /// Every take counts, [`take_signals`](crate::Receiver::take_signals) and
    /// [`take_signals_with`](crate::Receiver::take_signals_with) as well as
    /// [`take_signals_counted`](crate::Receiver::take_signals_counted): they
    /// reset the counts they take, and the merges those stood for are added
    /// here.
    ///
    /// Merges into a signal still pending (or blocked) are added when it is
    /// taken; once the raisers are quiet and a take has taken every signal,
    /// `raised + coalesced` is the number of raises. While raisers run it
    /// may be ahead by the raises in flight, which a later take settles.
    ///
    /// `None`: not counted. Enable
    /// [`Builder::overrun_counts`](crate::Builder::overrun_counts); a raise
    /// is then a `fetch_add` and the `fetch_or`. Without counts a raise stays
    /// one `fetch_or`, and counting its merges would take another atomic
    /// read-modify-write on every raise. A hub keeps no counts: `None`.
    pub coalesced: Option<u64>,
    /// Send attempts (accepted and dropped; not those refused as `Closed`).
    pub sent: u64,
    /// Send attempts dropped because the ring was full (with
    /// [`OverflowPolicy::DropOldest`](crate::OverflowPolicy::DropOldest):
    /// unread events evicted by later sends).
    pub dropped: u64,
    /// Events the receiver has taken.
    pub delivered: u64,
    /// eventfd writes that claimed a park: by producers (or the close)
    /// waking a parked receiver, or by the receiver when its park's re-check
    /// found something pending. At most one per park (S10).
    pub doorbell_writes: u64,
    /// eventfd writes by an awake receiver keeping its fd readable for an
    /// epoll caller, after a drain that yielded something (no park, no
    /// producer syscall).
    pub self_rings: u64,
    /// Times the receiver announced it might sleep: in `wait`, and, once its
    /// fd was handed out, at the hand-out, at the end of a drain that
    /// yielded nothing, on an empty `try_recv` and when `wait` times out.
    pub parks: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "raised {} coalesced {} sent {} dropped {} delivered {} doorbell writes {} self rings {} parks {}",
            self.raised,
            Coalesced(self.coalesced),
            self.sent,
            self.dropped,
            self.delivered,
            self.doorbell_writes,
            self.self_rings,
            self.parks
        )
    }
}

/// `Stats::coalesced` for `Display`: the count, or "not counted".
struct Coalesced(Option<u64>);

impl fmt::Display for Coalesced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("not counted"),
        }
    }
}
