//! Overrun counts: how many raises each report of a signal stands for, the
//! analogue of POSIX `timer_getoverrun(2)`.
//!
//! Opt-in per channel ([`Builder::overrun_counts`](crate::Builder::overrun_counts)).
//! Without it a raise stays one `fetch_or` on the pending word.
//!
//! # The protocol
//!
//! With counts kept, each signal has a counter next to its pending bit:
//!
//! - a raise adds 1 to the signal's counter (`fetch_add`), then sets the
//!   pending bit (`fetch_or`) as any raise does; the raise that finds the
//!   bit clear checks the doorbell;
//! - a take takes the pending word, then swaps the counter of every signal
//!   it took to 0, and reports the signals whose counter was not 0, with it.
//!
//! Each raise is counted by exactly one take: the first take that takes the
//! signal's bit after the raise's increment (the raise sets the bit after
//! its increment, so there is one), or an earlier one whose counter swap
//! came after the increment. A take that finds a counter at 0 took a bit
//! whose raises an earlier take had counted already (the raise incremented
//! before that take's counter swap and set the bit after its pending swap):
//! it does not report the signal again. So every signal reported counts at
//! least 1, and none is lost (S1).
//!
//! Every raise sets the bit itself before it returns, so a signal raised
//! before a send is pending when the event arrives (S13), whatever other
//! raisers of it are doing. (Letting the counter decide which raise sets
//! the bit, with the others merging on the counter alone, saves a
//! `fetch_or` but breaks S13: a raise could merge into one whose bit is not
//! set yet, and return; the loom model
//! `overrun_counts_keep_cross_class_order` finds it.)
//!
//! The counters are 64-bit (at a raise per nanosecond they would wrap after
//! 584 years); a report saturates at `u32::MAX`.

use std::fmt;

use crate::signals::{Signal, SignalSet};
use crate::sync::{AtomicU64, Ordering};

/// The per-signal raise counters of a channel that keeps overrun counts.
pub(crate) struct OverrunCounts {
    counts: [AtomicU64; Signal::COUNT as usize],
}

impl OverrunCounts {
    pub(crate) fn new() -> OverrunCounts {
        OverrunCounts {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Raiser side: counts a raise of `signal`, before it sets the bit.
    #[inline]
    pub(crate) fn count(&self, signal: Signal) {
        // Release: pairs with the Acquire swap in `take`, so that a take
        // that counts this raise sees what the raiser wrote before raising
        // (a `raise_with` value), even one that took the bit before this
        // raise set it.
        self.counts[signal.number() as usize].fetch_add(1, Ordering::Release);
    }

    /// Receiver side, after taking `signal`'s pending bit: the raises the
    /// take stands for, and the counter back to 0.
    #[inline]
    pub(crate) fn take(&self, signal: Signal) -> u64 {
        // Acquire: pairs with the Release increment in `count`.
        self.counts[signal.number() as usize].swap(0, Ordering::Acquire)
    }

    /// Sets a counter, so a test can start near saturation without 2^32
    /// raises.
    #[cfg(all(test, not(eventsig_loom)))]
    fn preset(&self, signal: Signal, count: u64) {
        self.counts[signal.number() as usize].store(count, Ordering::Relaxed);
    }
}

/// What [`Receiver::take_signals_counted`](crate::Receiver::take_signals_counted)
/// took: the signals, and for each the number of raises the take stands for
/// (1 when no raise merged, the POSIX overrun count plus one).
///
/// A small `Copy` value (64 counts); making it allocates nothing.
///
/// ```
/// use eventsig::Signal;
/// let tick = Signal::new(5)?;
/// let (tx, mut rx) = eventsig::builder().overrun_counts(true).build::<()>()?;
/// for _ in 0..3 {
///     tx.raise(tick)?;
/// }
/// let taken = rx.take_signals_counted();
/// assert_eq!(taken.signals().iter().collect::<Vec<_>>(), [tick]);
/// assert_eq!((taken.count(tick), taken.overruns(tick)), (3, 2));
/// assert_eq!(format!("{taken:?}"), "{5: 3}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalCounts {
    signals: SignalSet,
    counts: [u32; Signal::COUNT as usize],
}

impl SignalCounts {
    /// No signal taken.
    pub(crate) const EMPTY: SignalCounts = SignalCounts {
        signals: SignalSet::EMPTY,
        counts: [0; Signal::COUNT as usize],
    };

