//! Runs an operation sequence against a real eventsig channel and the
//! reference model (`reference.rs`) side by side, single-threaded, and
//! compares every observable answer; panics with the op index on the first
//! difference.
//!
//! Shared by `tests/model.rs` (proptest) and `fuzz/fuzz_targets/ops.rs`
//! (cargo-fuzz) through `#[path]`, next to `reference.rs`.

#![allow(dead_code)]

use std::cell::Cell;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Duration;

use eventsig::{Delivery, Overflow, RaiseError, Raiser, Receiver, SendError, Sender, Signal};
use eventsig::{OverflowPolicy, Run, SignalSet, Stats, TryRecvError};

use crate::reference::{MDelivery, MOverflow, MRecv, MSend, MStats, Model};

/// Raiser handles a sequence can hold at once.
pub const RAISERS: usize = 3;

/// What the channel under test is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The ring's capacity (1..=8 in the generated runs).
    pub cap: usize,
    /// `Builder::overflow_policy(OverflowPolicy::DropOldest)`.
    pub drop_oldest: bool,
    /// `Builder::overrun_counts(true)`.
    pub counts: bool,
}

impl Options {
    /// The default channel of capacity `cap`.
    pub fn plain(cap: usize) -> Options {
        Options {
            cap,
            drop_oldest: false,
            counts: false,
        }
    }
}

/// What `take_signals_with` finds in an entry it must leave alone.
const UNTOUCHED: Option<u64> = Some(0xDEAD_BEEF);

/// One step of a sequence. Ops that need a handle that is gone are skipped
/// (by both sides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `Sender::send`.
    Send(u32),
    /// `Sender::send_iter` of `n` payloads `base`, `base + 1`, ...
    SendIter(u8, u32),
    /// `Sender::raise`.
    Raise(u32),
    /// `Raiser::raise` on raiser slot `k`.
    RaiseFromRaiser(usize, u32),
    /// Fills raiser slot `k` with `Sender::raiser()`.
    NewRaiser(usize),
    /// Fills raiser slot `k` with a clone of the raiser in slot `j`.
    CloneRaiser(usize, usize),
    /// Drops the raiser in slot `k`.
    DropRaiser(usize),
    /// `Sender::raise_with`.
    RaiseWith(u32, u64),
    /// `Raiser::raise_with` on raiser slot `k`.
    RaiseWithFromRaiser(usize, u32, u64),
    TakeSignals,
    /// `Receiver::take_signals_with` into the table the run keeps.
    TakeSignalsWith,
    /// `Receiver::take_signals_counted`.
    TakeSignalsCounted,
    /// `Receiver::block` of these signal bits.
    Block(u64),
    /// `Receiver::unblock` of these signal bits.
    Unblock(u64),
    PendingSignals,
    TryRecv,
    /// `Receiver::drain`: takes the first `limit` items (all if `None`), then
    /// runs `mid` while the drain is still open (the producer keeps going),
    /// then takes the rest if `finish`, then drops the drain.
    Drain {
        limit: Option<usize>,
        mid: Vec<Mid>,
        finish: bool,
    },
    /// `Receiver::overflow`; the value is kept for `Acknowledge`.
    Overflow,
    /// Acknowledges the last `Some` overflow read (possibly stale).
    Acknowledge,
    FreeSlots,
    Stats,
    /// `Receiver::wait(Some(Duration::ZERO))`: never blocks.
    WaitZero,
    /// `Receiver::as_raw_fd`: hands the fd out, as an epoll caller does.
    Expose,
    /// Drops the `Sender`.
    CloseSender,
    /// Drops the `Receiver`.
    CloseReceiver,
}

/// A producer step inside an open drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mid {
    Send(u32),
    Raise(u32),
    FreeSlots,
}

/// An event payload that counts its live copies, so a leak or a double drop
/// of a stored event shows up.
#[derive(Debug)]
pub struct Payload {
    value: u32,
    live: Rc<Cell<i64>>,
}

impl Payload {
    fn new(value: u32, live: &Rc<Cell<i64>>) -> Payload {
        live.set(live.get() + 1);
        Payload {
            value,
            live: Rc::clone(live),
        }
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        self.live.set(self.live.get() - 1);
    }
}

fn signal(n: u32) -> Signal {
    Signal::new(n).expect("signal numbers are below 64")
}

fn delivery(d: Delivery<Payload>) -> MDelivery {
    match d {
        Delivery::Event(p) => MDelivery::Event(p.value),
        Delivery::Lost { first, count } => MDelivery::Lost { first, count },
    }
}

