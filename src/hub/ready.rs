//! The hub's ready set: which rings have work, without a scan of all rings
//! and without a read-modify-write per send.
//!
//! # Two levels
//!
//! - **Announcement flag**, one per slot (`Slot::announced`), on a cache
//!   line that only that slot's sender and the receiver touch. It holds the
//!   generation of the sender that announced its ring, or 0 once the
//!   receiver has taken the ring off its active list. A sender checks it
//!   after every publication with a plain load: while the receiver has the
//!   ring active the flag already holds the sender's generation, and the
//!   send costs no store and no read-modify-write on any shared line.
//! - **Ready words** ([`ReadyWords`]), one bit per slot, 64 slots a word,
//!   each word on its own cache line. A sender whose flag does not hold its
//!   generation stores it, then sets its bit (`fetch_or`): one RMW per
//!   transition from inactive to active, not per send. The receiver takes a
//!   word whole (`swap(0)`, after a load that skips empty words) and puts
//!   each ring it names on its own, local, active list; so a pass costs a
//!   load per 64 slots plus the rings that have work.
//!
//! The receiver keeps a ring active while it has work, and through a few
//! empty turns while it is busy with other rings (a sender that is busy
//! but slower than the receiver would otherwise be deactivated at every
//! pass and announce itself again at every send: the flag and the word
//! would bounce between the cores). A pass that delivers nothing at all,
//! or the fourth empty turn in a row, *deactivates* the ring: the receiver
//! clears the flag (a swap to 0), re-checks the ring once, and keeps it on a
//! local *suspect* list (see below). A bit that names a ring already active,
//! or a slot whose sender is gone, is harmless: the receiver checks the slot
//! before it uses the bit.
//!
//! # Why no ring with work is left out (the ring's lost wake-up)
//!
//! Producer, after each publication `E` (an accepted event, a drop, its
//! close):
//!
//! 1. `E`; barrier `F1` (the wake-up protocol's light barrier);
//! 2. load the flag (`L`); if it holds the sender's generation: load the park
//!    flag, and ring if the receiver is parked (ordered by `F1`);
//! 3. otherwise (a *transition*): store the generation, `fetch_or` the bit
//!    (`M`, Release), barrier `F2`, then the park-flag check.
//!
//! Receiver, deactivating ring `A` at the end of a turn that found it empty:
//! clear the flag (`C`), re-check `A`, keep it a *suspect*. Going to sleep:
//! store the park flag, heavy barrier `H`, re-check every source (signals,
//! ready words, active list, suspects, close); sleep only if all are empty.
//!
//! The danger is the store-buffer race between `E`/`L` and `C`/re-check: `L`
//! reads the value from before `C` (the ring looks active: no announcement)
//! while the receiver's re-check after `C` does not see `E` yet. Closing it
//! at once would need a heavy barrier at every deactivation. So the receiver
//! does not trust a deactivation until its next heavy barrier: a deactivated
//! ring stays a suspect, re-checked (two loads) at the start of every pass,
//! until the receiver has run `H` and re-checked it once more after it. `H`
//! runs when the receiver parks (the wake-up protocol runs it anyway) and,
//! while suspects exist, at most once per [`COMMIT_INTERVAL`] for a receiver
//! that never parks (it looks at the clock every [`COMMIT_PASSES`] passes).
//! With fences (the fallback barrier), in the single order `S`
//! of SeqCst fences:
//!
//! - **`L` reads a value from before `C`.** Take the first `H` after `C`.
//!   If `H` came before `F1` in `S`, `L` (after `F1`) would have to see `C`
//!   or later (`C` is sequenced before `H`: C++20 \[atomics.order\], the
//!   fence-fence rule). So `F1` precedes `H`, and the re-check of the
//!   suspect `A` after `H` sees `E`: `A` goes back on the active list.
//! - **`L` reads `C` or later, so the producer announces.** At any later
//!   sleep: if `F2` precedes `H`, the re-check of the ready words after `H`
//!   sees `M`; if `H` precedes `F2`, the park-flag load after `F2` sees the
//!   receiver parked and rings, and the eventfd write and read carry `M` to
//!   the receiver's next pass.
//! - **The flag holds the generation because the receiver has `A` active.**
//!   The receiver visits `A` every pass until a turn finds it empty; that
//!   deactivation's `C` comes after the value `L` read, which is the first
//!   case.
//!
//! With `membarrier(2)` (the default barrier) `F1` and `F2` are compiler
//! fences and `H` puts a full barrier into the producer's instruction stream
//! at some point `P`: a load of the flag after `P` sees `C` (made before the
//! call), so an `L` that missed `C` came before `P`, and so did `E`, which
//! the re-check after the call then sees; a bit set before `P` is seen by
//! the re-check, and a park-flag load after `P` sees the receiver parked.
//!
//! A suspect whose re-check after a heavy barrier finds nothing leaves the
//! suspects: any later publication's `L` sees `C` or a later value, so the
//! producer announces it. Between heavy barriers, the re-check at every pass
//! finds the publication as soon as the hardware makes it visible
//! (nanoseconds), which keeps a trickling ring served promptly under a
//! flood. The common send pays `F1` only, the channel's one barrier; a
//! transition pays `F2` too.
//!
//! loom checks this with fences (`tests/loom.rs`, the `hub_*` models),
//! including a mutant receiver that trusts a deactivation at once (no
//! suspects: `--cfg eventsig_loom_hub_mutant`), in which loom must find the
//! lost wake-up.
//!
//! # One doorbell write per sleep, whatever the number of rings
//!
//! The hub has one park flag, and every ring uses the doorbell's claim: a
//! write is made only by whoever swaps the park flag from set to clear, so
//! at most one per park, however many rings publish during one sleep.
//!
//! # Orderings of the bits
//!
//! The `fetch_or` is Release and the receiver's `swap` Acquire: taking the
//! bit makes the publications before it (events, the close, the flag store)
//! visible, so the receiver's first turn on a newly announced ring sees its
//! events, and its later clear of the flag comes after the sender's store in
//! the flag's modification order.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Ordering};

