//! What a full ring does with a new event ([`OverflowPolicy`]), and the
//! channel's two event rings behind one interface: [`crate::ring`] (drop the
//! newest) and [`crate::overwrite`] (drop the oldest). The channel calls the
//! same methods whichever it holds; each is one branch in front of the
//! ring's own. The per-event methods are always inlined and their
//! drop-oldest arms are calls to cold functions kept out of line, so that
//! the default ring's paths inline as they did before the choice existed
//! (measured with callgrind: two instructions more per send + `try_recv`).

use std::fmt;

use crate::overwrite;
#[cfg(not(eventsig_loom))]
use crate::ring::Run;
use crate::ring::{self, BuildError, Delivery};

/// What a channel's full event ring does with a new event; set with
/// [`Builder::overflow_policy`](crate::Builder::overflow_policy).
///
/// Either way the loss is exact: every send attempt has a sequence number,
/// the receiver gets [`Delivery::Lost`] where the lost attempts stood, the
/// sticky [`Overflow`](crate::Overflow) is set, and delivered + lost ==
/// attempts (S6).
///
/// ```
/// use eventsig::{Delivery, OverflowPolicy};
/// let (mut tx, mut rx) = eventsig::builder()
///     .capacity(2)
///     .overflow_policy(OverflowPolicy::DropOldest)
///     .build::<u32>()?;
/// for i in 0..5 {
///     tx.send(i).unwrap(); // never `Full`: the oldest unread event gives way
/// }
/// let got: Vec<_> = rx.drain().collect();
/// assert_eq!(got, [Delivery::Lost { first: 0, count: 3 }, Delivery::Event(3), Delivery::Event(4)]);
/// assert_eq!(rx.overflow().map(|o| o.lost()), Some(3));
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// The new event is refused ([`SendError::Full`](crate::SendError::Full)
    /// hands it back): the ring keeps the oldest events. The default, and the
    /// cheaper ring ([`crate::ring`]).
    #[default]
    DropNewest,
    /// The new event is accepted and the oldest unread one is dropped: the
    /// ring keeps the most recent events ([`crate::overwrite`]). `send`
    /// never returns `Full`; the evicted event is dropped on the sender's
    /// thread. Costs a compare-and-swap per received event.
    DropOldest,
}

/// The channel's producer half of its ring.
pub(crate) enum EventSender<T> {
    Newest(ring::Producer<T>),
    Oldest(overwrite::Producer<T>),
}

/// The channel's consumer half of its ring.
pub(crate) enum EventReceiver<T> {
    Newest(ring::Consumer<T>),
    Oldest(overwrite::Consumer<T>),
}

/// What a drain may deliver, of the ring it was taken from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Snapshot {
    Newest(ring::Snapshot),
    Oldest(overwrite::Snapshot),
}

/// Builds the ring `policy` asks for.
pub(crate) fn ring<T>(
    capacity: usize,
    policy: OverflowPolicy,
) -> Result<(EventSender<T>, EventReceiver<T>), BuildError> {
    Ok(match policy {
        OverflowPolicy::DropNewest => {
            let (tx, rx) = ring::ring(capacity)?;
            (EventSender::Newest(tx), EventReceiver::Newest(rx))
        }
        OverflowPolicy::DropOldest => {
            let (tx, rx) = overwrite::ring(capacity)?;
            (EventSender::Oldest(tx), EventReceiver::Oldest(rx))
        }
    })
}

impl<T> EventSender<T> {
    /// `ring::Producer::push`; a drop-oldest ring accepts every value (the
    /// evicted one is dropped here).
    #[inline(always)]
    pub(crate) fn push(&mut self, value: T) -> Result<(), T> {
        match self {
            EventSender::Newest(p) => p.push(value),
            EventSender::Oldest(p) => push_oldest(p, value),
        }
    }

    pub(crate) fn push_iter<I: Iterator<Item = T>>(&mut self, items: &mut I) -> usize {
        match self {
            EventSender::Newest(p) => p.push_iter(items),
            EventSender::Oldest(p) => p.push_iter(items),
        }
    }

