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
/// println!("{s}");
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Raises that made a signal pending: those taken so far plus those
    /// pending now. A raise of a signal that was already pending merges
    /// with it and is not counted (the count costs raisers nothing).
    pub raised: u64,
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
            "raised {} sent {} dropped {} delivered {} doorbell writes {} self rings {} parks {}",
            self.raised,
            self.sent,
            self.dropped,
            self.delivered,
            self.doorbell_writes,
            self.self_rings,
            self.parks
        )
    }
}