fn raise_result(r: Result<(), RaiseError>) -> Result<(), ()> {
    match r {
        Ok(()) => Ok(()),
        Err(RaiseError::Closed) => Err(()),
        Err(e) => panic!("unexpected raise error {e:?}"),
    }
}

/// Whether `fd` is readable now (`poll(2)` with a zero timeout).
#[cfg(not(miri))]
fn readable(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; the fd is the channel's eventfd, alive while
    // the receiver is.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    n == 1 && pfd.revents & libc::POLLIN != 0
}

/// Where a run is, for messages: an op index, or the final drain.
#[derive(Debug, Clone, Copy)]
struct At(usize);

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            usize::MAX => f.write_str("final drain"),
            i => write!(f, "op {i}"),
        }
    }
}

struct Runner {
    options: Options,
    tx: Option<Sender<Payload>>,
    rx: Option<Receiver<Payload>>,
    raisers: [Option<Raiser>; RAISERS],
    model: Model,
    live: Rc<Cell<i64>>,
    /// The last `Some` overflow read, real and model.
    last_overflow: Option<(Overflow, MOverflow)>,
    fd: Option<RawFd>,
    /// Doorbell writes when the receiver last parked (model's view).
    writes_at_park: u64,
    /// Doorbell writes and parks at the end of the previous op.
    writes: u64,
    parks: u64,
    /// Over the whole run: events received and the sum of `Lost.count`.
    received: u64,
    lost: u64,
    /// Op index, for messages.
    at: usize,
    /// The latest-value tables `take_signals_with` writes: real and model.
    values: [Option<u64>; 64],
    model_values: [Option<u64>; 64],
}

impl Runner {
    fn new(options: Options) -> Runner {
        let cap = options.cap;
        let policy = if options.drop_oldest {
            OverflowPolicy::DropOldest
        } else {
            OverflowPolicy::DropNewest
        };
        let (tx, rx) = if options == Options::plain(cap) {
            eventsig::channel::<Payload>(cap).expect("channel")
        } else {
            eventsig::builder()
                .capacity(cap)
                .overflow_policy(policy)
                .overrun_counts(options.counts)
                .build::<Payload>()
                .expect("channel")
        };
        assert_eq!(tx.capacity(), cap);
        assert_eq!(rx.capacity(), cap);
        assert_eq!(
            (tx.overflow_policy(), rx.overflow_policy()),
            (policy, policy)
        );
        Runner {
            options,
            tx: Some(tx),
            rx: Some(rx),
            raisers: [None, None, None],
            model: Model::with_options(cap, options.drop_oldest, options.counts),
            live: Rc::new(Cell::new(0)),
            last_overflow: None,
            fd: None,
            writes_at_park: 0,
            writes: 0,
            parks: 0,
            received: 0,
            lost: 0,
            at: 0,
            values: [UNTOUCHED; 64],
            model_values: [UNTOUCHED; 64],
        }
    }

    fn tally(&mut self, d: MDelivery) {
        match d {
            MDelivery::Event(_) => self.received += 1,
            MDelivery::Lost { count, .. } => {
                assert!(count > 0, "{}: empty Lost marker", At(self.at));
                self.lost += count;
            }
        }
    }

    fn send(tx: &mut Sender<Payload>, model: &mut Model, live: &Rc<Cell<i64>>, v: u32, at: At) {
        let real = match tx.send(Payload::new(v, live)) {
            Ok(()) => MSend::Ok,
            Err(SendError::Full(p)) => MSend::Full(p.value),
            Err(SendError::Closed(p)) => MSend::Closed(p.value),
        };
        let expected = model.send(v);
        assert_eq!(real, expected, "{at}: send({v})");
    }

    fn free_slots(tx: &mut Sender<Payload>, model: &Model, at: At) {
        assert_eq!(tx.free_slots(), model.free_slots(), "{at}: free_slots");
    }