    /// Records `signal` as taken with `count` raises (saturating).
    pub(crate) fn set(&mut self, signal: Signal, count: u64) {
        self.signals = self.signals.with(signal);
        self.counts[signal.number() as usize] = u32::try_from(count).unwrap_or(u32::MAX);
    }

    /// The signals taken.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (tx, mut rx) = eventsig::builder().overrun_counts(true).build::<()>()?;
    /// tx.raise(Signal::new(1)?)?;
    /// assert_eq!(rx.take_signals_counted().signals().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signals(&self) -> SignalSet {
        self.signals
    }

    /// Whether no signal was taken.
    ///
    /// ```
    /// let (_tx, mut rx) = eventsig::builder().overrun_counts(true).build::<()>()?;
    /// assert!(rx.take_signals_counted().is_empty());
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.signals.is_empty()
    }

    /// The raises of `signal` the take stands for: at least 1 for a signal
    /// taken, 0 for one not taken; `u32::MAX` if more (saturating).
    ///
    /// On a channel built without
    /// [`overrun_counts`](crate::Builder::overrun_counts) nothing is counted,
    /// and every signal taken counts 1 (the least it stands for).
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let s = Signal::new(2)?;
    /// let (tx, mut rx) = eventsig::builder().overrun_counts(true).build::<()>()?;
    /// tx.raise(s)?;
    /// tx.raise(s)?;
    /// let taken = rx.take_signals_counted();
    /// assert_eq!(taken.count(s), 2);
    /// assert_eq!(taken.count(Signal::new(3)?), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count(&self, signal: Signal) -> u32 {
        self.counts[signal.number() as usize]
    }

    /// The raises of `signal` merged into the one reported: `count - 1`, 0
    /// for a signal not taken. The POSIX timer overrun count.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let s = Signal::new(2)?;
    /// let (tx, mut rx) = eventsig::builder().overrun_counts(true).build::<()>()?;
    /// tx.raise(s)?;
    /// assert_eq!(rx.take_signals_counted().overruns(s), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn overruns(&self, signal: Signal) -> u32 {
        self.count(signal).saturating_sub(1)
    }

    /// The signals taken with their counts, in increasing signal order.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (tx, mut rx) = eventsig::builder().overrun_counts(true).build::<()>()?;
    /// tx.raise(Signal::new(9)?)?;
    /// tx.raise(Signal::new(4)?)?;
    /// tx.raise(Signal::new(9)?)?;
    /// let counts: Vec<(u32, u32)> = rx
    ///     .take_signals_counted()
    ///     .iter()
    ///     .map(|(s, n)| (s.number(), n))
    ///     .collect();
    /// assert_eq!(counts, [(4, 1), (9, 2)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (Signal, u32)> + '_ {
        self.signals.iter().map(|s| (s, self.count(s)))
    }
}

impl Default for SignalCounts {
    fn default() -> SignalCounts {
        SignalCounts::EMPTY
    }
}

impl fmt::Debug for SignalCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(s, n)| (s.number(), n)))
            .finish()
    }
}

#[cfg(all(test, not(eventsig_loom)))]
mod tests {
    use super::*;

    fn sig(n: u32) -> Signal {
        Signal::new(n).unwrap()
    }

    #[test]
    fn a_take_swaps_the_count_to_zero() {
        let counts = OverrunCounts::new();
        counts.count(sig(1));
        counts.count(sig(1));
        counts.count(sig(2));
        assert_eq!(counts.take(sig(1)), 2);
        assert_eq!(counts.take(sig(1)), 0);
        counts.count(sig(1));
        assert_eq!((counts.take(sig(1)), counts.take(sig(2))), (1, 1));
    }

    #[test]
    fn reports_saturate_at_u32_max() {
        let counts = OverrunCounts::new();
        counts.preset(sig(7), u64::from(u32::MAX) - 1);
        counts.count(sig(7));
        let mut report = SignalCounts::EMPTY;
        report.set(sig(7), counts.take(sig(7)));
        assert_eq!(report.count(sig(7)), u32::MAX);
        counts.preset(sig(7), u64::from(u32::MAX));
        counts.count(sig(7));
        report.set(sig(7), counts.take(sig(7)));
        assert_eq!(report.count(sig(7)), u32::MAX, "saturated, not wrapped");
        assert_eq!(report.overruns(sig(7)), u32::MAX - 1);
        assert_eq!(report.signals(), SignalSet::from(sig(7)));
    }
}
