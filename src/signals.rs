//! Signals: 64 coalescing state bits, the user-space analogue of the kernel's
//! pending `sigset_t`.
//!
//! Raising a signal that is already pending merges with it (S2), and a raised
//! signal is never lost (S1): it stays pending until a take reports it. Neither
//! needs memory beyond one [`AtomicU64`]: a raise
//! is one `fetch_or`, a take is one `swap(0)`.
//!
//! [`PendingSignals`] is usable on its own (no fd, no allocation); the
//! [`channel`](crate::channel()) adds the eventfd doorbell on top.

use std::fmt;

use crate::sync::{AtomicU64, Ordering};

/// One of the 64 signal numbers of a channel (`0..64`).
///
/// ```
/// use eventsig::Signal;
/// let vm_stopped = Signal::new(3)?;
/// assert_eq!(vm_stopped.number(), 3);
/// assert!(Signal::new(64).is_err());
/// # Ok::<(), eventsig::InvalidSignal>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signal(u8);

impl Signal {
    /// The number of distinct signals a channel carries.
    ///
    /// ```
    /// use eventsig::Signal;
    /// assert!(Signal::new(Signal::COUNT - 1).is_ok());
    /// assert!(Signal::new(Signal::COUNT).is_err());
    /// ```
    pub const COUNT: u32 = 64;

    /// The signal numbered `n`.
    ///
    /// # Errors
    ///
    /// [`InvalidSignal`] if `n >= 64`.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// assert_eq!(Signal::new(63).map(|s| s.number()), Ok(63));
    /// assert_eq!(Signal::new(64).unwrap_err().number(), 64);
    /// ```
    pub const fn new(n: u32) -> Result<Signal, InvalidSignal> {
        if n < Self::COUNT {
            Ok(Signal(n as u8))
        } else {
            Err(InvalidSignal(n))
        }
    }

    /// The signal's number, in `0..64`.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// assert_eq!(Signal::new(7).unwrap().number(), 7);
    /// ```
    pub const fn number(self) -> u32 {
        self.0 as u32
    }

    /// The signal's bit in a pending word.
    pub(crate) const fn bit(self) -> u64 {
        1u64 << self.0
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signal({})", self.0)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signal {}", self.0)
    }
}

/// The error of [`Signal::new`]: the number is not below 64.
///
/// ```
/// # use eventsig::Signal;
/// let err = Signal::new(99).unwrap_err();
/// assert_eq!(err.to_string(), "signal number 99 is out of range 0..64");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSignal(u32);

impl InvalidSignal {
    /// The rejected number.
    ///
    /// ```
    /// assert_eq!(eventsig::Signal::new(70).unwrap_err().number(), 70);
    /// ```
    pub const fn number(self) -> u32 {
        self.0
    }
}

impl fmt::Display for InvalidSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signal number {} is out of range 0..64", self.0)
    }
}

impl std::error::Error for InvalidSignal {}

/// A set of [`Signal`]s: a small `Copy` value (one `u64`).
///
/// ```
/// use eventsig::{Signal, SignalSet};
/// let a = Signal::new(1)?;
/// let b = Signal::new(5)?;
/// let set = SignalSet::from(a) | b;
/// assert!(set.contains(a) && set.contains(b));
/// assert_eq!(set.len(), 2);
/// assert_eq!(set.iter().map(Signal::number).collect::<Vec<_>>(), [1, 5]);
/// assert_eq!(format!("{set:?}"), "{1, 5}");
/// assert!((set - b - a).is_empty());
/// # Ok::<(), eventsig::InvalidSignal>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SignalSet(u64);