    fn step(&mut self, op: &Op) {
        let at = At(self.at);
        let m = &mut self.model;
        // Whether this op is one where the receiver may park (and so may
        // ring its own fd once).
        let mut parks_here = false;
        match *op {
            Op::Send(v) => {
                if let Some(tx) = self.tx.as_mut() {
                    Self::send(tx, m, &self.live, v, at);
                }
            }
            Op::SendIter(n, base) => {
                if let Some(tx) = self.tx.as_mut() {
                    let payloads: Vec<u32> =
                        (0..u32::from(n)).map(|i| base.wrapping_add(i)).collect();
                    let live = &self.live;
                    let mut items = payloads.iter().map(|&v| Payload::new(v, live));
                    let sent = tx.send_iter(&mut items);
                    let rest: Vec<u32> = items.map(|p| p.value).collect();
                    assert_eq!(sent, m.send_iter(&payloads), "{at}: send_iter({n})");
                    assert_eq!(rest, payloads[sent..], "{at}: send_iter left over");
                }
            }
            Op::Raise(s) => {
                if let Some(tx) = self.tx.as_ref() {
                    assert_eq!(
                        raise_result(tx.raise(signal(s))),
                        m.raise(s),
                        "{at}: Sender::raise({s})"
                    );
                }
            }
            Op::RaiseFromRaiser(k, s) => {
                if let Some(r) = self.raisers[k % RAISERS].as_ref() {
                    assert_eq!(
                        raise_result(r.raise(signal(s))),
                        m.raise(s),
                        "{at}: Raiser[{k}]::raise({s})"
                    );
                }
            }
            Op::NewRaiser(k) => {
                let k = k % RAISERS;
                if let (None, Some(tx)) = (&self.raisers[k], &self.tx) {
                    self.raisers[k] = Some(tx.raiser());
                    m.add_raiser();
                }
            }
            Op::CloneRaiser(k, j) => {
                let (k, j) = (k % RAISERS, j % RAISERS);
                if self.raisers[k].is_none() {
                    if let Some(r) = self.raisers[j].clone() {
                        self.raisers[k] = Some(r);
                        m.add_raiser();
                    }
                }
            }
            Op::DropRaiser(k) => {
                if self.raisers[k % RAISERS].take().is_some() {
                    m.drop_raiser();
                }
            }
            Op::RaiseWith(s, v) => {
                if let Some(tx) = self.tx.as_ref() {
                    assert_eq!(
                        raise_result(tx.raise_with(signal(s), v)),
                        m.raise_with(s, v),
                        "{at}: Sender::raise_with({s}, {v})"
                    );
                }
            }
            Op::RaiseWithFromRaiser(k, s, v) => {
                if let Some(r) = self.raisers[k % RAISERS].as_ref() {
                    assert_eq!(
                        raise_result(r.raise_with(signal(s), v)),
                        m.raise_with(s, v),
                        "{at}: Raiser[{k}]::raise_with({s}, {v})"
                    );
                }
            }
            Op::TakeSignals => {
                if let Some(rx) = self.rx.as_mut() {
                    let got = rx.take_signals();
                    let want = m.take_signals();
                    assert_eq!(got.bits(), want, "{at}: take_signals");
                    assert_eq!(got.len(), want.count_ones() as usize, "{at}: len");
                }
            }
            Op::TakeSignalsWith => {
                if let Some(rx) = self.rx.as_mut() {
                    let got = rx.take_signals_with(&mut self.values);
                    let want = m.take_signals_with(&mut self.model_values);
                    assert_eq!(got.bits(), want, "{at}: take_signals_with");
                    assert_eq!(self.values, self.model_values, "{at}: values");
                }
            }
            Op::TakeSignalsCounted => {
                if let Some(rx) = self.rx.as_mut() {
                    let got: Vec<(u32, u64)> = rx
                        .take_signals_counted()
                        .iter()
                        .map(|(s, n)| (s.number(), u64::from(n)))
                        .collect();
                    let want = m.take_signals_counted();
                    assert_eq!(got, want, "{at}: take_signals_counted");
                }
            }
            Op::Block(bits) => {
                if let Some(rx) = self.rx.as_mut() {
                    rx.block(SignalSet::from_bits(bits));
                    m.block(bits);
                }
            }
            Op::Unblock(bits) => {
                if let Some(rx) = self.rx.as_mut() {
                    let visible = m.pending_signals();
                    #[cfg(miri)]
                    let _ = visible;
                    rx.unblock(SignalSet::from_bits(bits));
                    parks_here = m.unblock(bits);
                    // Awake with the fd handed out: signals made visible
                    // make the fd readable (the receiver writes it itself).
                    #[cfg(not(miri))]
                    if m.exposed() && !m.armed() && m.pending_signals() & !visible != 0 {
                        let fd = self.fd.expect("exposed");
                        assert!(
                            readable(fd),
                            "{at}: unblocked pending signals, fd not readable"
                        );
                    }
                }
            }
            Op::PendingSignals => {
                if let Some(rx) = self.rx.as_ref() {
                    assert_eq!(rx.pending_signals().bits(), m.pending_signals());
                }
            }
            Op::TryRecv => {
                if let Some(rx) = self.rx.as_mut() {
                    let got = match rx.try_recv() {
                        Ok(d) => MRecv::Item(delivery(d)),
                        Err(TryRecvError::Empty) => MRecv::Empty,
                        Err(TryRecvError::Closed) => MRecv::Closed,
                    };
                    let want = m.try_recv();
                    assert_eq!(got, want, "{at}: try_recv");
                    parks_here = want == MRecv::Empty;
                    if let MRecv::Item(d) = got {
                        self.tally(d);
                    }
                }
            }
            Op::Drain {
                limit,
                ref mid,
                finish,
            } => {
                if let Some(rx) = self.rx.as_mut() {
                    parks_here = true;
                    let mut got = Vec::new();
                    let mut want = Vec::new();
                    let mut it = rx.drain();
                    m.begin_drain();
                    let first = limit.unwrap_or(usize::MAX);
                    while got.len() < first {
                        let d = it.next().map(delivery);
                        let e = m.drain_next();
                        assert_eq!(d, e, "{at}: drain item {} (got {got:?})", got.len());
                        match d {
                            Some(d) => {
                                got.push(d);
                                want.push(d);
                            }
                            None => break,
                        }
                    }
                    for (i, step) in mid.iter().enumerate() {
                        match *step {
                            Mid::Send(v) => {
                                if let Some(tx) = self.tx.as_mut() {
                                    Self::send(tx, m, &self.live, v, at);
                                }
                            }
                            Mid::Raise(s) => {
                                if let Some(tx) = self.tx.as_ref() {
                                    assert_eq!(
                                        raise_result(tx.raise(signal(s))),
                                        m.raise(s),
                                        "{at}: mid-drain raise {i}"
                                    );
                                }
                            }
                            Mid::FreeSlots => {
                                if let Some(tx) = self.tx.as_mut() {
                                    Self::free_slots(tx, m, at);
                                }
                            }
                        }
                        assert_eq!(
                            self.live.get(),
                            m.live_payloads() as i64,
                            "{at}: live payloads mid-drain"
                        );
                    }
                    // A finish after an even limit goes by runs
                    // (`Drain::next_run`), which must yield the same stream
                    // as item by item.
                    if finish && limit.is_some_and(|l| l % 2 == 0) {
                        while let Some(run) = it.next_run() {
                            let ds: Vec<MDelivery> = match run {
                                Run::Events(events) => {
                                    assert!(!events.is_empty(), "{at}: empty run");
                                    events.iter().map(|p| MDelivery::Event(p.value)).collect()
                                }
                                Run::Lost { first, count } => {
                                    vec![MDelivery::Lost { first, count }]
                                }
                            };
                            for d in ds {
                                let e = m.drain_next();
                                assert_eq!(Some(d), e, "{at}: drain run item {}", got.len());
                                got.push(d);
                            }
                        }
                        assert_eq!(m.drain_next(), None, "{at}: runs ended early");
                        assert!(it.next().is_none(), "{at}: drain resumed");
                    } else if finish || limit.is_none() {
                        loop {
                            let d = it.next().map(delivery);
                            let e = m.drain_next();
                            assert_eq!(d, e, "{at}: drain item {} (got {got:?})", got.len());
                            match d {
                                Some(d) => got.push(d),
                                None => break,
                            }
                        }
                        // Ended: stays ended.
                        assert!(it.next().is_none(), "{at}: drain resumed");
                    }
                    drop(it);
                    m.end_drain();
                    for d in got {
                        self.tally(d);
                    }
                }
            }
            Op::Overflow => {
                if let Some(rx) = self.rx.as_ref() {
                    let got = rx.overflow();
                    let want = m.overflow();
                    assert_eq!(
                        got.map(|o| o.lost()),
                        want.map(|o| o.lost),
                        "{at}: overflow"
                    );
                    if let (Some(g), Some(w)) = (got, want) {
                        self.last_overflow = Some((g, w));
                    }
                }
            }
            Op::Acknowledge => {
                if let (Some(rx), Some((g, w))) = (self.rx.as_mut(), self.last_overflow) {
                    rx.acknowledge(g);
                    m.acknowledge(w);
                }
            }
            Op::FreeSlots => {
                if let Some(tx) = self.tx.as_mut() {
                    Self::free_slots(tx, m, at);
                }
            }
            Op::Stats => {
                if let Some(rx) = self.rx.as_ref() {
                    let s: Stats = rx.stats();
                    let want = m.stats();
                    let got = MStats {
                        raised: s.raised,
                        coalesced: s.coalesced,
                        sent: s.sent,
                        dropped: s.dropped,
                        delivered: s.delivered,
                    };
                    assert_eq!(got, want, "{at}: stats");
                }
            }
            Op::WaitZero => {
                if let Some(rx) = self.rx.as_mut() {
                    let got = rx.wait(Some(Duration::ZERO)).expect("wait");
                    assert_eq!(got, m.wait_zero(), "{at}: wait(ZERO)");
                    parks_here = m.armed();
                }
            }
            Op::Expose => {
                if let Some(rx) = self.rx.as_ref() {
                    use std::os::fd::AsRawFd;
                    let fd = rx.as_raw_fd();
                    if let Some(old) = self.fd {
                        assert_eq!(fd, old, "{at}: the fd changed");
                    }
                    self.fd = Some(fd);
                    parks_here = m.expose();
                }
            }
            Op::CloseSender => {
                if self.tx.take().is_some() {
                    m.drop_sender();
                }
            }
            Op::CloseReceiver => {
                if self.rx.take().is_some() {
                    m.drop_receiver();
                    self.fd = None;
                    self.last_overflow = None;
                }
            }
        }
        self.check(op, parks_here);
    }

