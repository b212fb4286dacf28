//! Latest-value slots: a `u64` per signal that a raise may carry
//! ([`Raiser::raise_with`](crate::Raiser::raise_with)), the last one winning,
//! as QEMU keeps only the latest state of a throttled event.
//!
//! # Why a value is never older than the raise that made its signal pending
//!
//! A raise with a value stores the value in the signal's slot, then raises
//! as usual: the `fetch_or` on the pending word (or, with overrun counts, the
//! `fetch_add` on the signal's counter) is a Release read-modify-write. A
//! take takes the pending word (and the counters) with Acquire and then
//! loads the slots of the signals it took. The raise that made a signal
//! pending is in the release sequence the take reads from, so its store
//! happens before the take's load, which therefore returns that value or a
//! later one (in the slot's modification order), never an earlier one. A
//! merged raise whose read-modify-write comes before the take is covered the
//! same way. A raise whose store lands before the take's load but whose
//! read-modify-write comes after it makes its signal pending again: the
//! next take reports the signal, with that value or a later one. A value is
//! one `AtomicU64`: never torn.
//!
//! A second word records which signals have ever been given a value, so a
//! take can tell a value from an empty slot; a raise writes it only the
//! first time (after a load), before its read-modify-write, like the value.

use crossbeam_utils::CachePadded;

use crate::signals::{Signal, SignalSet};
use crate::sync::{AtomicU64, Ordering};

/// The value slots of a channel.
pub(crate) struct ValueSlots {
    /// Written by raisers with a value: apart from the other shared words.
    inner: CachePadded<Slots>,
}

struct Slots {
    /// Bit `n`: signal `n` has been raised with a value at least once.
    valued: AtomicU64,
    slots: [AtomicU64; Signal::COUNT as usize],
}

impl ValueSlots {
    pub(crate) fn new() -> ValueSlots {
        ValueSlots {
            inner: CachePadded::new(Slots {
                valued: AtomicU64::new(0),
                slots: std::array::from_fn(|_| AtomicU64::new(0)),
            }),
        }
    }

    /// Raiser side, before the raise: stores `value` as `signal`'s latest.
    #[inline]
    pub(crate) fn store(&self, signal: Signal, value: u64) {
        let Slots { valued, slots } = &*self.inner;
        // Relaxed: published by the raise's Release read-modify-write that
        // follows (module docs).
        slots[signal.number() as usize].store(value, Ordering::Relaxed);
        // Relaxed (both): published like the value. The load keeps a
        // signal's later raises from writing the shared word.
        if valued.load(Ordering::Relaxed) & signal.bit() == 0 {
            valued.fetch_or(signal.bit(), Ordering::Relaxed);
        }
    }

    /// Receiver side, after the take (Acquire) that took `taken`: writes the
    /// latest value of each signal taken into `out`, `None` for a signal
    /// never raised with a value; other entries are left as they are.
    pub(crate) fn read_into(&self, taken: SignalSet, out: &mut [Option<u64>; 64]) {
        let Slots { valued, slots } = &*self.inner;
        // Relaxed (both loads): ordered after the caller's Acquire take.
        let valued = valued.load(Ordering::Relaxed);
        for signal in taken {
            let n = signal.number() as usize;
            out[n] = (valued & signal.bit() != 0).then(|| slots[n].load(Ordering::Relaxed));
        }
    }
}

#[cfg(all(test, not(eventsig_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_wins_and_an_empty_slot_reads_none() {
        let values = ValueSlots::new();
        let (a, b, c) = (
            Signal::new(0).unwrap(),
            Signal::new(5).unwrap(),
            Signal::new(63).unwrap(),
        );
        values.store(a, 1);
        values.store(a, u64::MAX);
        values.store(c, 0);
        let mut out = [Some(7); 64];
        values.read_into(SignalSet::from(a) | b | c, &mut out);
        assert_eq!((out[0], out[5], out[63]), (Some(u64::MAX), None, Some(0)));
        assert_eq!(out[1], Some(7), "entries not taken are left alone");
    }
}
