//! One sender's place in a hub: its life cycle, its announcement flag, and
//! the hand-off of its ring's consumer half to the receiver.
//!
//! # Life cycle
//!
//! ```text
//!   FREE --claim--> CLAIMED --install--> LIVE --sender dropped--> CLOSED
//!    ^                                                              |
//!    +------ release (receiver, after delivering `Closed`) ---------+
//! ```
//!
//! `claim` and `install` run in `Hub::add_sender`, on any thread; `close`
//! when the `HubSender` is dropped; `adopt` and `release` on the receiver.
//! The hand-off cell is written only between `claim` and `install` (by the
//! one thread whose CAS won the slot) and read only after `install`
//! (by the receiver, which sees `LIVE` or `CLOSED` with Acquire), then
//! written again by the receiver before `release`, after which the next
//! claimer reads it: each access is ordered after the previous one by the
//! Release store / Acquire load of `state` between them.
//!
//! A sender that is gone may still touch its old slot's announcement flag
//! and ready bit for a moment (its `Drop` announces the close after storing
//! `CLOSED`); both are harmless to the next sender there: the flag holds a
//! generation, and a sender skips its announcement only when the flag holds
//! *its own* generation; a stray bit makes the receiver look at the slot,
//! nothing more.

use crate::ring::Consumer;
use crate::sync::{AtomicU64, AtomicUsize, Ordering, UnsafeCell};

pub(super) const FREE: usize = 0;
pub(super) const CLAIMED: usize = 1;
pub(super) const LIVE: usize = 2;
pub(super) const CLOSED: usize = 3;

/// What `add_sender` hands to the receiver.
struct Handoff<T> {
    /// The consumer half of the sender's ring; after the receiver released
    /// the slot, the old one, for the next claimer to drop.
    ring: Option<Consumer<T>>,
    /// Generation of the slot's latest sender; 0 before the first.
    generation: u64,
}

pub(super) struct Slot<T> {
    state: AtomicUsize,
    /// The generation of the sender whose ring the receiver has on its
    /// active list, or anything else (0 after a deactivation): see
    /// `ready.rs`.
    announced: AtomicU64,
    handoff: UnsafeCell<Handoff<T>>,
}

impl<T> Slot<T> {
    pub(super) fn new() -> Slot<T> {
        Slot {
            state: AtomicUsize::new(FREE),
            announced: AtomicU64::new(0),
            handoff: UnsafeCell::new(Handoff {
                ring: None,
                generation: 0,
            }),
        }
    }

    /// Takes the slot for a new sender if it is free.
    pub(super) fn claim(&self) -> bool {
        // Acquire on success: pairs with the Release store in `release`, so
        // the receiver's last access to the hand-off cell happens before
        // ours. Relaxed on failure: nothing is read then.
        self.state
            .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Gives a claimed slot back, unused (the ring could not be built).
    ///
    /// # Safety
    ///
    /// The caller's `claim` on this slot succeeded, and it did not
    /// `install`.
    pub(super) unsafe fn unclaim(&self) {
        // Release: as in `release` (nothing was written, but the next
        // claimer's Acquire is then trivially right).
        self.state.store(FREE, Ordering::Release);
    }

    /// Hands `ring` to the receiver and opens the slot; returns the new
    /// sender's generation (never 0). The previous sender's consumer half,
    /// if any, is dropped here.
    ///
    /// # Safety
    ///
    /// The caller's `claim` on this slot succeeded, and it installs once.
    pub(super) unsafe fn install(&self, ring: Consumer<T>) -> u64 {
        // SAFETY: the slot is CLAIMED by the caller: the receiver touches
        // the cell only in LIVE or CLOSED (after an Acquire load of them),
        // and no other claimer can win the CAS; the receiver's last write
        // (in `release`) happens before our Acquire CAS.
        let (old, generation) = self.handoff.with_mut(|p| unsafe {
            let h = &mut *p;
            h.generation += 1;
            (h.ring.replace(ring), h.generation)
        });
        drop(old);
        // Release: publishes the cell to the receiver's Acquire load in
        // `adopt`.
        self.state.store(LIVE, Ordering::Release);
        generation
    }

    /// The sender is gone: everything it sent is published before this.
    pub(super) fn close(&self) {
        // Release: the sender's ring publications (and drops) happen before
        // the receiver's Acquire load that sees CLOSED (`is_closed`), so an
        // empty ring seen after that load stays empty.
        self.state.store(CLOSED, Ordering::Release);
    }

    /// Whether the sender is gone.
    pub(super) fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release store in `close`.
        self.state.load(Ordering::Acquire) == CLOSED
    }