    /// Compares the side-effect-free observables after every op.
    fn check(&mut self, op: &Op, parked_here: bool) {
        let at = At(self.at);
        let m = &self.model;
        assert_eq!(
            self.live.get(),
            m.live_payloads() as i64,
            "{at}: live payloads"
        );
        if let Some(tx) = self.tx.as_ref() {
            assert_eq!(tx.is_closed(), m.sender_sees_closed(), "{at}: tx.is_closed");
        }
        let Some(rx) = self.rx.as_ref() else {
            return;
        };
        assert_eq!(rx.is_closed(), m.is_closed(), "{at}: rx.is_closed");
        assert_eq!(
            rx.pending_signals().bits(),
            m.pending_signals(),
            "{at}: pending signals"
        );
        assert_eq!(rx.blocked().bits(), m.blocked(), "{at}: blocked");
        assert_eq!(
            rx.overflow().map(|o| o.lost()),
            m.overflow().map(|o| o.lost),
            "{at}: overflow"
        );
        let s = rx.stats();
        let got = MStats {
            raised: s.raised,
            coalesced: s.coalesced,
            sent: s.sent,
            dropped: s.dropped,
            delivered: s.delivered,
        };
        assert_eq!(got, m.stats(), "{at}: stats");
        assert_eq!(s.delivered, self.received, "{at}: delivered vs received");

        // The doorbell. S10: a receiver that never handed its fd out never
        // parks and its producers never write; at most one write per park;
        // none while the receiver is awake.
        if !m.exposed() {
            assert_eq!(
                (s.doorbell_writes, s.parks),
                (0, 0),
                "{at}: doorbell of a busy-polling receiver"
            );
        }
        assert!(s.parks >= self.parks, "{at}: parks went down");
        assert!(
            s.doorbell_writes <= s.parks,
            "{at}: {s:?}: more writes than parks"
        );
        let delta = s.doorbell_writes - self.writes;
        if parked_here {
            assert!(delta <= 1, "{at}: {op:?} wrote the eventfd {delta} times");
            self.writes_at_park = self.writes;
        }
        if m.armed() {
            assert!(
                s.doorbell_writes - self.writes_at_park <= 1,
                "{at}: {op:?}: more than one write in one sleep"
            );
        } else if !parked_here {
            assert_eq!(
                delta, 0,
                "{at}: {op:?} wrote the eventfd of an awake receiver"
            );
        }
        // S9: parked for epoll with something pending: the fd is readable.
        #[cfg(not(miri))]
        if m.armed() && m.ready() {
            let fd = self.fd.expect("armed implies exposed");
            assert!(
                readable(fd),
                "{at}: {op:?}: pending while parked, fd not readable"
            );
        }
        self.writes = s.doorbell_writes;
        self.parks = s.parks;
    }

