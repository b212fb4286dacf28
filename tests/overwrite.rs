//! The drop-oldest ring (`eventsig::overwrite`) and the channel built on it
//! (`OverflowPolicy::DropOldest`): every push is accepted, a full ring
//! evicts its oldest unread event, and the loss is still exact.
//!
//! - S5 (drop-oldest form): a push never fails; the evicted event comes back
//!   to the producer;
//! - S3/S7: the newest `capacity` events survive, in order, and
//!   `Lost { first, count }` stands right before the oldest survivor;
//! - S6: delivered + lost == attempts; every payload is dropped exactly
//!   once (delivered, evicted, or left in the ring);
//! - S8: the overflow is set as soon as an event is evicted, and is sticky;
//! - a random-operations test against a reference model (ring and channel);
//! - two threads with random stalls and tiny capacities (1, 2, 3), checking
//!   payload integrity (a torn or reused cell shows) and the stream;
//! - the channel with real threads and the eventfd: no lost wake-up (S9).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use eventsig::overwrite::{self, Consumer, Producer};
use eventsig::ring::Run;
use eventsig::{Delivery, OverflowPolicy, SendError, TryRecvError};

mod common;
use common::{check_progress, scaled, spin_while, stall, XorShift};

/// A [`common::Payload`] that counts its drops.
#[derive(Debug)]
struct Payload {
    body: common::Payload,
    drops: Arc<AtomicUsize>,
}

impl Payload {
    fn new(seq: u64, drops: &Arc<AtomicUsize>) -> Payload {
        Payload {
            body: common::Payload::new(seq),
            drops: Arc::clone(drops),
        }
    }