impl SignalSet {
    /// The empty set.
    ///
    /// ```
    /// use eventsig::SignalSet;
    /// assert!(SignalSet::EMPTY.is_empty());
    /// assert_eq!(SignalSet::EMPTY, SignalSet::default());
    /// ```
    pub const EMPTY: SignalSet = SignalSet(0);
    /// All 64 signals.
    ///
    /// ```
    /// use eventsig::{Signal, SignalSet};
    /// assert_eq!(SignalSet::ALL.len(), 64);
    /// assert!(SignalSet::ALL.contains(Signal::new(63).unwrap()));
    /// ```
    pub const ALL: SignalSet = SignalSet(u64::MAX);

    /// The set whose members are the one bits of `bits` (bit `n` is signal `n`).
    ///
    /// ```
    /// # use eventsig::SignalSet;
    /// assert_eq!(SignalSet::from_bits(0b101).len(), 2);
    /// ```
    pub const fn from_bits(bits: u64) -> SignalSet {
        SignalSet(bits)
    }

    /// The set as a bit word (bit `n` is signal `n`).
    ///
    /// ```
    /// # use eventsig::{Signal, SignalSet};
    /// assert_eq!(SignalSet::from(Signal::new(2).unwrap()).bits(), 0b100);
    /// ```
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether `signal` is in the set.
    ///
    /// ```
    /// # use eventsig::{Signal, SignalSet};
    /// let s = Signal::new(9).unwrap();
    /// assert!(SignalSet::from(s).contains(s));
    /// assert!(!SignalSet::EMPTY.contains(s));
    /// ```
    pub const fn contains(self, signal: Signal) -> bool {
        self.0 & signal.bit() != 0
    }

    /// Whether the set has no member.
    ///
    /// ```
    /// # use eventsig::SignalSet;
    /// assert!(SignalSet::EMPTY.is_empty());
    /// ```
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The number of members.
    ///
    /// ```
    /// # use eventsig::SignalSet;
    /// assert_eq!(SignalSet::ALL.len(), 64);
    /// ```
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The set with `signal` added.
    ///
    /// ```
    /// # use eventsig::{Signal, SignalSet};
    /// let s = Signal::new(4).unwrap();
    /// assert!(SignalSet::EMPTY.with(s).contains(s));
    /// ```
    #[must_use]
    pub const fn with(self, signal: Signal) -> SignalSet {
        SignalSet(self.0 | signal.bit())
    }

    /// The set with `signal` removed.
    ///
    /// ```
    /// # use eventsig::{Signal, SignalSet};
    /// let s = Signal::new(4).unwrap();
    /// assert!(SignalSet::ALL.without(s).len() == 63);
    /// ```
    #[must_use]
    pub const fn without(self, signal: Signal) -> SignalSet {
        SignalSet(self.0 & !signal.bit())
    }

    /// Members of either set.
    ///
    /// ```
    /// # use eventsig::SignalSet;
    /// assert_eq!(SignalSet::from_bits(1).union(SignalSet::from_bits(2)).bits(), 3);
    /// ```
    #[must_use]
    pub const fn union(self, other: SignalSet) -> SignalSet {
        SignalSet(self.0 | other.0)
    }

    /// Members of both sets.
    ///
    /// ```
    /// # use eventsig::SignalSet;
    /// assert_eq!(SignalSet::from_bits(3).intersection(SignalSet::from_bits(6)).bits(), 2);
    /// ```
    #[must_use]
    pub const fn intersection(self, other: SignalSet) -> SignalSet {
        SignalSet(self.0 & other.0)
    }

    /// Members of `self` that are not in `other`.
    ///
    /// ```
    /// # use eventsig::SignalSet;
    /// assert_eq!(SignalSet::from_bits(3).difference(SignalSet::from_bits(6)).bits(), 1);
    /// ```
    #[must_use]
    pub const fn difference(self, other: SignalSet) -> SignalSet {
        SignalSet(self.0 & !other.0)
    }

    /// The members in increasing order.
    ///
    /// ```
    /// # use eventsig::SignalSet;
    /// let numbers: Vec<u32> = SignalSet::from_bits(0b1010).iter().map(|s| s.number()).collect();
    /// assert_eq!(numbers, [1, 3]);
    /// ```
    pub fn iter(self) -> SignalIter {
        SignalIter(self.0)
    }
}