    /// Whether no sender holds or held the slot undelivered: the receiver
    /// has released it (or it never had a sender) and nobody claimed it yet.
    pub(super) fn is_free(&self) -> bool {
        // Acquire: as in `is_closed`.
        self.state.load(Ordering::Acquire) == FREE
    }

    /// Receiver side: takes the consumer half of a sender installed since
    /// the receiver last released the slot, with the sender's generation;
    /// `None` if there is none (a stray ready bit).
    ///
    /// # Safety
    ///
    /// Only the hub's one receiver calls it, and not again for the same
    /// sender (it keeps the ring until `release`).
    pub(super) unsafe fn adopt(&self) -> Option<(Consumer<T>, u64)> {
        // Acquire: pairs with the Release store in `install` (and `close`).
        let state = self.state.load(Ordering::Acquire);
        if state != LIVE && state != CLOSED {
            return None;
        }
        // SAFETY: LIVE or CLOSED: the installer's write happened before the
        // load above, and nobody else touches the cell until our `release`.
        self.handoff.with_mut(|p| unsafe {
            let h = &mut *p;
            h.ring.take().map(|ring| (ring, h.generation))
        })
    }

    /// Receiver side: the sender's `Closed` was delivered; parks its
    /// consumer half in the slot (the next claimer drops it, so the receiver
    /// frees nothing) and frees the slot for a new sender.
    ///
    /// # Safety
    ///
    /// Only the receiver calls it, for a slot it adopted, whose state is
    /// CLOSED.
    pub(super) unsafe fn release(&self, ring: Consumer<T>) {
        // SAFETY: CLOSED and adopted: the cell is ours until the store below.
        self.handoff.with_mut(|p| unsafe { (*p).ring = Some(ring) });
        // Release: our write above happens before the next claimer's Acquire
        // CAS in `claim`.
        self.state.store(FREE, Ordering::Release);
    }

    /// Producer side, after each publication: whether the ring is announced
    /// for `generation` already (the common case: nothing to do).
    #[inline]
    pub(super) fn is_announced(&self, generation: u64) -> bool {
        // Relaxed: a stale answer is covered by the receiver's suspects and
        // heavy barrier (`ready.rs`).
        self.announced.load(Ordering::Relaxed) == generation
    }

    /// Producer side: announces the ring for `generation`; the caller then
    /// sets the ready bit (Release), which orders this store for the
    /// receiver.
    pub(super) fn announce(&self, generation: u64) {
        // Relaxed: published by the Release `fetch_or` of the ready bit.
        self.announced.store(generation, Ordering::Relaxed);
    }

    /// Receiver side: takes the ring off the active list; the next
    /// publication announces it again.
    pub(super) fn deactivate(&self) {
        // Relaxed: the race with a producer's load is the subject of
        // `ready.rs`: the receiver trusts it only after a heavy barrier.
        // A swap rather than a store: the same here (the value read is not
        // needed), and loom 0.7 checks a plain store followed by a SeqCst
        // fence too weakly (see `Doorbell::park`): it lets a producer's load
        // after a later fence read the value from before the store, a false
        // lost wake-up of the ring that C++20 fence rules forbid.
        self.announced.swap(0, Ordering::Relaxed);
    }
}