    /// Ends the run: drains what is left, checks S6 (delivered + lost ==
    /// attempted), drops everything and checks that every payload was dropped
    /// exactly once.
    fn finish(mut self) {
        self.at = usize::MAX;
        if self.rx.is_some() {
            self.step(&Op::Drain {
                limit: None,
                mid: Vec::new(),
                finish: true,
            });
            let s = self.rx.as_ref().map(Receiver::stats).expect("receiver");
            assert_eq!(
                self.received + self.lost,
                s.sent,
                "S6: delivered + lost != attempted ({s:?})"
            );
            assert_eq!(self.lost, s.dropped, "S6: lost != dropped ({s:?})");
        }
        let live = Rc::clone(&self.live);
        drop(self);
        assert_eq!(live.get(), 0, "payloads leaked or dropped twice");
    }
}

/// Runs `ops` on a default channel of capacity `cap` and on the model;
/// panics on the first difference.
pub fn run(cap: usize, ops: &[Op]) {
    run_with(Options::plain(cap), ops);
}

/// Runs `ops` on a channel built with `options` and on the model; panics on
/// the first difference.
pub fn run_with(options: Options, ops: &[Op]) {
    let mut r = Runner::new(options);
    for (i, op) in ops.iter().enumerate() {
        r.at = i;
        r.step(op);
    }
    r.finish();
}

