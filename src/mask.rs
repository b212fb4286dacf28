//! The blocked-signal mask: `sigprocmask(2)` for a channel's signals.
//!
//! The receiver blocks and unblocks signals
//! ([`Receiver::block`](crate::Receiver::block),
//! [`Receiver::unblock`](crate::Receiver::unblock)). A blocked signal is
//! still raised and stays pending, but it does not wake the receiver, and no
//! take reports it until it is unblocked. The receiver keeps its own copy of
//! the mask (it is the only writer) and publishes it in one atomic word that
//! raisers read, so that a raise of a blocked signal makes no syscall.
//!
//! # Why no wake-up is lost (S9 with a mask)
//!
//! A raise that makes its signal pending (the `fetch_or`) then reads the
//! mask. If the signal is blocked it stops there: no doorbell, no syscall.
//! Otherwise it goes on as any raise does (barrier, park flag, eventfd).
//!
//! The race is a raise against an unblock. The raiser stores the pending
//! bit, then (after a StoreLoad barrier) loads the mask; the receiver stores
//! the mask, then, before it may sleep, parks: it stores the park flag,
//! passes the heavy barrier and re-checks the pending word, ignoring the
//! signals blocked *now*. As for the park flag (see `doorbell.rs`), one of the
//! two barriers comes first: either the raiser's load sees the unblock (and
//! the park flag, stored before the receiver's barrier too, so it rings), or
//! the receiver's re-check sees the pending bit and does not sleep. So an
//! unblock needs no barrier of its own as long as the receiver parks after it
//! before it sleeps, which `wait` does; a receiver parked for an epoll caller
//! (whose caller may go straight back to `epoll_wait`) parks again inside
//! `unblock`.
//!
//! # The raise mode
//!
//! Next to the mask is one more word raisers read, the *raise mode*: whether
//! the channel keeps overrun counts (fixed when it is built), whether any
//! signal is blocked now, and whether the receiver is gone. A raiser reads
//! it once, first, as a plain load: 0 (the usual case) means the plain path,
//! one `fetch_or` and the ordinary wake-up check, as on a channel without
//! these features, with no other load. The closed bit is a hint like the
//! receiver's liveness flag it stands for (a raise racing with the
//! receiver's drop may land in a channel nobody reads). The blocked bit is
//! only a hint: read stale as clear, it sends the raise down the ordinary
//! path, which is right whatever the mask is by then (at worst a wake-up for
//! a signal blocked meanwhile, which is spurious and harmless); read as set,
//! the raiser passes the barrier and loads the mask itself.

use crossbeam_utils::CachePadded;

use crate::barrier::Barrier;
use crate::doorbell::Doorbell;
use crate::signals::{Signal, SignalSet};
use crate::sync::{AtomicU64, Ordering};

/// Raise mode bit: the channel keeps overrun counts.
const COUNTING: u64 = 1;
/// Raise mode bit: some signal is blocked (a hint, see the module docs).
const BLOCKING: u64 = 2;
/// Raise mode bit: the receiver is gone.
const CLOSED: u64 = 4;

/// The blocked signals and the raise mode, as raisers see them.
pub(crate) struct BlockedMask {
    /// Written by the receiver (rarely), read by raisers: apart from the
    /// pending word, which raisers write.
    words: CachePadded<Words>,
}

struct Words {
    mode: AtomicU64,
    mask: AtomicU64,
}

impl BlockedMask {
    /// Nothing blocked; `counting`: the channel keeps overrun counts.
    pub(crate) fn new(counting: bool) -> BlockedMask {
        BlockedMask {
            words: CachePadded::new(Words {
                mode: AtomicU64::new(if counting { COUNTING } else { 0 }),
                mask: AtomicU64::new(0),
            }),
        }
    }

    /// Raiser side, before the raise: the raise mode; 0 is the plain path.
    #[inline]
    pub(crate) fn mode(&self) -> u64 {
        // Relaxed: a hint, read before the raise (module docs).
        self.words.mode.load(Ordering::Relaxed)
    }

    /// Whether `mode` says the receiver is gone.
    #[inline]
    pub(crate) fn closed(mode: u64) -> bool {
        mode & CLOSED != 0
    }

    /// Receiver side, when it is dropped: raises fail from now on.
    pub(crate) fn close(&self) {
        // Relaxed: raisers only need to learn of it eventually, as of the
        // receiver's liveness flag. The receiver is the only writer.
        let mode = self.words.mode.load(Ordering::Relaxed);
        self.words.mode.store(mode | CLOSED, Ordering::Relaxed);
    }

    /// Receiver side: publishes the new mask (the receiver is the only
    /// writer of both words).
    pub(crate) fn store(&self, blocked: SignalSet) {
        // Relaxed: ordered by the barriers (module docs): the receiver's
        // next park, and the raiser's barrier before it loads the mask.
        self.words.mask.store(blocked.bits(), Ordering::Relaxed);
        // Relaxed: the receiver's own earlier store.
        let mode = self.words.mode.load(Ordering::Relaxed) & !BLOCKING;
        let blocking = if blocked.is_empty() { 0 } else { BLOCKING };
        // Relaxed: a hint; set after the mask, so a raiser that sees the bit
        // and passes its barrier may find the mask already back to 0 (harmless).
        self.words.mode.store(mode | blocking, Ordering::Relaxed);
    }

    /// Raiser side, after the raise that made `signal` pending, `mode` read
    /// before it: rings a parked receiver unless `signal` is blocked.
    #[inline]
    pub(crate) fn ring_unless_blocked(
        &self,
        mode: u64,
        signal: Signal,
        barrier: Barrier,
        doorbell: &Doorbell,
    ) {
        if mode & BLOCKING == 0 {
            // Right whatever the mask is by now (module docs).
            doorbell.ring_if_parked();
        } else {
            self.ring_unless_blocked_slow(signal, barrier, doorbell);
        }
    }

    #[cold]
    fn ring_unless_blocked_slow(&self, signal: Signal, barrier: Barrier, doorbell: &Doorbell) {
        // StoreLoad barrier: orders the caller's raise (`fetch_or`) before
        // the load of the mask below; pairs with the heavy barrier of the
        // receiver's park after an unblock (module docs).
        barrier.light();
        // Relaxed: ordered by the barrier above.
        if self.words.mask.load(Ordering::Relaxed) & signal.bit() == 0 {
            doorbell.ring_if_parked();
        }
    }
}
