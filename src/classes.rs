//! Classes lost on overflow: which kinds of event a drop took away.
//!
//! A channel built with a classifier
//! ([`Builder::build_classified`](crate::Builder::build_classified)) runs it
//! on every event the ring refuses, on the producer and only then. The class
//! it names is a [`Signal`]: the sender raises it (so the receiver learns of
//! the loss like of any state change, coalesced and never lost), and records
//! it here, so that [`Overflow::classes`](crate::Overflow::classes) can say
//! which state to re-poll.
//!
//! # The record, and why an acknowledgement never clears an unseen class
//!
//! Drops are numbered 1, 2, 3, ... (the ring's drop count after each). For
//! every class the record keeps the number of its latest drop (its *epoch*),
//! and one word, `published`, the number of the latest drop whose class was
//! recorded. Only the one sender writes them: first the class's epoch, then
//! `published` with Release.
//!
//! The receiver reads `published` first (Acquire), so every epoch stored for
//! a drop up to it is visible; it reports every class whose epoch is above
//! the last acknowledged drop number, and an acknowledgement moves that
//! number to the `published` it read, no further. A class dropped after
//! that read has a larger epoch, so it stays reported. A class whose epoch
//! was stored after the read but seen anyway is reported once more than
//! needed (a redundant re-poll), never once less.

use crate::signals::{Signal, SignalSet};
use crate::sync::{AtomicU64, Ordering};

/// The classifier of a channel: runs on the producer, on a refused event.
pub(crate) type Classifier<T> = Box<dyn Fn(&T) -> Option<Signal> + Send>;

/// The record of lost classes, shared by the sender (writer) and the
/// receiver (reader).
pub(crate) struct LostClasses {
    /// The latest drop number whose class (or lack of one) was recorded.
    published: AtomicU64,
    /// Per class, the number of its latest drop; 0: none yet.
    epochs: [AtomicU64; Signal::COUNT as usize],
}

impl LostClasses {
    pub(crate) fn new() -> LostClasses {
        LostClasses {
            published: AtomicU64::new(0),
            epochs: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Sender side: drop number `drop` was of class `class` (`None`: the
    /// classifier named none).
    pub(crate) fn record(&self, drop: u64, class: Option<Signal>) {
        if let Some(class) = class {
            // Relaxed: published by the Release store of `published` below.
            self.epochs[class.number() as usize].store(drop, Ordering::Relaxed);
        }
        // Release: pairs with the Acquire load in `published`, so a receiver
        // that reads `drop` there sees the epoch stored above.
        self.published.store(drop, Ordering::Release);
    }

    /// Receiver side: the latest drop number whose class is visible.
    pub(crate) fn published(&self) -> u64 {
        // Acquire: pairs with the Release store in `record`.
        self.published.load(Ordering::Acquire)
    }

    /// Receiver side: the classes with a drop numbered above `acked`. Every
    /// class of a drop up to the caller's last [`published`] is included.
    ///
    /// [`published`]: LostClasses::published
    pub(crate) fn since(&self, acked: u64) -> SignalSet {
        let mut bits = 0u64;
        for (n, epoch) in self.epochs.iter().enumerate() {
            // Relaxed: ordered after the caller's Acquire load of
            // `published` (see the module docs).
            if epoch.load(Ordering::Relaxed) > acked {
                bits |= 1 << n;
            }
        }
        SignalSet::from_bits(bits)
    }
}

#[cfg(all(test, not(eventsig_loom)))]
mod tests {
    use super::*;

    fn sig(n: u32) -> Signal {
        Signal::new(n).unwrap()
    }

    #[test]
    fn since_reports_classes_dropped_after_the_acknowledged_number() {
        let lost = LostClasses::new();
        assert_eq!(lost.published(), 0);
        assert!(lost.since(0).is_empty());
        lost.record(1, Some(sig(3)));
        lost.record(2, None);
        lost.record(3, Some(sig(63)));
        assert_eq!(lost.published(), 3);
        assert_eq!(lost.since(0), SignalSet::from(sig(3)) | sig(63));
        assert_eq!(lost.since(1), SignalSet::from(sig(63)));
        assert!(lost.since(3).is_empty());
        // A class dropped again moves its epoch on.
        lost.record(4, Some(sig(3)));
        assert_eq!(lost.since(3), SignalSet::from(sig(3)));
    }
}
