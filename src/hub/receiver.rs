//! The hub's one consumer: round-robin passes over the rings with work, and
//! the park rules of the channel's receiver (see `channel.rs`), with one
//! park flag for all rings.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use super::ready::{ones, Bits, COMMIT_INTERVAL, COMMIT_PASSES};

/// Turns in a row that find a ring empty, in passes that deliver something
/// elsewhere, before the receiver deactivates it (an idle pass deactivates
/// every ring at once).
const IDLE_TURNS: u32 = 4;
use super::{HubDelivery, HubState, SenderId};
use crate::channel::{Overflow, Shared};
use crate::doorbell::Doorbell;
use crate::error::TryRecvError;
use crate::parking::{Parking, Waiter};
use crate::ring::{Consumer, Snapshot};
use crate::signals::SignalSet;
use crate::stats::Stats;
use crate::sync::Arc;

/// The receiver's side of one slot.
struct Local<T> {
    /// The adopted ring of the slot's current sender.
    ring: Option<Consumer<T>>,
    generation: u64,
    acked_drops: u64,
    /// Turns in a row that found the ring empty while the receiver was busy.
    empty_turns: u32,
}

/// One ring's turn in a pass.
struct Turn {
    index: usize,
    snap: Snapshot,
    /// Deliveries this turn may still make.
    left: usize,
}

/// Counters of the senders whose `Closed` was delivered.
#[derive(Default)]
struct Retired {
    sent: u64,
    dropped: u64,
    delivered: u64,
}

/// The consumer of a hub: takes the shared signals, drains every sender's
/// ring fairly, sleeps on the one eventfd. `Send`, not `Sync`.
///
/// Each [`drain`](HubReceiver::drain) is one round-robin *pass*: every ring
/// with work gets one turn of at most the
/// [drain budget](super::HubBuilder::drain_budget) deliveries (events and
/// gap markers), so a flooding sender cannot starve the others; the first
/// ring of a pass follows the first ring of the previous one. A sender
/// whose handle was dropped reports [`HubDelivery::Closed`] after its last
/// event or gap; its slot is then free for a new sender.
///
/// Parking follows the channel's receiver (see [`Receiver`](crate::Receiver)):
/// in [`wait`](HubReceiver::wait), and, once the fd was handed out (`AsFd`,
/// `AsRawFd`, mio `register`), at the end of a drain that yielded nothing, on
/// an empty [`try_recv`](HubReceiver::try_recv) and when `wait` times out; a
/// drain that yielded something keeps the fd readable instead. One park
/// flag serves every ring: at most one eventfd write per sleep, whatever the
/// number of senders.
///
/// ```
/// use eventsig::hub::HubDelivery;
/// let (hub, mut rx) = eventsig::hub::<u32>(8)?;
/// let mut a = hub.add_sender()?;
/// let mut b = hub.add_sender()?;
/// a.send(1).unwrap();
/// b.send(2).unwrap();
/// let got: Vec<_> = rx.drain().map(|(id, d)| (id.index(), d)).collect();
/// assert_eq!(got, [(0, HubDelivery::Event(1)), (1, HubDelivery::Event(2))]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<eventsig::hub::HubReceiver<u32>>();
/// ```
pub struct HubReceiver<T> {
    core: Arc<Shared>,
    hub: Arc<HubState<T>>,
    locals: Box<[Local<T>]>,
    /// Rings with (possibly) work: visited by every pass.
    active: Bits,
    /// Rings deactivated since the last heavy barrier (`ready.rs`).
    suspects: Bits,
    /// Rings the current pass has still to visit.
    todo: Bits,
    turn: Option<Turn>,
    /// Where the next pass starts.
    start: usize,
    /// No ring of the current pass has had its turn yet.
    fresh_pass: bool,
    /// A pass is under way (begun, neither over nor abandoned).
    pass_open: bool,
    /// The current pass has delivered something.
    pass_yielded: bool,
    passes_since_commit: u32,
    /// When a receiver that never parks last committed its suspects.
    last_commit: Instant,
    budget: usize,
    retired: Retired,
    signals_taken: u64,
    spin: bool,
    /// The receiver's side of the wake-up protocol (see `parking.rs`).
    parking: Parking,
}