impl From<Signal> for SignalSet {
    fn from(signal: Signal) -> SignalSet {
        SignalSet(signal.bit())
    }
}

impl FromIterator<Signal> for SignalSet {
    fn from_iter<I: IntoIterator<Item = Signal>>(iter: I) -> SignalSet {
        iter.into_iter().fold(SignalSet::EMPTY, SignalSet::with)
    }
}

impl IntoIterator for SignalSet {
    type Item = Signal;
    type IntoIter = SignalIter;
    fn into_iter(self) -> SignalIter {
        self.iter()
    }
}

impl std::ops::BitOr for SignalSet {
    type Output = SignalSet;
    fn bitor(self, rhs: SignalSet) -> SignalSet {
        self.union(rhs)
    }
}

impl std::ops::BitOr<Signal> for SignalSet {
    type Output = SignalSet;
    fn bitor(self, rhs: Signal) -> SignalSet {
        self.with(rhs)
    }
}

impl std::ops::BitOrAssign for SignalSet {
    fn bitor_assign(&mut self, rhs: SignalSet) {
        *self = self.union(rhs);
    }
}

impl std::ops::BitAnd for SignalSet {
    type Output = SignalSet;
    fn bitand(self, rhs: SignalSet) -> SignalSet {
        self.intersection(rhs)
    }
}

impl std::ops::Sub for SignalSet {
    type Output = SignalSet;
    fn sub(self, rhs: SignalSet) -> SignalSet {
        self.difference(rhs)
    }
}

impl std::ops::Sub<Signal> for SignalSet {
    type Output = SignalSet;
    fn sub(self, rhs: Signal) -> SignalSet {
        self.without(rhs)
    }
}

impl fmt::Debug for SignalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Signal::number))
            .finish()
    }
}

/// The iterator of [`SignalSet::iter`]: members in increasing order.
///
/// ```
/// use eventsig::{Signal, SignalSet};
/// let set: SignalSet = [9, 2].into_iter().map(|n| Signal::new(n).unwrap()).collect();
/// let numbers: Vec<u32> = set.iter().map(Signal::number).collect();
/// assert_eq!(numbers, [2, 9]);
/// ```
#[derive(Debug, Clone)]
pub struct SignalIter(u64);

impl Iterator for SignalIter {
    type Item = Signal;