/// Passes a receiver that never parks makes between two looks at the clock
/// while it has suspects: at each, if [`COMMIT_INTERVAL`] has passed since
/// the last commit, it commits them with a heavy barrier.
pub(super) const COMMIT_PASSES: u32 = 1024;

/// The least time between two heavy barriers of a receiver that never parks.
/// A heavy barrier is `membarrier(2)`: ~10 µs on a virtual machine, and an
/// interrupt on every CPU running one of the process's threads, the senders
/// included. Counted by passes alone, their rate would follow the pass
/// rate, which is highest for a receiver spinning on empty passes; one per
/// millisecond bounds them at ~1% of the time, and a suspect stays one
/// (re-checked at each pass, one load) for about that long.
pub(super) const COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1);

/// Slots per ready word.
pub(super) const WORD_BITS: usize = 64;

/// Words of 64 bits needed for `slots` slots.
pub(super) fn words_for(slots: usize) -> usize {
    (slots + WORD_BITS - 1) / WORD_BITS
}

/// The shared ready words: bit `i % 64` of word `i / 64` is slot `i`.
pub(super) struct ReadyWords {
    words: Box<[CachePadded<AtomicU64>]>,
}

impl ReadyWords {
    pub(super) fn new(slots: usize) -> ReadyWords {
        ReadyWords {
            words: (0..words_for(slots))
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Producer side: marks slot `index` ready, after its announcement flag
    /// was stored.
    #[cold]
    pub(super) fn mark(&self, index: usize) {
        // Release: the publications before it (ring indices, the close, the
        // flag store) are visible to the receiver whose Acquire `swap` in
        // `take` reads this bit.
        self.words[index / WORD_BITS].fetch_or(1 << (index % WORD_BITS), Ordering::Release);
    }

    /// Receiver side: takes the marks of word `word`, leaving it empty.
    #[inline]
    pub(super) fn take(&self, word: usize) -> u64 {
        let w = &self.words[word];
        // Relaxed: a hint that saves the RMW on an empty word; a mark it
        // misses is taken by the next pass, or seen by the re-check after a
        // park's heavy barrier (see the module docs).
        if w.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        // Acquire: pairs with the Release `fetch_or` in `mark`.
        w.swap(0, Ordering::Acquire)
    }

    /// Whether any slot is marked (the receiver's re-check).
    pub(super) fn any(&self) -> bool {
        // Relaxed: after the heavy barrier of a park the barrier orders
        // these loads (see the module docs); elsewhere a hint.
        self.words.iter().any(|w| w.load(Ordering::Relaxed) != 0)
    }

    pub(super) fn len(&self) -> usize {
        self.words.len()
    }
}

/// A plain bit set over the slots, for the receiver's own lists (active,
/// suspects, the rings still to visit in a pass). Allocated once.
#[derive(Debug, Clone)]
pub(super) struct Bits {
    words: Box<[u64]>,
}

impl Bits {
    pub(super) fn new(slots: usize) -> Bits {
        Bits {
            words: vec![0; words_for(slots)].into_boxed_slice(),
        }
    }

    #[inline]
    pub(super) fn set(&mut self, i: usize) {
        self.words[i / WORD_BITS] |= 1 << (i % WORD_BITS);
    }

    #[inline]
    pub(super) fn clear(&mut self, i: usize) {
        self.words[i / WORD_BITS] &= !(1 << (i % WORD_BITS));
    }

    pub(super) fn any(&self) -> bool {
        self.words.iter().any(|&w| w != 0)
    }

    /// Word `k` of the set: members `64 * k ..`.
    pub(super) fn word(&self, k: usize) -> u64 {
        self.words[k]
    }

    pub(super) fn clear_all(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
    }

    /// Makes this set equal to `other` (same size), without allocating.
    pub(super) fn copy_from(&mut self, other: &Bits) {
        self.words.copy_from_slice(&other.words);
    }

    /// The smallest member at or after `start`, else the smallest member:
    /// the next ring of a round-robin pass that began at `start`.
    pub(super) fn next_from(&self, start: usize) -> Option<usize> {
        let first = start / WORD_BITS;
        if let Some(w) = self.words.get(first) {
            let masked = w & (u64::MAX << (start % WORD_BITS));
            if masked != 0 {
                return Some(first * WORD_BITS + masked.trailing_zeros() as usize);
            }
        }
        let after = self.words.iter().enumerate().skip(first + 1);
        let before = self.words.iter().enumerate().take(first + 1);
        after
            .chain(before)
            .find(|(_, &w)| w != 0)
            .map(|(k, &w)| k * WORD_BITS + w.trailing_zeros() as usize)
    }

    /// The members, in increasing order.
    pub(super) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words
            .iter()
            .enumerate()
            .flat_map(|(k, &w)| ones(w).map(move |b| k * WORD_BITS + b))
    }
}

/// The positions of the one bits of `w`, in increasing order.
pub(super) fn ones(mut w: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if w == 0 {
            return None;
        }
        let b = w.trailing_zeros() as usize;
        w &= w - 1;
        Some(b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_from_goes_round_robin() {
        let mut b = Bits::new(200);
        for i in [3, 64, 70, 199] {
            b.set(i);
        }
        assert_eq!(b.next_from(0), Some(3));
        assert_eq!(b.next_from(4), Some(64));
        assert_eq!(b.next_from(65), Some(70));
        assert_eq!(b.next_from(71), Some(199));
        assert_eq!(b.next_from(199), Some(199));
        b.clear(199);
        assert_eq!(b.next_from(71), Some(3), "wraps to the start");
        assert_eq!(b.iter().collect::<Vec<_>>(), [3, 64, 70]);
        b.clear_all();
        assert_eq!(b.next_from(10), None);
        assert!(!b.any());
    }

    #[test]
    fn marks_are_taken_once() {
        let r = ReadyWords::new(130);
        assert_eq!(r.len(), 3);
        r.mark(1);
        r.mark(129);
        r.mark(1);
        assert!(r.any());
        assert_eq!(r.take(0), 0b10);
        assert_eq!(r.take(0), 0);
        assert_eq!(r.take(2), 0b10);
        assert!(!r.any());
        assert_eq!(ones(0b1010_0001).collect::<Vec<_>>(), [0, 5, 7]);
    }
}