    /// Checks the payload's integrity; returns its sequence number.
    fn check(&self) -> u64 {
        self.body.check()
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// Consumer-side checker of the stream, with payload = sequence number:
/// every delivery starts exactly where the previous one ended.
#[derive(Debug, Default)]
struct StreamCheck {
    /// The next attempt the stream must account for.
    next: u64,
    events: u64,
    lost: u64,
    gaps: u64,
    /// The end of the last gap (first + count).
    last_gap_end: u64,
}

impl StreamCheck {
    fn event(&mut self, seq: u64) {
        assert_eq!(seq, self.next, "event out of place (S3/S7)");
        self.next += 1;
        self.events += 1;
    }

    fn lost(&mut self, first: u64, count: u64) {
        assert_eq!(first, self.next, "gap out of place (S7)");
        assert!(count > 0, "an empty gap marker");
        self.next += count;
        self.lost += count;
        self.gaps += 1;
        self.last_gap_end = self.next;
    }

    fn see_u64(&mut self, d: Delivery<u64>) {
        match d {
            Delivery::Event(v) => self.event(v),
            Delivery::Lost { first, count } => self.lost(first, count),
        }
    }

    fn see(&mut self, d: Delivery<Payload>) {
        match d {
            Delivery::Event(p) => self.event(p.check()),
            Delivery::Lost { first, count } => self.lost(first, count),
        }
    }
}

// ---------------------------------------------------------------------------
// Single-threaded facts.
// ---------------------------------------------------------------------------

#[test]
fn s05_every_push_is_accepted_and_the_newest_survive() {
    for cap in [1usize, 2, 3, 7, 64] {
        let (mut tx, mut rx) = overwrite::ring::<u64>(cap).unwrap();
        let n = 5 * cap as u64 + 3;
        let mut evicted = Vec::new();
        for i in 0..n {
            evicted.extend(tx.push(i));
        }
        // The evicted events come back oldest first: exactly the first n - cap.
        assert_eq!(
            evicted,
            (0..n - cap as u64).collect::<Vec<_>>(),
            "cap {cap}"
        );
        assert_eq!(tx.dropped(), n - cap as u64);
        assert_eq!(tx.attempts(), n);
        assert_eq!(rx.dropped(), n - cap as u64, "published before the read");
        let got: Vec<_> = rx.drain().collect();
        let mut want = vec![Delivery::Lost {
            first: 0,
            count: n - cap as u64,
        }];
        want.extend((n - cap as u64..n).map(Delivery::Event));
        assert_eq!(got, want, "cap {cap}: one gap, then the newest {cap}");
        assert_eq!(rx.pop(), None);
        assert_eq!(rx.attempts(), n);
    }
}

#[test]
fn s07_gap_stands_before_the_oldest_survivor_after_partial_reads() {
    let (mut tx, mut rx) = overwrite::ring::<u64>(3).unwrap();
    for i in 0..3 {
        assert_eq!(tx.push(i), None);
    }
    assert_eq!(rx.pop(), Some(Delivery::Event(0)));
    // 3 fills the freed slot; 4 and 5 evict 1 and 2.
    assert_eq!(tx.push(3), None);
    assert_eq!(tx.push(4), Some(1));
    assert_eq!(tx.push(5), Some(2));
    assert_eq!(rx.pop(), Some(Delivery::Lost { first: 1, count: 2 }));
    assert_eq!(rx.pop(), Some(Delivery::Event(3)));
    // More evictions while the consumer is between events: a second gap,
    // adjacent to nothing, before the oldest survivor.
    for i in 6..9 {
        tx.push(i);
    }
    let got: Vec<_> = rx.drain().collect();
    assert_eq!(
        got,
        [
            Delivery::Lost { first: 4, count: 2 },
            Delivery::Event(6),
            Delivery::Event(7),
            Delivery::Event(8)
        ]
    );
    assert_eq!(rx.dropped(), 4);
}

#[test]
fn drain_ends_at_its_snapshot_and_a_growing_gap_is_reported_whole() {
    let (mut tx, mut rx) = overwrite::ring::<u64>(2).unwrap();
    tx.push(0);
    tx.push(1);
    let mut drain = rx.drain();
    assert_eq!(drain.next(), Some(Delivery::Event(0)));
    // While the drain is open, the producer laps it: 1 is evicted, and so
    // are 2..=5 (pushed after the snapshot).
    for i in 2..8 {
        tx.push(i);
    }
    assert_eq!(drain.next(), Some(Delivery::Lost { first: 1, count: 5 }));
    assert_eq!(drain.next(), None, "the drain ends at its snapshot");
    drop(drain);
    let rest: Vec<_> = rx.drain().collect();
    assert_eq!(rest, [Delivery::Event(6), Delivery::Event(7)]);
}

#[test]
fn free_slots_and_push_iter_never_evict() {
    let (mut tx, mut rx) = overwrite::ring::<u64>(3).unwrap();
    assert_eq!(tx.free_slots(), 3);
    let mut items = 0..10;
    assert_eq!(tx.push_iter(&mut items), 3);
    assert_eq!(items.next(), Some(3), "the item that does not fit stays");
    assert_eq!(tx.free_slots(), 0);
    assert_eq!(tx.push_iter(&mut items), 0);
    assert_eq!(tx.dropped(), 0);
    assert_eq!(tx.attempts(), 3, "items not taken get no sequence number");
    assert_eq!(rx.pop(), Some(Delivery::Event(0)));
    assert_eq!(tx.free_slots(), 1);
    {
        let mut drain = rx.drain();
        assert_eq!(drain.next(), Some(Delivery::Event(1)));
        // Published when the drain ends, as with the default ring.
        assert_eq!(tx.free_slots(), 1);
    }
    assert_eq!(tx.free_slots(), 2);
    assert_eq!(tx.push_iter(&mut (10..20)), 2);
    let got: Vec<_> = rx.drain().filter_map(Delivery::event).collect();
    assert_eq!(got, [2, 10, 11]);
    assert_eq!(rx.dropped(), 0);
}

#[test]
fn runs_hold_one_event_each_and_mix_with_next() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = overwrite::ring::<Payload>(3).unwrap();
    for i in 0..5 {
        drop(tx.push(Payload::new(i, &drops)));
    }
    assert_eq!(drops.load(Ordering::Relaxed), 2, "evicted: 0 and 1");
    let mut drain = rx.drain();
    assert!(matches!(
        drain.next_run(),
        Some(Run::Lost { first: 0, count: 2 })
    ));
    match drain.next_run() {
        Some(Run::Events(events)) => {
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].check(), 2);
        } // dropped in place here
        other => panic!("{other:?}"),
    }
    assert_eq!(drops.load(Ordering::Relaxed), 3);
    match drain.next() {
        Some(Delivery::Event(p)) => assert_eq!(p.check(), 3),
        other => panic!("{other:?}"),
    }
    match drain.next_run() {
        Some(Run::Events(mut events)) => {
            // Moved out of the run: dropped once, by us.
            let p = std::mem::replace(&mut events[0], Payload::new(99, &drops));
            assert_eq!(p.check(), 4);
        }
        other => panic!("{other:?}"),
    }
    assert!(drain.next_run().is_none());
    drop(drain);
    drop((tx, rx));
    // 5 payloads and the replacement, each dropped once.
    assert_eq!(drops.load(Ordering::Relaxed), 6);
}

