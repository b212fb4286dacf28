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

#[derive(Debug, Clone)]
pub struct Model {
    cap: usize,
    stream: VecDeque<Item>,
    /// Accepted events in `stream`.
    stored: usize,
    next_seq: u64,
    dropped: u64,
    acked: u64,
    signals: u64,
    raised: u64,
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
        assert!(cap > 0);
        Model {
            cap,
            stream: VecDeque::new(),
            stored: 0,
            next_seq: 0,
            dropped: 0,
            acked: 0,
            signals: 0,
            raised: 0,
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

    pub fn free_slots(&self) -> usize {
        self.cap - self.occupied()
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
        Ok(())
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

    pub fn pending_signals(&self) -> u64 {
        self.signals
    }

    pub fn take_signals(&mut self) -> u64 {
        std::mem::take(&mut self.signals)
    }

    fn pop(&mut self) -> Option<MDelivery> {
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
        self.drain = Some(OpenDrain {
            horizon: self.stream.len(),
            taken_events: 0,
        });
    }

    pub fn drain_next(&mut self) -> Option<MDelivery> {
        let mut drain = self.drain.expect("no open drain");
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
            sent: self.next_seq,
            dropped: self.dropped,
            delivered: self.delivered,
        }
    }

    /// Something is pending: a signal, an event, a gap, or the close.
    pub fn ready(&self) -> bool {
        self.signals != 0 || !self.stream.is_empty() || self.is_closed()
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
            self.stored
        } else {
            0
        }
    }
}