    fn next(&mut self) -> Option<Signal> {
        if self.0 == 0 {
            return None;
        }
        let n = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(Signal(n as u8))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for SignalIter {}

/// An atomic pending word: raises from any thread, takes by one consumer.
///
/// This is the signals layer on its own, with no fd and no allocation; a
/// [`channel`](crate::channel()) wraps one and adds the wake-up.
///
/// ```
/// use eventsig::{signals::PendingSignals, Signal};
/// let pending = PendingSignals::new();
/// let s = Signal::new(3)?;
/// assert!(pending.raise(s));      // newly pending
/// assert!(!pending.raise(s));     // merged with the pending raise (S2)
/// let taken = pending.take();
/// assert!(taken.contains(s) && taken.len() == 1);
/// assert!(pending.take().is_empty());
/// # Ok::<(), eventsig::InvalidSignal>(())
/// ```
#[derive(Default)]
pub struct PendingSignals {
    word: AtomicU64,
}

impl PendingSignals {
    /// An empty pending set.
    ///
    /// ```
    /// let p = eventsig::signals::PendingSignals::new();
    /// assert!(p.peek().is_empty());
    /// ```
    pub fn new() -> PendingSignals {
        PendingSignals {
            word: AtomicU64::new(0),
        }
    }

    /// Makes `signal` pending; returns whether it was not pending before.
    ///
    /// One `fetch_or`: lock-free, allocation-free, async-signal-safe.
    ///
    /// ```
    /// # use eventsig::{signals::PendingSignals, Signal};
    /// let p = PendingSignals::new();
    /// let s = Signal::new(4).unwrap();
    /// assert!(p.raise(s));   // made it pending
    /// assert!(!p.raise(s));  // merged with the pending raise
    /// ```
    pub fn raise(&self, signal: Signal) -> bool {
        // Release: pairs with the Acquire swap in `take`, so what the raiser
        // wrote before raising is visible to the taker that sees the bit.
        self.word.fetch_or(signal.bit(), Ordering::Release) & signal.bit() == 0
    }

    /// Takes the whole pending set, leaving it empty.
    ///
    /// ```
    /// # use eventsig::{signals::PendingSignals, Signal};
    /// let p = PendingSignals::new();
    /// p.raise(Signal::new(1).unwrap());
    /// assert_eq!(p.take().len(), 1);
    /// assert!(p.take().is_empty());
    /// ```
    pub fn take(&self) -> SignalSet {
        // Acquire: pairs with the Release fetch_or in `raise`.
        SignalSet(self.word.swap(0, Ordering::Acquire))
    }

    /// Takes the pending signals that are not in `blocked`, leaving the
    /// blocked ones pending. One `swap` when nothing is blocked, else one
    /// `fetch_and`.
    #[inline]
    pub(crate) fn take_unblocked(&self, blocked: SignalSet) -> SignalSet {
        if blocked.is_empty() {
            return self.take();
        }
        // Acquire: pairs with the Release fetch_or in `raise`, as in `take`.
        SignalSet(self.word.fetch_and(blocked.0, Ordering::Acquire)) - blocked
    }

    /// The pending set, without taking it (a racy snapshot: a raise may land
    /// right after).
    ///
    /// ```
    /// # use eventsig::{signals::PendingSignals, Signal};
    /// let p = PendingSignals::new();
    /// p.raise(Signal::new(1).unwrap());
    /// assert_eq!(p.peek().len(), 1);
    /// assert_eq!(p.take().len(), 1); // peek took nothing
    /// ```
    pub fn peek(&self) -> SignalSet {
        // Acquire: pairs with the Release fetch_or in `raise`, like `take`.
        SignalSet(self.word.load(Ordering::Acquire))
    }
}

impl fmt::Debug for PendingSignals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSignals")
            .field("pending", &self.peek())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iter_yields_every_member_once_in_order() {
        let set = SignalSet::from_bits(0x8000_0000_0000_0011);
        let got: Vec<u32> = set.iter().map(Signal::number).collect();
        assert_eq!(got, [0, 4, 63]);
        assert_eq!(set.iter().len(), 3);
    }

    #[test]
    fn collect_round_trips() {
        let set: SignalSet = [1, 2, 40]
            .iter()
            .map(|&n| Signal::new(n).unwrap())
            .collect();
        assert_eq!(set.bits(), (1 << 1) | (1 << 2) | (1 << 40));
    }

    #[test]
    fn raise_reports_only_the_first_of_merged_raises() {
        let p = PendingSignals::new();
        let s = Signal::new(63).unwrap();
        assert!(p.raise(s));
        assert!(!p.raise(s));
        assert_eq!(p.take(), SignalSet::from(s));
        assert!(p.raise(s));
    }

    #[test]
    fn take_unblocked_leaves_the_blocked_signals_pending() {
        let p = PendingSignals::new();
        let (a, b) = (Signal::new(1).unwrap(), Signal::new(2).unwrap());
        p.raise(a);
        p.raise(b);
        assert_eq!(p.take_unblocked(SignalSet::from(b)), SignalSet::from(a));
        assert_eq!(p.peek(), SignalSet::from(b));
        assert!(p.take_unblocked(SignalSet::from(b)).is_empty());
        assert_eq!(p.take_unblocked(SignalSet::EMPTY), SignalSet::from(b));
        assert!(p.peek().is_empty());
    }
}