    pub(crate) fn free_slots(&mut self) -> usize {
        match self {
            EventSender::Newest(p) => p.free_slots(),
            EventSender::Oldest(p) => p.free_slots(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        match self {
            EventSender::Newest(p) => p.capacity(),
            EventSender::Oldest(p) => p.capacity(),
        }
    }

    /// Attempts dropped so far (the producer's own count).
    pub(crate) fn dropped(&self) -> u64 {
        match self {
            EventSender::Newest(p) => p.dropped(),
            EventSender::Oldest(p) => p.dropped(),
        }
    }

    pub(crate) fn policy(&self) -> OverflowPolicy {
        match self {
            EventSender::Newest(_) => OverflowPolicy::DropNewest,
            EventSender::Oldest(_) => OverflowPolicy::DropOldest,
        }
    }
}

impl<T> fmt::Debug for EventSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventSender::Newest(p) => p.fmt(f),
            EventSender::Oldest(p) => p.fmt(f),
        }
    }
}

impl<T> EventReceiver<T> {
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<Delivery<T>> {
        match self {
            EventReceiver::Newest(c) => c.pop(),
            EventReceiver::Oldest(c) => pop_oldest(c),
        }
    }

    pub(crate) fn snapshot(&mut self) -> Snapshot {
        match self {
            EventReceiver::Newest(c) => Snapshot::Newest(c.snapshot()),
            EventReceiver::Oldest(c) => Snapshot::Oldest(c.snapshot()),
        }
    }

    /// The next delivery `snap` covers; `snap` comes from this ring's
    /// `snapshot`.
    #[inline(always)]
    pub(crate) fn next_within(&mut self, snap: &Snapshot) -> Option<Delivery<T>> {
        match (self, snap) {
            (EventReceiver::Newest(c), Snapshot::Newest(s)) => c.next_within(s),
            (EventReceiver::Oldest(c), Snapshot::Oldest(s)) => next_oldest(c, s),
            _ => None,
        }
    }

    /// As `next_within`, by runs.
    #[cfg(not(eventsig_loom))]
    pub(crate) fn next_run_within(&mut self, snap: &Snapshot) -> Option<Run<'_, T>> {
        match (self, snap) {
            (EventReceiver::Newest(c), Snapshot::Newest(s)) => c.next_run_within(s),
            (EventReceiver::Oldest(c), Snapshot::Oldest(s)) => c.next_run_within(s),
            _ => None,
        }
    }

    #[inline(always)]
    pub(crate) fn publish(&mut self) {
        match self {
            EventReceiver::Newest(c) => c.publish(),
            EventReceiver::Oldest(c) => c.publish(),
        }
    }

    pub(crate) fn has_pending(&self) -> bool {
        match self {
            EventReceiver::Newest(c) => c.has_pending(),
            EventReceiver::Oldest(c) => c.has_pending(),
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        match self {
            EventReceiver::Newest(c) => c.dropped(),
            EventReceiver::Oldest(c) => c.dropped(),
        }
    }

    pub(crate) fn attempts(&self) -> u64 {
        match self {
            EventReceiver::Newest(c) => c.attempts(),
            EventReceiver::Oldest(c) => c.attempts(),
        }
    }

    pub(crate) fn taken(&self) -> u64 {
        match self {
            EventReceiver::Newest(c) => c.taken(),
            EventReceiver::Oldest(c) => c.taken(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        match self {
            EventReceiver::Newest(c) => c.capacity(),
            EventReceiver::Oldest(c) => c.capacity(),
        }
    }

    pub(crate) fn policy(&self) -> OverflowPolicy {
        match self {
            EventReceiver::Newest(_) => OverflowPolicy::DropNewest,
            EventReceiver::Oldest(_) => OverflowPolicy::DropOldest,
        }
    }
}

/// The drop-oldest arm of [`EventSender::push`], out of line (module docs).
#[cold]
#[inline(never)]
fn push_oldest<T>(p: &mut overwrite::Producer<T>, value: T) -> Result<(), T> {
    drop(p.push(value));
    Ok(())
}

/// The drop-oldest arm of [`EventReceiver::pop`], out of line.
#[cold]
#[inline(never)]
fn pop_oldest<T>(c: &mut overwrite::Consumer<T>) -> Option<Delivery<T>> {
    c.pop()
}

/// The drop-oldest arm of [`EventReceiver::next_within`], out of line.
#[cold]
#[inline(never)]
fn next_oldest<T>(c: &mut overwrite::Consumer<T>, s: &overwrite::Snapshot) -> Option<Delivery<T>> {
    c.next_within(s)
}

impl<T> fmt::Debug for EventReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventReceiver::Newest(c) => c.fmt(f),
            EventReceiver::Oldest(c) => c.fmt(f),
        }
    }
}