#[test]
fn every_value_is_dropped_exactly_once_delivered_evicted_or_left() {
    for cap in [1usize, 2, 3, 8] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = overwrite::ring::<Payload>(cap).unwrap();
        let mut rng = XorShift::new(cap as u64);
        let mut made = 0u64;
        for _ in 0..scaled(2_000, 200) {
            match rng.below(4) {
                0 | 1 => {
                    drop(tx.push(Payload::new(made, &drops)));
                    made += 1;
                }
                2 => drop(rx.pop()),
                _ => drop(rx.drain().take(rng.below(3) as usize).count()),
            }
        }
        drop((tx, rx));
        assert_eq!(drops.load(Ordering::Relaxed) as u64, made, "cap {cap}");
    }
}

#[test]
fn halves_are_send_and_debug() {
    fn assert_send<T: Send>() {}
    assert_send::<Producer<String>>();
    assert_send::<Consumer<String>>();
    let (tx, mut rx) = overwrite::ring::<u8>(2).unwrap();
    assert!(format!("{tx:?}").contains("capacity: 2"));
    assert!(format!("{rx:?}").contains("capacity: 2"));
    assert!(format!("{:?}", rx.drain()).contains("Drain"));
}

// ---------------------------------------------------------------------------
// Random operations against a reference model.
// ---------------------------------------------------------------------------

/// The reference: what a single-threaded drop-oldest ring must answer.
#[derive(Debug)]
struct Reference {
    cap: usize,
    /// Positions stored and not taken, oldest first.
    stored: VecDeque<u64>,
    tail: u64,
    /// The consumer's next position.
    head: u64,
    /// The position the consumer last published (pop, end of a drain).
    published: u64,
    dropped: u64,
    taken: u64,
    /// Drops acknowledged on the channel.
    acked: u64,
}

impl Reference {
    fn new(cap: usize) -> Reference {
        Reference {
            cap,
            stored: VecDeque::new(),
            tail: 0,
            head: 0,
            published: 0,
            dropped: 0,
            taken: 0,
            acked: 0,
        }
    }

    /// Returns the evicted position.
    fn push(&mut self) -> Option<u64> {
        let evicted = (self.stored.len() == self.cap).then(|| {
            self.dropped += 1;
            self.stored.pop_front().unwrap()
        });
        self.stored.push_back(self.tail);
        self.tail += 1;
        evicted
    }

    fn free_slots(&self) -> usize {
        self.cap
            .saturating_sub((self.tail - self.published) as usize)
    }

    fn push_iter(&mut self, offered: usize) -> usize {
        let n = offered.min(self.free_slots());
        for _ in 0..n {
            assert_eq!(self.push(), None);
        }
        n
    }

    /// The next delivery below `limit`: the gap up to the oldest survivor,
    /// or that event.
    fn step(&mut self, limit: u64) -> Option<Delivery<u64>> {
        if self.head >= limit {
            return None;
        }
        let oldest = *self
            .stored
            .front()
            .expect("the newest position below the tail survives");
        if oldest > self.head {
            let d = Delivery::Lost {
                first: self.head,
                count: oldest - self.head,
            };
            self.head = oldest;
            return Some(d);
        }
        self.stored.pop_front();
        self.head += 1;
        self.taken += 1;
        Some(Delivery::Event(oldest))
    }