impl<T> HubReceiver<T> {
    pub(super) fn new(
        core: Arc<Shared>,
        hub: Arc<HubState<T>>,
        budget: usize,
        spin: bool,
    ) -> HubReceiver<T> {
        let n = hub.slots.len();
        HubReceiver {
            core,
            hub,
            locals: (0..n)
                .map(|_| Local {
                    ring: None,
                    generation: 0,
                    acked_drops: 0,
                    empty_turns: 0,
                })
                .collect(),
            active: Bits::new(n),
            suspects: Bits::new(n),
            todo: Bits::new(n),
            turn: None,
            start: 0,
            fresh_pass: false,
            pass_open: false,
            pass_yielded: false,
            passes_since_commit: 0,
            last_commit: Instant::now(),
            budget,
            retired: Retired::default(),
            signals_taken: 0,
            spin,
            parking: Parking::new(),
        }
    }

    /// Takes every pending signal at once (one `swap`); signals are shared
    /// by every sender and raiser of the hub.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (hub, mut rx) = eventsig::hub::<()>(1)?;
    /// let s = Signal::new(4).unwrap();
    /// hub.raiser().raise(s).unwrap();
    /// hub.add_sender()?.raise(s).unwrap();
    /// assert_eq!(rx.take_signals().iter().collect::<Vec<_>>(), [s]);
    /// assert!(rx.take_signals().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_signals(&mut self) -> SignalSet {
        let taken = self.core.signals.take();
        self.signals_taken += taken.len() as u64;
        taken
    }

    /// The signals pending now, without taking them.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (hub, rx) = eventsig::hub::<()>(1)?;
    /// hub.raiser().raise(Signal::new(2).unwrap()).unwrap();
    /// assert_eq!(rx.pending_signals().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pending_signals(&self) -> SignalSet {
        self.core.signals.peek()
    }

    /// One round-robin pass over the rings with work: each gives at most the
    /// drain budget of deliveries, tagged with its sender. A sender that is
    /// gone gives [`HubDelivery::Closed`] after its last delivery. The pass
    /// ends even if the senders keep sending; call `drain` again for more
    /// (an epoll caller is woken for it: see the type docs). Slots the
    /// drain read are freed for their senders as each ring's turn ends.
    ///
    /// ```
    /// use eventsig::hub::HubDelivery;
    /// let (hub, mut rx) = eventsig::hub::<u32>(2)?;
    /// let mut tx = hub.add_sender()?;
    /// for i in 0..3 { let _ = tx.send(i); }
    /// drop(tx);
    /// let got: Vec<_> = rx.drain().map(|(_, d)| d).collect();
    /// assert_eq!(got, [
    ///     HubDelivery::Event(0),
    ///     HubDelivery::Event(1),
    ///     HubDelivery::Lost { first: 2, count: 1 },
    ///     HubDelivery::Closed,
    /// ]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn drain(&mut self) -> HubDrain<'_, T> {
        self.wake();
        self.begin_pass();
        HubDrain {
            rx: self,
            yielded: false,
        }
    }

    /// The next delivery of the current pass, starting a new pass when it
    /// is over. Successive calls are as fair as drains.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when nothing is pending now (this parks the
    /// receiver if its fd was handed out), [`TryRecvError::Closed`] when
    /// every handle of the hub is gone and everything was delivered,
    /// including each sender's `Closed`.
    ///
    /// ```
    /// use eventsig::{hub::HubDelivery, TryRecvError};
    /// let (hub, mut rx) = eventsig::hub::<char>(4)?;
    /// let mut tx = hub.add_sender()?;
    /// tx.send('x').unwrap();
    /// let (id, d) = rx.try_recv()?;
    /// assert_eq!((id, d), (tx.id(), HubDelivery::Event('x')));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop((hub, tx));
    /// assert_eq!(rx.try_recv().map(|(_, d)| d), Ok(HubDelivery::Closed));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<(SenderId, HubDelivery<T>), TryRecvError> {
        self.wake();
        if let Some(item) = self.next_delivery() {
            self.publish_turn();
            return Ok(item);
        }
        let closed = self.core.closed();
        // A new pass; after the close, everything is visible to it.
        self.begin_pass();
        if let Some(item) = self.next_delivery() {
            self.publish_turn();
            return Ok(item);
        }
        if closed && self.all_free() {
            return Err(TryRecvError::Closed);
        }
        if self.parking.exposed() && !self.arm() {
            self.commit_suspects();
        }
        Err(TryRecvError::Empty)
    }

    /// Whether the sender `id`'s events were dropped and not acknowledged,
    /// as [`Receiver::overflow`](crate::Receiver::overflow) for its ring
    /// (sticky until acknowledged, S8). `None` for a sender that is gone
    /// (its `Closed` was delivered) or that no drain or `try_recv` has met
    /// yet (the receiver adopts a sender's ring at its first publication).
    ///
    /// ```
    /// let (hub, mut rx) = eventsig::hub::<u8>(1)?;
    /// let mut tx = hub.add_sender()?;
    /// tx.send(0).unwrap();
    /// let _ = tx.send(1);                       // dropped
    /// rx.drain().for_each(drop);
    /// let ov = rx.overflow(tx.id()).expect("a drop happened");
    /// assert_eq!(ov.lost(), 1);
    /// rx.acknowledge(tx.id(), ov);
    /// assert!(rx.overflow(tx.id()).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn overflow(&self, id: SenderId) -> Option<Overflow> {
        let local = self.local_of(id)?;
        let total = local.ring.as_ref()?.dropped();
        (total > local.acked_drops).then(|| Overflow {
            lost: total - local.acked_drops,
            upto: total,
            classes: SignalSet::EMPTY,
        })
    }

    /// Every sender with an unacknowledged overflow, in slot order.
    ///
    /// ```
    /// let (hub, mut rx) = eventsig::hub::<u8>(1)?;
    /// let (mut a, mut b) = (hub.add_sender()?, hub.add_sender()?);
    /// for i in 0..3 { let _ = a.send(i); }
    /// b.send(0).unwrap();
    /// rx.drain().for_each(drop);
    /// let all: Vec<_> = rx.overflows().map(|(id, ov)| (id, ov.lost())).collect();
    /// assert_eq!(all, [(a.id(), 2)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn overflows(&self) -> impl Iterator<Item = (SenderId, Overflow)> + '_ {
        self.locals.iter().enumerate().filter_map(|(index, local)| {
            let id = SenderId {
                index: index as u32,
                generation: local.generation,
            };
            local.ring.as_ref()?;
            self.overflow(id).map(|ov| (id, ov))
        })
    }

    /// Clears sender `id`'s overflow for the drops `overflow` stands for;
    /// drops after it was read keep the condition set (S8).
    ///
    /// ```
    /// let (hub, mut rx) = eventsig::hub::<u8>(1)?;
    /// let mut tx = hub.add_sender()?;
    /// tx.send(0).unwrap();
    /// let _ = tx.send(1);
    /// drop(rx.drain());                         // meets the sender, delivers nothing
    /// let ov = rx.overflow(tx.id()).unwrap();
    /// let _ = tx.send(2);                       // a drop after the read
    /// rx.acknowledge(tx.id(), ov);
    /// assert_eq!(rx.overflow(tx.id()).map(|o| o.lost()), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn acknowledge(&mut self, id: SenderId, overflow: Overflow) {
        let Some(index) = self.local_index(id) else {
            return;
        };
        let local = &mut self.locals[index];
        let Some(ring) = local.ring.as_ref() else {
            return;
        };
        // Clamped, as in the channel: an `Overflow` of another ring cannot
        // clear drops this one has not had.
        let upto = overflow.upto.min(ring.dropped());
        local.acked_drops = local.acked_drops.max(upto);
    }

    /// Blocks until a signal, an event, a gap, a sender's close or the
    /// hub's close is pending, or `timeout` passes (`None`: no timeout).
    /// Returns `true` when something is pending or the hub is closed,
    /// `false` on timeout. A ring that had work in the last passes counts
    /// as pending until a drain finds it empty, so `true` can be spurious
    /// right after a busy spell: drain, then wait again. Spins briefly
    /// first (see [`set_wait_spin`](HubReceiver::set_wait_spin)), then
    /// parks on the eventfd; the senders write it once per sleep.
    ///
    /// # Errors
    ///
    /// The `poll(2)` or `read(2)` error, which an eventfd does not produce
    /// in practice.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let (hub, mut rx) = eventsig::hub::<u32>(1)?;
    /// let mut tx = hub.add_sender()?;
    /// assert!(!rx.wait(Some(Duration::from_millis(1)))?);
    /// std::thread::spawn(move || tx.send(1));
    /// assert!(rx.wait(Some(Duration::from_secs(10)))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        crate::parking::wait(self, timeout)
    }

    /// Whether `wait` spins briefly before it parks (on by default, see
    /// [`HubBuilder::wait_spin`](super::HubBuilder::wait_spin)).
    ///
    /// ```
    /// let (_hub, mut rx) = eventsig::hub::<()>(1)?;
    /// rx.set_wait_spin(false);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn set_wait_spin(&mut self, spin: bool) {
        self.spin = spin;
    }

    /// Whether every handle of the hub (the [`Hub`](super::Hub) and its
    /// clones, every [`HubSender`](super::HubSender) and every
    /// [`Raiser`](crate::Raiser)) is gone. Pending deliveries and signals
    /// can still be taken; see [`is_finished`](HubReceiver::is_finished).
    ///
    /// ```
    /// let (hub, rx) = eventsig::hub::<()>(1)?;
    /// let tx = hub.add_sender()?;
    /// drop(hub);
    /// assert!(!rx.is_closed());                 // a sender is left
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.core.closed()
    }

    /// Whether the hub is closed and everything was delivered, including
    /// every sender's [`Closed`](HubDelivery::Closed): nothing will ever
    /// come again but signals already pending.
    ///
    /// ```
    /// let (hub, mut rx) = eventsig::hub::<u8>(1)?;
    /// let mut tx = hub.add_sender()?;
    /// tx.send(1).unwrap();
    /// drop((hub, tx));
    /// assert!(rx.is_closed() && !rx.is_finished());
    /// assert_eq!(rx.drain().count(), 2);        // the event, then `Closed`
    /// assert!(rx.is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.core.closed() && self.all_free()
    }

    /// The capacity of every sender's ring.
    ///
    /// ```
    /// let (_hub, rx) = eventsig::hub::<()>(5)?;
    /// assert_eq!(rx.capacity(), 5);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.hub.capacity
    }

    /// The most senders the hub holds at once.
    ///
    /// ```
    /// let (_hub, rx) = eventsig::hub::builder().max_senders(4).build::<()>()?;
    /// assert_eq!(rx.max_senders(), 4);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn max_senders(&self) -> usize {
        self.hub.slots.len()
    }

    /// The hub's counters, summed over its senders (those met so far, and
    /// those whose `Closed` was delivered); `doorbell_writes`, `self_rings`
    /// and `parks` are the hub's one doorbell's.
    ///
    /// ```
    /// let (hub, mut rx) = eventsig::hub::<u8>(1)?;
    /// let (mut a, mut b) = (hub.add_sender()?, hub.add_sender()?);
    /// a.send(1).unwrap();
    /// let _ = a.send(2);
    /// b.send(3).unwrap();
    /// rx.drain().for_each(drop);
    /// let s = rx.stats();
    /// assert_eq!((s.sent, s.dropped, s.delivered), (3, 1, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            raised: self.signals_taken + self.pending_signals().len() as u64,
            // A hub keeps no overrun counts.
            coalesced: None,
            sent: self.retired.sent,
            dropped: self.retired.dropped,
            delivered: self.retired.delivered,
            doorbell_writes: self.core.doorbell.writes(),
            self_rings: self.parking.self_rings(),
            parks: self.parking.parks(),
        };
        for ring in self.locals.iter().filter_map(|l| l.ring.as_ref()) {
            s.sent += ring.attempts();
            s.dropped += ring.dropped();
            s.delivered += ring.taken();
        }
        s
    }

    // ------------------------------------------------------------ passes

    /// Starts a pass: takes the ready words, re-checks the suspects, and
    /// lists the active rings to visit.
    fn begin_pass(&mut self) {
        self.end_turn_early();
        for word in 0..self.hub.ready.len() {
            let bits = self.hub.ready.take(word);
            for b in ones(bits) {
                self.activate(word * super::ready::WORD_BITS + b);
            }
        }
        if self.suspects.any() {
            self.passes_since_commit += 1;
            if self.passes_since_commit >= COMMIT_PASSES && self.commit_due() {
                // Bounds how long a ring stays a suspect while the receiver
                // never parks (`ready.rs`).
                self.core.doorbell.barrier.heavy();
                self.recheck_suspects(true);
            } else {
                self.recheck_suspects(false);
            }
        }
        self.todo.copy_from(&self.active);
        self.fresh_pass = true;
        self.pass_open = true;
        self.pass_yielded = false;
    }

    /// Re-checks every suspect: one with work goes back on the active list;
    /// after a heavy barrier (`committed`), one without leaves the suspects.
    fn recheck_suspects(&mut self, committed: bool) {
        for word in 0..self.hub.ready.len() {
            let bits = self.suspects.word(word);
            for b in ones(bits) {
                let i = word * super::ready::WORD_BITS + b;
                if self.has_work(i) {
                    self.suspects.clear(i);
                    self.active.set(i);
                } else if committed {
                    self.suspects.clear(i);
                }
            }
        }
    }

    /// Every [`COMMIT_PASSES`] passes with suspects: whether the last
    /// commit is [`COMMIT_INTERVAL`] old (then it counts as done now).
    #[cold]
    fn commit_due(&mut self) -> bool {
        self.passes_since_commit = 0;
        let now = Instant::now();
        if now.duration_since(self.last_commit) < COMMIT_INTERVAL {
            return false;
        }
        self.last_commit = now;
        true
    }

    /// After a heavy barrier whose re-check found nothing pending: every
    /// deactivation so far is trusted.
    fn commit_suspects(&mut self) {
        self.suspects.clear_all();
        self.passes_since_commit = 0;
    }

    /// Puts slot `i` on the active list, adopting its sender's ring if the
    /// receiver has not got it yet; a stray bit (no sender) does nothing.
    fn activate(&mut self, i: usize) {
        let local = &mut self.locals[i];
        if local.ring.is_none() {
            // SAFETY: we are the hub's one receiver; we adopt a sender's
            // ring once and keep it until `release` (in `retire`).
            match unsafe { self.hub.slots[i].adopt() } {
                Some((ring, generation)) => {
                    local.ring = Some(ring);
                    local.generation = generation;
                    local.acked_drops = 0;
                    local.empty_turns = 0;
                }
                None => return,
            }
        }
        self.suspects.clear(i);
        self.active.set(i);
    }

    /// The next delivery of the current pass, or `None` when it is over.
    #[inline]
    fn next_delivery(&mut self) -> Option<(SenderId, HubDelivery<T>)> {
        // The common case: the next event of the ring whose turn it is.
        self.next_in_turn().or_else(|| self.next_delivery_slow())
    }

    /// The next delivery of the turn under way, within its snapshot and
    /// budget.
    #[inline]
    fn next_in_turn(&mut self) -> Option<(SenderId, HubDelivery<T>)> {
        let turn = self.turn.as_mut()?;
        if turn.left == 0 {
            return None;
        }
        let local = &mut self.locals[turn.index];
        let d = local.ring.as_mut()?.next_within(&turn.snap)?;
        turn.left -= 1;
        self.pass_yielded = true;
        let id = SenderId {
            index: turn.index as u32,
            generation: local.generation,
        };
        Some((id, d.into()))
    }

    /// `next_delivery` at the end of a turn: ends it, then takes the next
    /// ring's turn, or ends the pass.
    #[cold]
    fn next_delivery_slow(&mut self) -> Option<(SenderId, HubDelivery<T>)> {
        loop {
            if let Some(turn) = self.turn.take() {
                if let Some(closed) = self.end_turn(turn.index, turn.left) {
                    self.pass_yielded = true;
                    return Some(closed);
                }
            }
            let Some(index) = self.todo.next_from(self.start) else {
                self.end_pass();
                return None;
            };
            self.todo.clear(index);
            if self.fresh_pass {
                // The next pass starts after this pass's first ring.
                self.fresh_pass = false;
                self.start = (index + 1) % self.locals.len();
            }
            let ring = self.locals[index]
                .ring
                .as_mut()
                .expect("an active ring is adopted");
            self.turn = Some(Turn {
                index,
                snap: ring.snapshot(),
                left: self.budget,
            });
            if let Some(delivery) = self.next_in_turn() {
                return Some(delivery);
            }
        }
    }

    /// Publishes the consumer index of the ring whose turn is under way.
    fn publish_turn(&mut self) {
        if let Some(turn) = &self.turn {
            if let Some(ring) = self.locals[turn.index].ring.as_mut() {
                ring.publish();
            }
        }
    }

    /// A pass was left early (a drain dropped, a new pass begun): publish
    /// the ring of the turn under way; it stays active.
    fn end_turn_early(&mut self) {
        self.publish_turn();
        self.turn = None;
        self.todo.clear_all();
        self.pass_open = false;
    }

    /// The current pass visited every ring it listed. If it delivered
    /// nothing, the receiver is idle: every ring still active (each just had
    /// an empty turn) is deactivated, so that the receiver may park.
    fn end_pass(&mut self) {
        if !std::mem::replace(&mut self.pass_open, false) || self.pass_yielded {
            return;
        }
        for word in 0..self.hub.ready.len() {
            for b in ones(self.active.word(word)) {
                self.deactivate(word * super::ready::WORD_BITS + b);
            }
        }
    }

    /// The turn of ring `i` is over, with `left` deliveries of its budget
    /// unused: publish its index; if the turn ended at its snapshot (not at
    /// the budget), either the ring has more (it stays active), or its
    /// sender is gone (deliver `Closed`), or it has been empty for
    /// [`IDLE_TURNS`] turns in a row (deactivate it). A ring whose sender
    /// is busy stays active through turns that find it empty: deactivating
    /// it would make the next send announce it again, and the flag and the
    /// ready word would bounce between the two cores at every pass.
    fn end_turn(&mut self, i: usize, left: usize) -> Option<(SenderId, HubDelivery<T>)> {
        let delivered = left < self.budget;
        let local = &mut self.locals[i];
        let ring = local.ring.as_mut()?;
        ring.publish();
        if left == 0 || ring.has_pending() {
            local.empty_turns = 0;
            return None;
        }
        let slot = &self.hub.slots[i];
        if slot.is_closed() {
            // Every publication of the sender happens before the close we
            // just saw: an empty ring now stays empty.
            if ring.has_pending() {
                return None;
            }
            return Some(self.retire(i));
        }
        if delivered {
            local.empty_turns = 0;
            return None;
        }
        local.empty_turns += 1;
        if local.empty_turns >= IDLE_TURNS {
            self.deactivate(i);
        }
        None
    }

    /// Takes ring `i` off the active list: clears its announcement flag and
    /// keeps it a suspect until the next heavy barrier (`ready.rs`).
    fn deactivate(&mut self, i: usize) {
        self.locals[i].empty_turns = 0;
        self.hub.slots[i].deactivate();
        self.active.clear(i);
        // A quick look now; the one we trust comes after the next heavy
        // barrier (`ready.rs`).
        if self.has_work(i) {
            self.active.set(i);
        } else if cfg!(not(eventsig_loom_hub_mutant)) {
            self.suspects.set(i);
        }
    }

    /// Sender `i` is gone and its ring delivered: report it and free the
    /// slot.
    fn retire(&mut self, i: usize) -> (SenderId, HubDelivery<T>) {
        let local = &mut self.locals[i];
        let ring = local.ring.take().expect("retire an adopted ring");
        self.retired.sent += ring.attempts();
        self.retired.dropped += ring.dropped();
        self.retired.delivered += ring.taken();
        let id = SenderId {
            index: i as u32,
            generation: local.generation,
        };
        self.active.clear(i);
        self.suspects.clear(i);
        // SAFETY: we are the one receiver, the ring was adopted from this
        // slot, and its state is CLOSED (seen in `end_turn`).
        unsafe { self.hub.slots[i].release(ring) };
        (id, HubDelivery::Closed)
    }

    /// Whether ring `i` (adopted) has an event or a gap pending, or its
    /// sender is gone.
    fn has_work(&self, i: usize) -> bool {
        self.locals[i]
            .ring
            .as_ref()
            .is_some_and(|r| r.has_pending())
            || self.hub.slots[i].is_closed()
    }

    fn local_index(&self, id: SenderId) -> Option<usize> {
        let index = id.index as usize;
        let local = self.locals.get(index)?;
        (local.ring.is_some() && local.generation == id.generation).then_some(index)
    }

    fn local_of(&self, id: SenderId) -> Option<&Local<T>> {
        self.local_index(id).map(|i| &self.locals[i])
    }

    /// Whether no slot holds a sender or an undelivered `Closed`.
    fn all_free(&self) -> bool {
        self.locals.iter().all(|l| l.ring.is_none()) && self.hub.slots.iter().all(|s| s.is_free())
    }

    // ------------------------------------------------------------ parking

    /// Whether anything is pending: a signal, a ring with work (active, a
    /// suspect with work, or marked ready), or the close.
    fn ready(&self) -> bool {
        !self.core.signals.peek().is_empty()
            || self.active.any()
            || self.hub.ready.any()
            || self.suspects.iter().any(|i| self.has_work(i))
            || self.core.closed()
    }

    fn timed_out(&mut self) -> bool {
        if self.parking.exposed() && !self.arm() {
            self.commit_suspects();
        }
        false
    }
}

