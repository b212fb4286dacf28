//! The reference model of one eventsig channel, written from DESIGN.md and
//! the API docs, not from the implementation: plain single-threaded data, no
//! atomics, no eventsig types.
//!
//! The pending event stream is a queue of *items*, each an accepted event or a
//! gap of consecutive dropped attempts, in attempt order. A drop extends the
//! gap at the back of the queue when that gap ends right before it, else it
//! starts a new gap; so a gap is reported exactly where the dropped attempts
//! stood (S7), even when nothing is accepted after it. Two things split or
//! merge gaps:
//!
//! - a drain yields what was pending when it started: a drop made while a
//!   drain is open never extends a gap the drain already covers, and
//! - once that drain is gone, adjacent gaps the consumer has not yet seen are
//!   one gap again (the consumer reports "everything from the next attempt I
//!   expect up to the next accepted one").
//!
//! A drain also frees its slots only when it is dropped (one publication per
//! batch), so events it has taken still occupy the ring until then.
//!
//! # Drop-oldest (`OverflowPolicy::DropOldest`)
//!
//! Every send is accepted and gets the next sequence number; the ring keeps
//! the newest `capacity` attempts. A send when the attempt `capacity` places
//! back is still unread evicts it (a drop). The consumer's position `head`
//! moves with every event it takes (also inside an open drain: a taken event
//! is the consumer's at once, so the producer can no longer evict it). At
//! `head`, the consumer finds either its event or, if `head` is below
//! `next_seq - capacity`, that every attempt from `head` up to there was
//! evicted: one `Lost { first: head, count }` right before the oldest
//! surviving event. That gap may reach past the attempts pending when a
//! drain began (the drain reports the losses as they stand when it gets
//! there), but the drain never yields an event sent after it began. The
//! sender's free-slot count sees the consumer's position as published: after
//! each `try_recv` and when a drain is dropped.
//!
//! # Signals
//!
//! A raise makes its signal pending (S2: merging with a pending one; counted
//! by `raised` only when it made the signal pending). The mask
//! (`block`/`unblock`) hides blocked signals from the takes, from
//! `pending_signals` and from readiness; they stay pending and keep their
//! counts and values. `raise_with` stores the signal's latest value before
//! raising; a take with values writes the latest value of each signal it
//! takes (`None` if it never had one) and leaves the other entries alone.
//! With overrun counts, each raise adds one to its signal's count, and each
//! take (any kind) reports and resets the counts of what it takes; the
//! merges it reports (count - 1 each) add up in `Stats::coalesced`. Without
//! counts each signal taken counts 1 and `coalesced` is not counted.
//!
//! Shared by `tests/model.rs` (proptest) and `fuzz/fuzz_targets/ops.rs`
//! (cargo-fuzz) through `#[path]`.

#![allow(dead_code)]

use std::collections::VecDeque;

/// What a consumer receives, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MDelivery {
    Event(u32),
    Lost { first: u64, count: u64 },
}

/// The outcome of a send, with the handed-back payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MSend {
    Ok,
    Full(u32),
    Closed(u32),
}

/// The outcome of `try_recv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MRecv {
    Item(MDelivery),
    Empty,
    Closed,
}

/// A standing overflow condition: `lost` drops not acknowledged, read when
/// `upto` drops had happened in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MOverflow {
    pub lost: u64,
    pub upto: u64,
}

/// The counters the model predicts exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MStats {
    pub raised: u64,
    pub coalesced: Option<u64>,
    pub sent: u64,
    pub dropped: u64,
    pub delivered: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Event { seq: u64, payload: u32 },
    Gap { first: u64, count: u64 },
}

impl Item {
    fn delivery(self) -> MDelivery {
        match self {
            Item::Event { payload, .. } => MDelivery::Event(payload),
            Item::Gap { first, count } => MDelivery::Lost { first, count },
        }
    }
}

/// An open drain.
#[derive(Debug, Clone, Copy)]
struct OpenDrain {
    /// Items at the front of `stream` the drain may still yield.
    horizon: usize,
    /// Events it has yielded: they occupy ring slots until it is dropped.
    taken_events: usize,
}