    fn pop(&mut self) -> Option<Delivery<u64>> {
        let d = self.step(self.tail);
        self.published = self.head;
        d
    }

    /// Compares up to `limit` items of a drain, taken by `next`, with the
    /// reference's steps below the drain's snapshot (the tail now), feeding
    /// them to `check`; after the first item, calls `push` `mid` times (it
    /// pushes on the real side and on the reference). The caller ends the
    /// drain.
    fn compare_drain(
        &mut self,
        check: &mut StreamCheck,
        (limit, mid): (usize, u64),
        mut next: impl FnMut() -> Option<Delivery<u64>>,
        mut push: impl FnMut(&mut Reference),
        at: &dyn Fn() -> String,
    ) {
        let snap = self.tail;
        for i in 0..limit {
            let got = next();
            assert_eq!(got, self.step(snap), "{} (item {i})", at());
            let Some(got) = got else { break };
            check.see_u64(got);
            if i == 0 {
                for _ in 0..mid {
                    push(self);
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Push(u64),
    PushIter(usize),
    Pop,
    /// A drain: up to `limit` items (by runs if `runs`), with `mid` pushes
    /// after the first item.
    Drain {
        limit: usize,
        mid: u64,
        runs: bool,
    },
    FreeSlots,
    Counters,
    /// Channel only: read the overflow now, acknowledge it later.
    ReadOverflow,
    Acknowledge,
}

fn random_ops(rng: &mut XorShift, len: usize) -> Vec<Op> {
    (0..len)
        .map(|_| match rng.below(20) {
            0..=6 => Op::Push(1 + rng.below(4)),
            7 => Op::PushIter(rng.below(5) as usize),
            8..=10 => Op::Pop,
            11..=13 => Op::Drain {
                limit: rng.below(8) as usize,
                mid: if rng.below(3) == 0 { rng.below(6) } else { 0 },
                runs: rng.below(2) == 0,
            },
            14 => Op::FreeSlots,
            15 | 16 => Op::Counters,
            17 => Op::ReadOverflow,
            _ => Op::Acknowledge,
        })
        .collect()
}

/// The ring against the reference, every answer compared.
fn run_ring(cap: usize, ops: &[Op]) {
    let (mut tx, mut rx) = overwrite::ring::<u64>(cap).unwrap();
    let mut r = Reference::new(cap);
    let mut check = StreamCheck::default();
    for (step, op) in ops.iter().enumerate() {
        let at = || format!("cap {cap}, step {step} ({op:?}), ops {ops:?}");
        match op {
            Op::Push(k) => {
                for _ in 0..*k {
                    let seq = tx.attempts();
                    let evicted = tx.push(seq);
                    assert_eq!(evicted, r.push(), "{}", at());
                }
            }
            Op::PushIter(k) => {
                let start = tx.attempts();
                let mut items = start..start + *k as u64;
                assert_eq!(tx.push_iter(&mut items), r.push_iter(*k), "{}", at());
            }
            Op::Pop => {
                let d = rx.pop();
                assert_eq!(d, r.pop(), "{}", at());
                d.into_iter().for_each(|d| check.see_u64(d));
            }
            Op::Drain { limit, mid, runs } => {
                let mut drain = rx.drain();
                let next = || {
                    if *runs {
                        drain.next_run().map(|run| match run {
                            Run::Events(events) => {
                                assert_eq!(events.len(), 1, "{}", at());
                                Delivery::Event(events[0])
                            }
                            Run::Lost { first, count } => Delivery::Lost { first, count },
                        })
                    } else {
                        drain.next()
                    }
                };
                let push = |r: &mut Reference| {
                    let seq = tx.attempts();
                    assert_eq!(tx.push(seq), r.push(), "{}", at());
                };
                r.compare_drain(&mut check, (*limit, *mid), next, push, &at);
                drop(drain);
                r.published = r.head;
            }
            Op::FreeSlots => assert_eq!(tx.free_slots(), r.free_slots(), "{}", at()),
            Op::Counters | Op::ReadOverflow | Op::Acknowledge => {
                assert_eq!(tx.dropped(), r.dropped, "{}", at());
                assert_eq!(rx.dropped(), r.dropped, "{}", at());
                assert_eq!(tx.attempts(), r.tail, "{}", at());
                assert_eq!(rx.attempts(), r.tail, "{}", at());
                assert_eq!(rx.has_pending(), r.head < r.tail, "{}", at());
            }
        }
    }
    // Drain everything: S6.
    while let Some(d) = rx.pop() {
        assert_eq!(Some(d), r.pop());
        check.see_u64(d);
    }
    assert_eq!(check.next, tx.attempts(), "S6: every attempt accounted for");
    assert_eq!(check.events + check.lost, tx.attempts());
    assert_eq!(check.lost, tx.dropped());
}

/// The channel with `OverflowPolicy::DropOldest` against the same reference,
/// with the sticky overflow and the counters.
fn run_channel(cap: usize, ops: &[Op]) {
    let (mut tx, mut rx) = eventsig::builder()
        .capacity(cap)
        .overflow_policy(OverflowPolicy::DropOldest)
        .build::<u64>()
        .unwrap();
    let mut r = Reference::new(cap);
    let mut check = StreamCheck::default();
    let mut read = None;
    for (step, op) in ops.iter().enumerate() {
        let at = || format!("channel cap {cap}, step {step} ({op:?}), ops {ops:?}");
        match op {
            Op::Push(k) => {
                for _ in 0..*k {
                    r.push();
                    assert!(tx.send(r.tail - 1).is_ok(), "{}", at());
                }
            }
            Op::PushIter(k) => {
                let start = r.tail;
                let mut items = start..start + *k as u64;
                assert_eq!(tx.send_iter(&mut items), r.push_iter(*k), "{}", at());
            }
            Op::Pop => {
                let got = rx.try_recv();
                match r.pop() {
                    Some(d) => {
                        assert_eq!(got, Ok(d), "{}", at());
                        check.see_u64(d);
                    }
                    None => assert_eq!(got, Err(TryRecvError::Empty), "{}", at()),
                }
            }
            Op::Drain { limit, mid, runs } => {
                let mut drain = rx.drain();
                let next = || {
                    if *runs {
                        drain.next_run().map(|run| match run {
                            Run::Events(events) => Delivery::Event(events[0]),
                            Run::Lost { first, count } => Delivery::Lost { first, count },
                        })
                    } else {
                        drain.next()
                    }
                };
                let push = |r: &mut Reference| {
                    r.push();
                    assert!(tx.send(r.tail - 1).is_ok(), "{}", at());
                };
                r.compare_drain(&mut check, (*limit, *mid), next, push, &at);
                drop(drain);
                r.published = r.head;
            }
            Op::FreeSlots => assert_eq!(tx.free_slots(), r.free_slots(), "{}", at()),
            Op::Counters => {
                let s = rx.stats();
                assert_eq!(
                    (s.sent, s.dropped, s.delivered),
                    (r.tail, r.dropped, r.taken),
                    "{}",
                    at()
                );
            }
            Op::ReadOverflow => {
                let ov = rx.overflow();
                let want = r.dropped - r.acked;
                assert_eq!(ov.map_or(0, |o| o.lost()), want, "S8: {}", at());
                read = ov.map(|o| (o, r.dropped));
            }
            Op::Acknowledge => {
                if let Some((ov, upto)) = read.take() {
                    rx.acknowledge(ov);
                    r.acked = r.acked.max(upto);
                }
                let want = r.dropped - r.acked;
                assert_eq!(
                    rx.overflow().map_or(0, |o| o.lost()),
                    want,
                    "S8: only the drops it saw: {}",
                    at()
                );
            }
        }
    }
    while let Ok(d) = rx.try_recv() {
        assert_eq!(Some(d), r.pop());
        check.see_u64(d);
    }
    assert_eq!(check.next, r.tail, "S6");
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "S11");
}

#[test]
fn s03_s06_s07_s08_random_operations_match_a_reference_model() {
    let seeds = scaled(3_000, 30);
    for seed in 1..=seeds {
        let mut rng = XorShift::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let cap = 1 + rng.below(6) as usize;
        let len = 1 + rng.below(60) as usize;
        let ops = random_ops(&mut rng, len);
        run_ring(cap, &ops);
        run_channel(cap, &ops);
    }
}

// ---------------------------------------------------------------------------
// Two threads: the producer laps the consumer while it reads.
// ---------------------------------------------------------------------------

#[test]
fn two_threads_tiny_capacities_payloads_intact_and_loss_exact() {
    let n = scaled(200_000, 300);
    for (seed, cap) in [1usize, 2, 3].into_iter().enumerate() {
        two_threads_with_random_stalls(cap, n, 20 + seed as u64);
    }
}

#[test]
fn two_threads_larger_capacities() {
    let n = scaled(1_000_000, 500);
    for (seed, cap) in [7usize, 64].into_iter().enumerate() {
        two_threads_with_random_stalls(cap, n, 40 + seed as u64);
    }
}

/// The producer pushes `0..n` (heap payloads) into a ring of `cap`, in
/// blocks that either flood (the ring overflows and the producer laps the
/// consumer) or wait boundedly for a free slot (the consumer catches up and
/// finds the ring empty); the consumer pops, drains, and drains by runs,
/// stalling at random. Checks every payload, the stream (S3, S7),
/// conservation (S6), that the last `cap` events always survive, that the
/// producer's evictions are the consumer's gaps, and that every payload is
/// dropped exactly once.
fn two_threads_with_random_stalls(cap: usize, n: u64, seed: u64) {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = overwrite::ring::<Payload>(cap).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let made = Arc::clone(&drops);
    let producer = thread::spawn(move || {
        let mut rng = XorShift::new(0xFEED ^ seed);
        let mut patient = false;
        let mut last_evicted = None;
        let mut evicted = 0u64;
        for i in 0..n {
            if i % 512 == 0 {
                patient = rng.below(3) == 0;
            }
            if patient {
                spin_while(256, || tx.free_slots() == 0);
            }
            if let Some(old) = tx.push(Payload::new(i, &made)) {
                let seq = old.check();
                assert!(
                    last_evicted.map_or(true, |l| seq > l),
                    "evicted out of order"
                );
                assert!(seq + cap as u64 <= i, "evicted one of the newest {cap}");
                last_evicted = Some(seq);
                evicted += 1;
            }
            if rng.below(256) == 0 {
                stall(&mut rng, 3_000);
            }
        }
        assert_eq!(tx.dropped(), evicted);
        assert_eq!(tx.attempts(), n);
        tx
    });

    let mut rng = XorShift::new(0xBEEF ^ seed);
    let mut check = StreamCheck::default();
    let mut rounds = 0u64;
    let mut empty_polls = 0u64;
    while check.next < n {
        rounds += 1;
        check_progress(rounds, deadline, check.next, n);
        let before = check.next;
        match rng.below(3) {
            0 => {
                for d in rx.drain() {
                    check.see(d);
                }
            }
            1 => {
                let mut drain = rx.drain();
                while let Some(run) = drain.next_run() {
                    match run {
                        Run::Events(events) => {
                            assert_eq!(events.len(), 1);
                            check.event(events[0].check());
                        }
                        Run::Lost { first, count } => check.lost(first, count),
                    }
                }
            }
            _ => {
                for _ in 0..rng.below(50) {
                    match rx.pop() {
                        Some(d) => check.see(d),
                        None => break,
                    }
                }
            }
        }
        if check.next == before {
            empty_polls += 1;
            if empty_polls % 16 == 0 {
                thread::yield_now();
            }
        }
        if rng.below(64) == 0 {
            stall(&mut rng, 2_000);
        }
    }
    let tx = producer.join().unwrap();
    assert!(
        rx.pop().is_none(),
        "nothing after every attempt is accounted for"
    );
    assert_eq!(check.next, n);
    assert_eq!(check.events + check.lost, n, "S6");
    assert_eq!(check.lost, tx.dropped(), "every eviction is a reported gap");
    assert_eq!(rx.dropped(), tx.dropped());
    assert!(
        check.last_gap_end <= n - cap as u64,
        "the newest {cap} events always survive"
    );
    if !cfg!(miri) {
        assert!(
            check.lost > 0,
            "nothing was evicted: the test exercised nothing"
        );
        assert!(check.gaps > 1 && check.events > cap as u64);
    }
    drop((tx, rx));
    assert_eq!(
        drops.load(Ordering::Relaxed) as u64,
        n,
        "every payload dropped exactly once"
    );
    eprintln!(
        "cap {cap}, {n} pushes: {} events, {} lost in {} gaps, {empty_polls} empty polls",
        check.events, check.lost, check.gaps
    );
}

// ---------------------------------------------------------------------------
// The channel with OverflowPolicy::DropOldest.
// ---------------------------------------------------------------------------

fn drop_oldest_channel<T>(cap: usize) -> (eventsig::Sender<T>, eventsig::Receiver<T>) {
    eventsig::builder()
        .capacity(cap)
        .overflow_policy(OverflowPolicy::DropOldest)
        .build()
        .unwrap()
}

/// The seed story with the recent-connections view: 2000 events into 100
/// slots while the monitor is away; it finds the last 100, one gap before
/// them, and the overflow set before it even drains.
#[test]
fn s05_s07_s08_channel_keeps_the_most_recent_events() {
    let (mut tx, mut rx) = drop_oldest_channel::<u32>(100);
    assert_eq!(tx.overflow_policy(), OverflowPolicy::DropOldest);
    for i in 0..2000 {
        assert!(tx.send(i).is_ok(), "never Full");
    }
    let ov = rx.overflow().expect("S8: set by the evictions");
    assert_eq!(ov.lost(), 1900);
    let got: Vec<_> = rx.drain().collect();
    assert_eq!(
        got[0],
        Delivery::Lost {
            first: 0,
            count: 1900
        }
    );
    assert_eq!(
        got[1..]
            .iter()
            .map(|d| d.event().unwrap())
            .collect::<Vec<_>>(),
        (1900..2000).collect::<Vec<_>>()
    );
    assert_eq!(rx.overflow(), Some(ov), "S8: draining does not clear it");
    rx.acknowledge(ov);
    assert_eq!(rx.overflow(), None);
    let s = rx.stats();
    assert_eq!((s.sent, s.dropped, s.delivered), (2000, 1900, 100));
    drop(rx);
    assert!(matches!(tx.send(1), Err(SendError::Closed(1))), "S11");
}

/// Producer and consumer on real threads, the consumer blocking in `wait`
/// (real eventfd) whenever it has caught up: no lost wake-up (S9: a `wait`
/// that times out fails the test), the stream is exact, conservation holds
/// (S6), the overflow counts every eviction (S8), and the close comes after
/// everything (S11).
#[test]
fn s06_s09_s11_channel_two_threads_with_a_blocking_consumer() {
    let n = scaled(200_000, 300);
    for cap in [1usize, 2, 3, 64] {
        let (mut tx, mut rx) = drop_oldest_channel::<u64>(cap);
        let producer = thread::spawn(move || {
            let mut rng = XorShift::new(cap as u64 + 7);
            for i in 0..n {
                tx.send(i).unwrap();
                if rng.below(128) == 0 {
                    stall(&mut rng, 20_000);
                }
                if rng.below(4096) == 0 {
                    // Long enough for the consumer to park.
                    thread::sleep(Duration::from_micros(200));
                }
            }
        });
        let mut check = StreamCheck::default();
        loop {
            match rx.try_recv() {
                Ok(d) => check.see_u64(d),
                Err(TryRecvError::Empty) => {
                    assert!(
                        rx.wait(Some(Duration::from_secs(10))).unwrap(),
                        "S9: a lost wake-up at {} of {n} (cap {cap})",
                        check.next
                    );
                }
                Err(TryRecvError::Closed) => break,
            }
        }
        producer.join().unwrap();
        assert_eq!(check.next, n, "S6/S11: everything before the close");
        assert_eq!(check.events + check.lost, n);
        assert_eq!(rx.overflow().map_or(0, |o| o.lost()), check.lost, "S8");
        let s = rx.stats();
        assert_eq!(
            (s.sent, s.dropped, s.delivered),
            (n, check.lost, check.events)
        );
    }
}
