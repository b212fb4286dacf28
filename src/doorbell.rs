//! The wake-up protocol: a park flag in front of the eventfd.
//!
//! # Why no wake-up is lost (S9)
//!
//! Producer, after publishing (a ring index store, a `fetch_or`, a close):
//! `fence(SeqCst)`, then load the park flag; if it is set, claim it with a
//! swap and write the eventfd.
//!
//! Consumer, before it may sleep: store the park flag, `fence(SeqCst)`, then
//! re-check every source (signals, ring, gap, close); it sleeps only if all are
//! empty.
//!
//! The two fences are ordered one way or the other in the single total order
//! of SeqCst fences. If the producer's fence comes first, the consumer's
//! re-check (after its own fence) sees the publication, and the consumer does
//! not sleep. If the consumer's fence comes first, the producer's load of the
//! flag (after its fence) sees `true`, and the producer rings the bell. Either
//! way the consumer learns of the publication: the store-buffer race that a
//! plain Release/Acquire pair leaves open is closed.
//!
//! The fences above are the symmetric form, which loom checks. Where
//! `membarrier(2)` is available the pair is asymmetric instead: a compiler
//! fence on the producer, `membarrier` on the consumer (see `barrier.rs`).
//!
//! # Why producers make no syscall while the consumer is awake (S10)
//!
//! The flag is set only by a consumer about to sleep, and a producer writes
//! the eventfd only after winning the swap that clears it: one write per
//! sleep at most, none while the flag is clear.

use crossbeam_utils::CachePadded;

use crate::barrier::Barrier;
use crate::sync::{AtomicBool, AtomicU64, Bell, Ordering};

pub(crate) struct Doorbell {
    /// Set by a consumer that may sleep; cleared by whoever claims it.
    pub(crate) parked: CachePadded<AtomicBool>,
    /// eventfd writes made, for [`Stats`](crate::Stats).
    writes: AtomicU64,
    efd: Bell,
    pub(crate) barrier: Barrier,
}

impl Doorbell {
    pub(crate) fn new(efd: Bell, barrier: Barrier) -> Doorbell {
        Doorbell {
            parked: CachePadded::new(AtomicBool::new(false)),
            writes: AtomicU64::new(0),
            efd,
            barrier,
        }
    }

    pub(crate) fn eventfd(&self) -> &Bell {
        &self.efd
    }

    /// Producer side: call right after publishing something the consumer
    /// must learn of.
    #[inline]
    pub(crate) fn ring_if_parked(&self) {
        // StoreLoad barrier: orders the caller's publication before the load
        // of `parked`; pairs with the heavy barrier in `park` (see the module
        // docs and `barrier.rs`). The loom mutant removes it, and loom must
        // then find a lost wake-up.
        #[cfg(not(eventsig_loom_mutant))]
        self.barrier.light();
        // Relaxed: ordering comes from the fence above.
        if self.parked.load(Ordering::Relaxed) {
            self.claim_and_ring();
        }
    }

    #[cold]
    pub(crate) fn claim_and_ring(&self) {
        // Relaxed: the swap only elects one ringer per sleep; the eventfd
        // write and read order the rest.
        if self.parked.swap(false, Ordering::Relaxed) {
            self.ring();
        }
    }

    /// Writes the eventfd for whoever claimed the flag, and counts the write.
    fn ring(&self) {
        // Relaxed: a statistic.
        self.writes.fetch_add(1, Ordering::Relaxed);
        // An eventfd write of 1 fails only with EAGAIN (counter full: the fd
        // is readable already, reported as Ok) or on a bad fd, which an owned
        // fd is not; there is nobody to report an error to on this path.
        let _ = self.efd.notify();
    }

    /// Consumer side, before it may sleep: announce it. The caller must
    /// re-check every source afterwards and sleep only if all are empty.
    pub(crate) fn park(&self) {
        // Relaxed: ordered by the fence that follows. A swap rather than a
        // store: the same here (only the consumer sets the flag), and loom
        // 0.7 checks a plain store followed by a SeqCst fence too weakly: it
        // lets a producer's load after its own fence read an older value,
        // a false lost wake-up that C++20 fence rules forbid.
        self.parked.swap(true, Ordering::Relaxed);
        // StoreLoad barrier: orders the store above before the caller's
        // re-check loads; pairs with the light barrier in `ring_if_parked`.
        self.barrier.heavy();
    }

    /// Consumer side, awake again: withdraw the flag. Returns whether a
    /// producer (or `ring_self`) had claimed it, i.e. whether an eventfd write
    /// was made or is on its way; the caller then clears the eventfd.
    pub(crate) fn unpark(&self) -> bool {
        // Relaxed: only the outcome of the claim matters; the eventfd write
        // and read order the rest.
        !self.parked.swap(false, Ordering::Relaxed)
    }

    /// Reads and resets the eventfd; returns the count, 0 if nothing had
    /// landed yet.
    pub(crate) fn clear(&self) -> u64 {
        // Reading an eventfd fails only with EAGAIN, which `clear` reports
        // as Ok(0); there is nothing else to report on this path.
        self.efd.clear().unwrap_or(0)
    }

    /// Consumer side: a re-check after `park` found something pending while
    /// an epoll user is about to sleep on the fd; make sure the fd is
    /// readable. If a producer already claimed the flag, its write does it.
    pub(crate) fn ring_self(&self) {
        if self.parked.swap(false, Ordering::Relaxed) {
            self.ring();
        }
    }

    /// Consumer side: makes the fd readable (again) without touching the park
    /// flag, for an epoll caller that should come back before it sleeps.
    /// Not counted in [`writes`](Doorbell::writes), which counts producers'.
    pub(crate) fn notify_self(&self) {
        // As in `ring`: EAGAIN means readable already; nothing else happens
        // on an owned eventfd.
        let _ = self.efd.notify();
    }

    pub(crate) fn writes(&self) -> u64 {
        // Relaxed: a statistic.
        self.writes.load(Ordering::Relaxed)
    }
}