impl<T> Drop for HubReceiver<T> {
    fn drop(&mut self) {
        self.core.mark_receiver_gone();
    }
}

impl<T> Waiter for HubReceiver<T> {
    fn parking(&self) -> &Parking {
        &self.parking
    }

    fn doorbell(&self) -> &Doorbell {
        &self.core.doorbell
    }

    fn pending(&self) -> bool {
        self.ready()
    }

    fn closed(&self) -> bool {
        self.core.closed()
    }

    fn spins(&self) -> bool {
        self.spin
    }

    fn found_nothing_after_park(&mut self) {
        // Nothing after the heavy barrier: the suspects are clear.
        self.commit_suspects();
    }

    fn give_up(&mut self) -> bool {
        self.timed_out()
    }
}

crate::parking::fd_source!(
    HubReceiver,
    core,
    /// Hands out the eventfd to poll on; the receiver parks now, and from then
    /// on where an epoll caller sleeps (see the type docs).
);

impl<T> fmt::Debug for HubReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubReceiver")
            .field("max_senders", &self.max_senders())
            .field("capacity", &self.capacity())
            .field("active", &self.active.iter().collect::<Vec<_>>())
            .field("pending_signals", &self.pending_signals())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// The iterator of [`HubReceiver::drain`]: one pass, each item tagged with
/// its sender.
pub struct HubDrain<'a, T> {
    rx: &'a mut HubReceiver<T>,
    yielded: bool,
}

impl<T> Iterator for HubDrain<'_, T> {
    type Item = (SenderId, HubDelivery<T>);

    #[inline]
    fn next(&mut self) -> Option<(SenderId, HubDelivery<T>)> {
        let item = self.rx.next_delivery();
        self.yielded |= item.is_some();
        item
    }
}

impl<T> Drop for HubDrain<'_, T> {
    fn drop(&mut self) {
        self.rx.end_turn_early();
        if self.rx.parking.exposed() {
            if self.yielded {
                self.rx.keep_readable();
            } else if !self.rx.arm() {
                self.rx.commit_suspects();
            }
        }
    }
}

impl<T> fmt::Debug for HubDrain<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubDrain").finish_non_exhaustive()
    }
}