/// The drop-oldest ring's state (see the module docs).
#[derive(Debug, Clone)]
struct Oldest {
    /// The consumer's next position.
    head: u64,
    /// `head` as the sender sees it (for `free_slots`).
    published: u64,
    /// Accepted events neither taken nor evicted, in order: `(seq, payload)`.
    live: VecDeque<(u64, u32)>,
    /// The open drain's end: the next sequence number when it began.
    snap: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Model {
    cap: usize,
    /// `Some` for a drop-oldest channel; then `stream` and `stored` are unused.
    oldest: Option<Oldest>,
    stream: VecDeque<Item>,
    /// Accepted events in `stream`.
    stored: usize,
    next_seq: u64,
    dropped: u64,
    acked: u64,
    signals: u64,
    raised: u64,
    /// Blocked signals.
    blocked: u64,
    /// Latest value of each signal (`raise_with`).
    values: [Option<u64>; 64],
    /// Raises of each signal since its last take, on a counting channel.
    counts: Option<[u64; 64]>,
    /// Merged raises the takes reported (counting channel).
    coalesced: u64,
    delivered: u64,
    sender_alive: bool,
    raisers: usize,
    receiver_alive: bool,
    drain: Option<OpenDrain>,
    /// The receiver's fd was handed out (`as_raw_fd`).
    exposed: bool,
    /// The receiver is at a documented park point: its fd was handed out and
    /// its last delivery call was an empty `try_recv` or the end of a drain
    /// (or the first hand-out). An epoll caller may sleep now.
    armed: bool,
}

impl Model {
    pub fn new(cap: usize) -> Model {
        Model::with_options(cap, false, false)
    }