/// A byte cursor: reads past the end give 0.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// A signal number: mostly 0..6, so raises coalesce.
    pub fn signal(&mut self) -> u32 {
        let b = self.u8();
        if b < 0xC0 {
            u32::from(b) % 6
        } else {
            u32::from(b) % 64
        }
    }

    /// A set of signals for the mask: mostly of 0..6, sometimes all.
    pub fn signal_bits(&mut self) -> u64 {
        let b = self.u8();
        if b == 0xFF {
            u64::MAX
        } else {
            u64::from(b & 0x3F) | (u64::from(b >> 6) << 62)
        }
    }

    /// A value for `raise_with`: small, so values repeat.
    pub fn value(&mut self) -> u64 {
        u64::from(self.u8())
    }
}

/// Decodes fuzz input: one byte of configuration (bits 0-2: capacity
/// 1..=8; bit 3: drop-oldest; bit 4: overrun counts), then ops, each a tag
/// byte and its arguments.
pub fn decode(data: &[u8]) -> (Options, Vec<Op>) {
    let mut b = Bytes::new(data);
    let c = b.u8();
    let options = Options {
        cap: 1 + usize::from(c % 8),
        drop_oldest: c & 8 != 0,
        counts: c & 16 != 0,
    };
    let mut ops = Vec::new();
    while !b.is_empty() {
        let op = match b.u8() % 27 {
            0..=2 => Op::Send(b.u32()),
            3 => Op::Raise(b.signal()),
            4 => Op::RaiseFromRaiser(usize::from(b.u8()), b.signal()),
            5 => Op::NewRaiser(usize::from(b.u8())),
            6 => Op::CloneRaiser(usize::from(b.u8()), usize::from(b.u8())),
            7 => Op::DropRaiser(usize::from(b.u8())),
            8 => Op::TakeSignals,
            9 => Op::PendingSignals,
            10 | 11 => Op::TryRecv,
            12 => {
                let l = b.u8();
                let limit = (l < 0x80).then_some(usize::from(l % 10));
                let n = b.u8();
                let mid = (0..n % 4)
                    .map(|_| match b.u8() % 3 {
                        0 => Mid::Send(b.u32()),
                        1 => Mid::Raise(b.signal()),
                        _ => Mid::FreeSlots,
                    })
                    .collect();
                Op::Drain {
                    limit,
                    mid,
                    finish: n & 0x80 != 0,
                }
            }
            13 => Op::Overflow,
            14 => Op::Acknowledge,
            15 => Op::FreeSlots,
            16 => Op::Stats,
            17 => Op::WaitZero,
            18 => Op::Expose,
            19 => Op::RaiseWith(b.signal(), b.value()),
            25 => Op::SendIter(b.u8() % 10, b.u32()),
            20 => Op::RaiseWithFromRaiser(usize::from(b.u8()), b.signal(), b.value()),
            21 => Op::TakeSignalsWith,
            22 => Op::TakeSignalsCounted,
            23 => Op::Block(b.signal_bits()),
            24 => Op::Unblock(b.signal_bits()),
            _ => match b.u8() % 4 {
                0 => Op::CloseReceiver,
                1 | 2 => Op::CloseSender,
                _ => Op::Stats,
            },
        };
        ops.push(op);
    }
    (options, ops)
}