    /// A channel of `cap` with the drop-oldest policy if `drop_oldest`, and
    /// overrun counts if `counts`.
    pub fn with_options(cap: usize, drop_oldest: bool, counts: bool) -> Model {
        assert!(cap > 0);
        Model {
            cap,
            oldest: drop_oldest.then(|| Oldest {
                head: 0,
                published: 0,
                live: VecDeque::new(),
                snap: None,
            }),
            stream: VecDeque::new(),
            stored: 0,
            next_seq: 0,
            dropped: 0,
            acked: 0,
            signals: 0,
            raised: 0,
            blocked: 0,
            values: [None; 64],
            counts: counts.then_some([0; 64]),
            coalesced: 0,
            delivered: 0,
            sender_alive: true,
            raisers: 0,
            receiver_alive: true,
            drain: None,
            exposed: false,
            armed: false,
        }
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    // ---- producer side ------------------------------------------------

    pub fn sender_alive(&self) -> bool {
        self.sender_alive
    }

    pub fn receiver_alive(&self) -> bool {
        self.receiver_alive
    }

    /// Ring slots in use: pending events plus those an open drain has taken
    /// but not yet freed.
    fn occupied(&self) -> usize {
        self.stored + self.drain.map_or(0, |d| d.taken_events)
    }

    pub fn send(&mut self, payload: u32) -> MSend {
        assert!(self.sender_alive);
        if !self.receiver_alive {
            return MSend::Closed(payload);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(o) = self.oldest.as_mut() {
            // The attempt `cap` places back leaves the ring now; if the
            // consumer has not taken it, it is evicted.
            if let Some(back) = seq.checked_sub(self.cap as u64) {
                if back >= o.head {
                    let (evicted, _) = o.live.pop_front().expect("an unread event");
                    assert_eq!(evicted, back, "the oldest unread event");
                    self.dropped += 1;
                }
            }
            o.live.push_back((seq, payload));
            return MSend::Ok;
        }
        if self.occupied() == self.cap {
            self.dropped += 1;
            // A gap an open drain covers is not extended: the drain reports
            // what was pending when it started.
            let covered = self.drain.map_or(0, |d| d.horizon);
            let len = self.stream.len();
            match self.stream.back_mut() {
                Some(Item::Gap { first, count }) if len > covered && *first + *count == seq => {
                    *count += 1;
                }
                _ => self.stream.push_back(Item::Gap {
                    first: seq,
                    count: 1,
                }),
            }
            return MSend::Full(payload);
        }
        self.stream.push_back(Item::Event { seq, payload });
        self.stored += 1;
        MSend::Ok
    }

    /// `send_iter`: sends while there is room, evicting and dropping
    /// nothing; the payloads that do not fit are not attempts. Returns how
    /// many were sent (0 once the receiver is gone).
    pub fn send_iter(&mut self, payloads: &[u32]) -> usize {
        assert!(self.sender_alive);
        if !self.receiver_alive {
            return 0;
        }
        let sent = payloads.len().min(self.free_slots());
        for &p in &payloads[..sent] {
            let dropped = self.dropped;
            assert_eq!(self.send(p), MSend::Ok);
            assert_eq!(self.dropped, dropped, "send_iter evicts nothing");
        }
        sent
    }

    pub fn free_slots(&self) -> usize {
        match &self.oldest {
            Some(o) => self.cap - (self.next_seq - o.published).min(self.cap as u64) as usize,
            None => self.cap - self.occupied(),
        }
    }

    /// `Err(())`: the receiver is gone.
    pub fn raise(&mut self, signal: u32) -> Result<(), ()> {
        assert!(signal < 64);
        if !self.receiver_alive {
            return Err(());
        }
        let bit = 1u64 << signal;
        if self.signals & bit == 0 {
            self.raised += 1;
        }
        self.signals |= bit;
        if let Some(counts) = self.counts.as_mut() {
            counts[signal as usize] += 1;
        }
        Ok(())
    }

    /// `raise_with`: the value is stored, then the signal raised.
    pub fn raise_with(&mut self, signal: u32, value: u64) -> Result<(), ()> {
        if !self.receiver_alive {
            return Err(());
        }
        self.values[signal as usize] = Some(value);
        self.raise(signal)
    }

    pub fn add_raiser(&mut self) {
        assert!(self.sender_alive || self.raisers > 0, "no live handle");
        self.raisers += 1;
    }

    pub fn drop_raiser(&mut self) {
        assert!(self.raisers > 0);
        self.raisers -= 1;
    }

    pub fn drop_sender(&mut self) {
        assert!(self.sender_alive);
        self.sender_alive = false;
    }

    /// What `Sender::is_closed` answers.
    pub fn sender_sees_closed(&self) -> bool {
        !self.receiver_alive
    }

    // ---- receiver side ------------------------------------------------

    pub fn drop_receiver(&mut self) {
        assert!(self.receiver_alive && self.drain.is_none());
        self.receiver_alive = false;
        self.exposed = false;
        self.armed = false;
    }

    /// What `Receiver::is_closed` answers: every producer handle is gone.
    pub fn is_closed(&self) -> bool {
        !self.sender_alive && self.raisers == 0
    }

    /// The pending signals not blocked.
    pub fn pending_signals(&self) -> u64 {
        self.signals & !self.blocked
    }

    pub fn blocked(&self) -> u64 {
        self.blocked
    }

    pub fn block(&mut self, set: u64) {
        self.blocked |= set;
    }

    /// Unblocks `set`; returns whether the receiver parks again: it was
    /// parked for an epoll caller and something was unblocked.
    pub fn unblock(&mut self, set: u64) -> bool {
        let unblocked = self.blocked & set;
        self.blocked &= !set;
        unblocked != 0 && self.armed
    }

    /// Takes the pending signals not blocked, with the raises each stands
    /// for (1 each without counts), in signal order.
    pub fn take_signals_counted(&mut self) -> Vec<(u32, u64)> {
        self.take().1
    }

    pub fn take_signals(&mut self) -> u64 {
        self.take().0
    }

    /// Every take: the signals taken, and their counts, which it resets.
    fn take(&mut self) -> (u64, Vec<(u32, u64)>) {
        let taken = self.signals & !self.blocked;
        self.signals &= self.blocked;
        let mut report = Vec::new();
        for n in 0..64u32 {
            if taken & (1 << n) == 0 {
                continue;
            }
            let count = match self.counts.as_mut() {
                Some(counts) => {
                    let c = std::mem::take(&mut counts[n as usize]);
                    // Single-threaded, a pending signal was raised since the
                    // take before.
                    assert!(c >= 1);
                    self.coalesced += c - 1;
                    c
                }
                None => 1,
            };
            report.push((n, count));
        }
        (taken, report)
    }

    /// Takes the pending signals not blocked, writing the latest value of
    /// each into `out`.
    pub fn take_signals_with(&mut self, out: &mut [Option<u64>; 64]) -> u64 {
        let taken = self.take_signals();
        for (n, v) in out.iter_mut().enumerate() {
            if taken & (1 << n) != 0 {
                *v = self.values[n];
            }
        }
        taken
    }

    /// The drop-oldest consumer's step at `head` (which is below the tail).
    fn step_oldest(o: &mut Oldest, next_seq: u64, cap: usize, delivered: &mut u64) -> MDelivery {
        let lo = next_seq.saturating_sub(cap as u64);
        if o.head < lo {
            let d = MDelivery::Lost {
                first: o.head,
                count: lo - o.head,
            };
            o.head = lo;
            return d;
        }
        let (seq, payload) = o.live.pop_front().expect("head is below the tail");
        assert_eq!(seq, o.head, "the event at head");
        o.head += 1;
        *delivered += 1;
        MDelivery::Event(payload)
    }

    fn pop(&mut self) -> Option<MDelivery> {
        if let Some(o) = self.oldest.as_mut() {
            if o.head >= self.next_seq {
                return None;
            }
            let d = Self::step_oldest(o, self.next_seq, self.cap, &mut self.delivered);
            o.published = o.head;
            return Some(d);
        }
        let item = self.stream.pop_front()?;
        if let Item::Event { .. } = item {
            self.stored -= 1;
            self.delivered += 1;
        }
        Some(item.delivery())
    }

    pub fn try_recv(&mut self) -> MRecv {
        assert!(self.drain.is_none());
        self.armed = false;
        if let Some(d) = self.pop() {
            return MRecv::Item(d);
        }
        if self.is_closed() {
            return MRecv::Closed;
        }
        self.armed = self.exposed;
        MRecv::Empty
    }

    pub fn begin_drain(&mut self) {
        assert!(self.drain.is_none());
        self.armed = false;
        if let Some(o) = self.oldest.as_mut() {
            assert!(o.snap.is_none());
            o.snap = Some(self.next_seq);
        }
        self.drain = Some(OpenDrain {
            horizon: self.stream.len(),
            taken_events: 0,
        });
    }

    pub fn drain_next(&mut self) -> Option<MDelivery> {
        let mut drain = self.drain.expect("no open drain");
        if let Some(o) = self.oldest.as_mut() {
            let end = o.snap.expect("no open drain");
            if o.head >= end {
                return None;
            }
            return Some(Self::step_oldest(
                o,
                self.next_seq,
                self.cap,
                &mut self.delivered,
            ));
        }
        if drain.horizon == 0 {
            return None;
        }
        drain.horizon -= 1;
        let d = self.pop().expect("the horizon is within the stream");
        if let MDelivery::Event(_) = d {
            drain.taken_events += 1;
        }
        self.drain = Some(drain);
        Some(d)
    }

    pub fn end_drain(&mut self) {
        self.drain.take().expect("no open drain");
        if let Some(o) = self.oldest.as_mut() {
            o.snap = None;
            o.published = o.head;
            self.armed = self.exposed;
            return;
        }
        // Gaps split at the drain's horizon are one gap again.
        let mut merged: VecDeque<Item> = VecDeque::with_capacity(self.stream.len());
        for item in self.stream.drain(..) {
            match (merged.back_mut(), item) {
                (
                    Some(Item::Gap { first, count }),
                    Item::Gap {
                        first: f2,
                        count: c2,
                    },
                ) if *first + *count == f2 => {
                    *count += c2;
                }
                _ => merged.push_back(item),
            }
        }
        self.stream = merged;
        self.armed = self.exposed;
    }

    pub fn overflow(&self) -> Option<MOverflow> {
        (self.dropped > self.acked).then_some(MOverflow {
            lost: self.dropped - self.acked,
            upto: self.dropped,
        })
    }

    /// Clears only the drops `ov` saw.
    pub fn acknowledge(&mut self, ov: MOverflow) {
        self.acked = self.acked.max(ov.upto.min(self.dropped));
    }

    pub fn stats(&self) -> MStats {
        MStats {
            raised: self.raised,
            coalesced: self.counts.is_some().then_some(self.coalesced),
            sent: self.next_seq,
            dropped: self.dropped,
            delivered: self.delivered,
        }
    }

    /// Something is pending: a signal, an event, a gap, or the close.
    pub fn ready(&self) -> bool {
        self.pending_signals() != 0 || self.events_pending() || self.is_closed()
    }

    /// An event or a gap is pending.
    fn events_pending(&self) -> bool {
        match &self.oldest {
            Some(o) => o.head < self.next_seq,
            None => !self.stream.is_empty(),
        }
    }

    /// What `wait(Some(Duration::ZERO))` answers. It wakes the receiver and
    /// does not park.
    /// `wait(Some(ZERO))`: wakes; when it finds nothing and the fd is out,
    /// it parks again for an epoll caller about to sleep.
    pub fn wait_zero(&mut self) -> bool {
        let ready = self.ready();
        self.armed = !ready && self.exposed;
        ready
    }

    /// Hands out the fd; the first time the receiver parks right away.
    /// Returns whether it was the first time.
    pub fn expose(&mut self) -> bool {
        let first = !self.exposed;
        if first {
            self.exposed = true;
            self.armed = true;
        }
        first
    }

    pub fn exposed(&self) -> bool {
        self.exposed
    }

    pub fn armed(&self) -> bool {
        self.armed
    }

    /// Payloads alive in the ring: the pending events while either half of
    /// the ring is alive, none once both are gone.
    pub fn live_payloads(&self) -> usize {
        if self.sender_alive || self.receiver_alive {
            match &self.oldest {
                Some(o) => o.live.len(),
                None => self.stored,
            }
        } else {
            0
        }
    }
}
