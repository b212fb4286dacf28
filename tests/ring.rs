//! The standalone event ring (`eventsig::ring`): S3 FIFO, exact capacity,
//! S5 full, S6 conservation, S7 gap position, drain snapshots, and drop of
//! unread values.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use eventsig::ring::{ring, Consumer, Producer, Run};
use eventsig::{BuildError, Delivery};

mod common;
use common::{
    check_progress, scaled_usize as scaled, spin_while, stall, Payload, Tracker, XorShift,
};

/// Capacities under test: not only powers of two.
const CAPACITIES: [usize; 5] = [1, 2, 3, 7, 64];

// ---------------------------------------------------------------------------
// S3: FIFO, each at most once, payload intact; exact capacity.
// ---------------------------------------------------------------------------

#[test]
fn s03_fifo_payload_intact_across_many_wraparounds() {
    let mut rng = XorShift::new(3);
    for cap in CAPACITIES {
        let (mut tx, mut rx) = ring::<Payload>(cap).unwrap();
        let total = scaled(20_000, 200) as u64;
        let mut next_push = 0u64;
        let mut next_pop = 0u64;
        while next_pop < total {
            // Push a random batch that fits, then take it out by pop or drain.
            let room = (cap as u64).min(total - next_push);
            let batch = 1 + rng.below(room.max(1));
            for _ in 0..batch.min(total - next_push) {
                assert!(tx.push(Payload::new(next_push)).is_ok(), "cap {cap}");
                next_push += 1;
            }
            if rng.below(2) == 0 {
                while let Some(d) = rx.pop() {
                    match d {
                        Delivery::Event(p) => assert_eq!(p.check(), next_pop, "cap {cap}"),
                        lost => panic!("cap {cap}: nothing was dropped, got {lost:?}"),
                    }
                    next_pop += 1;
                }
            } else {
                for d in rx.drain() {
                    match d {
                        Delivery::Event(p) => assert_eq!(p.check(), next_pop, "cap {cap}"),
                        lost => panic!("cap {cap}: nothing was dropped, got {lost:?}"),
                    }
                    next_pop += 1;
                }
            }
            assert_eq!(next_pop, next_push, "cap {cap}: everything pushed came out");
        }
        // Many wrap-arounds of the 0..2*cap position space.
        assert!(total / cap as u64 >= 3, "cap {cap}: too few wrap-arounds");
        assert_eq!(rx.pop(), None);
        assert_eq!(tx.dropped(), 0);
        assert_eq!(tx.attempts(), total);
    }
}

#[test]
fn s03_fifo_with_interleaved_single_push_and_pop() {
    // The ring never fills: one in, one out, offset by a random fill level.
    for cap in CAPACITIES {
        let (mut tx, mut rx) = ring::<u64>(cap).unwrap();
        // At most cap - 1 stored, so that the push before each pop fits.
        let lead = cap as u64 / 2;
        for i in 0..lead {
            tx.push(i).unwrap();
        }
        let n = scaled(10_000, 200) as u64;
        for i in 0..n {
            tx.push(lead + i).unwrap();
            assert_eq!(rx.pop(), Some(Delivery::Event(i)), "cap {cap}");
        }
        let rest: Vec<_> = rx.drain().filter_map(Delivery::event).collect();
        assert_eq!(rest, (n..n + lead).collect::<Vec<_>>(), "cap {cap}");
    }
}

#[test]
fn s03_exact_capacity_accepts_n_then_refuses() {
    for cap in [1, 2, 3, 5, 7, 8, 63, 64, 65, 100, 1000] {
        let (mut tx, mut rx) = ring::<usize>(cap).unwrap();
        assert_eq!(tx.capacity(), cap);
        assert_eq!(rx.capacity(), cap);
        assert_eq!(tx.free_slots(), cap);
        for i in 0..cap {
            assert_eq!(tx.push(i), Ok(()), "cap {cap}: push {i} of {cap}");
            assert_eq!(tx.free_slots(), cap - i - 1);
        }
        assert_eq!(tx.push(cap), Err(cap), "cap {cap}: one more than capacity");
        assert_eq!(tx.free_slots(), 0);
        // Taking one frees exactly one.
        assert_eq!(rx.pop(), Some(Delivery::Event(0)));
        assert_eq!(tx.free_slots(), 1);
        assert_eq!(tx.push(cap + 1), Ok(()));
        assert_eq!(tx.push(cap + 2), Err(cap + 2));
        // Payload = attempt number: the refused attempts are gaps.
        let mut expected: Vec<_> = (1..cap).map(Delivery::Event).collect();
        expected.extend([
            Delivery::Lost {
                first: cap as u64,
                count: 1,
            },
            Delivery::Event(cap + 1),
            Delivery::Lost {
                first: cap as u64 + 2,
                count: 1,
            },
        ]);
        let got: Vec<_> = rx.drain().collect();
        assert_eq!(got, expected, "cap {cap}");
        // Fill again, over a wrapped position.
        assert_eq!(tx.free_slots(), cap);
        for i in 0..cap {
            assert_eq!(tx.push(i), Ok(()), "cap {cap}: second fill, push {i}");
        }
        assert!(tx.push(0).is_err());
    }
}

#[test]
fn s03_zero_capacity_is_an_error() {
    assert!(matches!(ring::<u8>(0), Err(BuildError::ZeroCapacity)));
    assert!(matches!(
        ring::<u8>(usize::MAX),
        Err(BuildError::CapacityTooLarge {
            requested: usize::MAX
        })
    ));
}

// ---------------------------------------------------------------------------
// S5: a full ring hands the value back and counts the drop.
// ---------------------------------------------------------------------------

#[test]
fn s05_full_hands_the_value_back_and_counts_it() {
    for cap in CAPACITIES {
        let (mut tx, rx) = ring::<Payload>(cap).unwrap();
        for i in 0..cap as u64 {
            tx.push(Payload::new(i)).unwrap();
        }
        assert_eq!(tx.dropped(), 0);
        for k in 1..=10u64 {
            let seq = cap as u64 + k - 1;
            let back = tx.push(Payload::new(seq)).unwrap_err();
            assert_eq!(back.check(), seq, "the very value comes back");
            assert_eq!(tx.dropped(), k);
            assert_eq!(rx.dropped(), k, "the consumer sees the published count");
            assert_eq!(tx.attempts(), seq + 1, "a refused attempt uses a number");
            assert_eq!(rx.attempts(), seq + 1);
        }
    }
}

// ---------------------------------------------------------------------------
// S7: the gap marker sits exactly where the drops were.
// ---------------------------------------------------------------------------

#[test]
fn s07_lost_sits_between_last_accepted_and_next_accepted() {
    let (mut tx, mut rx) = ring::<u64>(3).unwrap();
    // Payload = attempt number.
    let mut seq = 0u64;
    let mut push = |tx: &mut Producer<u64>| {
        let r = tx.push(seq);
        seq += 1;
        r.is_ok()
    };
    assert!(push(&mut tx) && push(&mut tx) && push(&mut tx)); // 0 1 2
    assert!(!push(&mut tx) && !push(&mut tx)); // 3 4 dropped
    assert_eq!(rx.pop(), Some(Delivery::Event(0)));
    assert!(push(&mut tx)); // 5
    assert!(!push(&mut tx) && !push(&mut tx)); // 6 7 dropped
    let got: Vec<_> = rx.drain().collect();
    assert_eq!(
        got,
        [
            Delivery::Event(1),
            Delivery::Event(2),
            Delivery::Lost { first: 3, count: 2 },
            Delivery::Event(5),
            Delivery::Lost { first: 6, count: 2 },
        ]
    );
    // Nothing is reported twice.
    assert_eq!(rx.pop(), None);
    assert!(push(&mut tx)); // 8
    assert_eq!(rx.pop(), Some(Delivery::Event(8)));
    assert_eq!(rx.pop(), None);
}

#[test]
fn s07_lost_reported_while_ring_stays_full_and_nothing_follows() {
    for cap in CAPACITIES {
        for use_drain in [true, false] {
            let (mut tx, mut rx) = ring::<u64>(cap).unwrap();
            for i in 0..cap as u64 {
                tx.push(i).unwrap();
            }
            for i in 0..5 {
                assert!(tx.push(cap as u64 + i).is_err());
            }
            let got: Vec<_> = if use_drain {
                rx.drain().collect()
            } else {
                std::iter::from_fn(|| rx.pop()).collect()
            };
            let mut expected: Vec<_> = (0..cap as u64).map(Delivery::Event).collect();
            expected.push(Delivery::Lost {
                first: cap as u64,
                count: 5,
            });
            assert_eq!(got, expected, "cap {cap}, drain {use_drain}");
            assert_eq!(rx.pop(), None, "the gap is reported once");
            assert!(!rx.has_pending());
        }
    }
}

#[test]
fn s07_trailing_lost_then_more_drops_are_contiguous() {
    // A gap reported at the end of the stream, then more drops before any
    // accepted event: the next marker starts where the previous one ended.
    let (mut tx, mut rx) = ring::<u64>(1).unwrap();
    tx.push(0).unwrap();
    assert!(tx.push(1).is_err());
    assert!(tx.push(2).is_err());
    assert!(rx.has_pending());
    assert_eq!(rx.pop(), Some(Delivery::Event(0)));
    assert_eq!(rx.pop(), Some(Delivery::Lost { first: 1, count: 2 }));
    tx.push(3).unwrap();
    assert!(tx.push(4).is_err());
    assert_eq!(rx.pop(), Some(Delivery::Event(3)));
    assert_eq!(rx.pop(), Some(Delivery::Lost { first: 4, count: 1 }));
    assert_eq!(rx.pop(), None);
}

/// Single-thread model check: random pushes, pops, and drains (with pushes
/// while a drain is alive, which the borrow rules allow: a drain borrows the
/// consumer only) against a plain reference model. Every delivery must match
/// exactly, which covers S3, S5, S6 and S7 together.
#[test]
fn s03_s05_s06_s07_random_operations_match_a_reference_model() {
    struct Model {
        cap: usize,
        /// Sequence numbers stored in the ring, oldest first.
        stored: VecDeque<u64>,
        /// Slots a live drain has read but not yet freed for the producer.
        unpublished: usize,
        attempts: u64,
        dropped: u64,
        /// Next attempt number not yet delivered or reported lost.
        expected: u64,
        /// While a drain is alive: (stored events left in its snapshot,
        /// attempt count of its snapshot).
        snap: Option<(usize, u64)>,
    }

    impl Model {
        fn push(&mut self) -> (u64, bool) {
            let seq = self.attempts;
            self.attempts += 1;
            if self.stored.len() + self.unpublished == self.cap {
                self.dropped += 1;
                (seq, false)
            } else {
                self.stored.push_back(seq);
                (seq, true)
            }
        }

        fn next(&mut self, in_drain: bool) -> Option<Delivery<u64>> {
            let (stored_left, attempts) = match self.snap {
                Some(s) if in_drain => s,
                _ => (self.stored.len(), self.attempts),
            };
            if stored_left == 0 {
                if attempts > self.expected {
                    let first = self.expected;
                    self.expected = attempts;
                    Some(Delivery::Lost {
                        first,
                        count: attempts - first,
                    })
                } else {
                    None
                }
            } else {
                let front = self.stored[0];
                if front > self.expected {
                    let first = self.expected;
                    self.expected = front;
                    Some(Delivery::Lost {
                        first,
                        count: front - first,
                    })
                } else {
                    self.stored.pop_front();
                    self.expected = front + 1;
                    if in_drain {
                        self.unpublished += 1;
                        if let Some((left, _)) = self.snap.as_mut() {
                            *left -= 1;
                        }
                    }
                    Some(Delivery::Event(front))
                }
            }
        }
    }

    let rounds = scaled(3_000, 60);
    for (seed, cap) in CAPACITIES.iter().copied().enumerate() {
        let mut rng = XorShift::new(0xC0FFEE + seed as u64);
        let (mut tx, mut rx) = ring::<u64>(cap).unwrap();
        let mut m = Model {
            cap,
            stored: VecDeque::new(),
            unpublished: 0,
            attempts: 0,
            dropped: 0,
            expected: 0,
            snap: None,
        };
        let (mut events, mut lost) = (0u64, 0u64);
        let mut tally = |d: &Delivery<u64>| match *d {
            Delivery::Event(_) => events += 1,
            Delivery::Lost { count, .. } => lost += count,
        };
        for round in 0..rounds {
            match rng.below(4) {
                0 => {
                    for _ in 0..rng.below(2 * cap as u64 + 2) {
                        let (seq, ok) = m.push();
                        assert_eq!(tx.push(seq).is_ok(), ok, "cap {cap} round {round}");
                    }
                }
                1 => {
                    for _ in 0..rng.below(cap as u64 + 2) {
                        let want = m.next(false);
                        let got = rx.pop();
                        assert_eq!(got, want, "cap {cap} round {round}: pop");
                        if let Some(d) = &got {
                            tally(d);
                        }
                    }
                }
                _ => {
                    m.snap = Some((m.stored.len(), m.attempts));
                    let mut d = rx.drain();
                    let steps = rng.below(2 * cap as u64 + 4);
                    for _ in 0..steps {
                        if rng.below(3) == 0 {
                            let (seq, ok) = m.push();
                            assert_eq!(
                                tx.push(seq).is_ok(),
                                ok,
                                "cap {cap} round {round}: push during a drain"
                            );
                        } else {
                            let want = m.next(true);
                            let got = d.next();
                            assert_eq!(got, want, "cap {cap} round {round}: drain");
                            if let Some(d) = &got {
                                tally(d);
                            }
                        }
                    }
                    drop(d);
                    m.snap = None;
                    m.unpublished = 0;
                }
            }
            assert_eq!(
                tx.free_slots(),
                cap - m.stored.len(),
                "cap {cap} round {round}"
            );
            assert_eq!(tx.attempts(), m.attempts);
            assert_eq!(tx.dropped(), m.dropped);
            assert_eq!(rx.attempts(), m.attempts);
            assert_eq!(rx.dropped(), m.dropped);
            assert_eq!(
                rx.has_pending(),
                !m.stored.is_empty() || m.attempts > m.expected,
                "cap {cap} round {round}: has_pending"
            );
        }
        for d in rx.drain() {
            assert_eq!(Some(&d), m.next(false).as_ref());
            tally(&d);
        }
        assert_eq!(m.next(false), None);
        // S6: nothing vanished.
        assert_eq!(events + lost, m.attempts, "cap {cap}: conservation");
        assert_eq!(lost, tx.dropped(), "cap {cap}: every drop reported once");
    }
}

// ---------------------------------------------------------------------------
// Drain: ends at its snapshot; frees slots when dropped.
// ---------------------------------------------------------------------------

enum Cmd {
    Push(std::ops::Range<u64>),
    Stop,
}

/// A producer on its own thread that pushes on command and reports which of
/// the pushes were accepted; joins when dropped.
struct RemoteProducer {
    cmds: mpsc::Sender<Cmd>,
    acks: mpsc::Receiver<Vec<bool>>,
    handle: Option<thread::JoinHandle<Producer<u64>>>,
}

impl RemoteProducer {
    fn spawn(mut tx: Producer<u64>) -> RemoteProducer {
        let (cmds, cmd_rx) = mpsc::channel();
        let (ack_tx, acks) = mpsc::channel();
        let handle = thread::spawn(move || {
            while let Ok(Cmd::Push(range)) = cmd_rx.recv() {
                let accepted = range.map(|v| tx.push(v).is_ok()).collect();
                if ack_tx.send(accepted).is_err() {
                    break;
                }
            }
            tx
        });
        RemoteProducer {
            cmds,
            acks,
            handle: Some(handle),
        }
    }

    /// Pushes `range` on the producer thread; returns once it has done so.
    fn push(&self, range: std::ops::Range<u64>) -> Vec<bool> {
        self.cmds.send(Cmd::Push(range)).unwrap();
        self.acks
            .recv_timeout(Duration::from_secs(10))
            .expect("the producer thread did not answer in 10 s")
    }

    fn stop(mut self) -> Producer<u64> {
        self.cmds.send(Cmd::Stop).unwrap();
        self.handle.take().unwrap().join().unwrap()
    }
}

#[test]
fn drain_ends_at_its_snapshot_while_another_thread_pushes() {
    let (tx, mut rx) = ring::<u64>(64).unwrap();
    let remote = RemoteProducer::spawn(tx);
    assert!(remote.push(0..10).iter().all(|&ok| ok));

    let mut d = rx.drain();
    let head: Vec<_> = d.by_ref().take(3).filter_map(Delivery::event).collect();
    assert_eq!(head, [0, 1, 2]);
    // The producer pushes 10 more while the drain is alive; it has finished
    // when `push` returns.
    assert!(remote.push(10..20).iter().all(|&ok| ok));
    let rest: Vec<_> = d.map(|d| d.event().unwrap()).collect();
    assert_eq!(
        rest,
        (3..10).collect::<Vec<_>>(),
        "the drain ends at its snapshot"
    );

    let next: Vec<_> = rx.drain().map(|d| d.event().unwrap()).collect();
    assert_eq!(
        next,
        (10..20).collect::<Vec<_>>(),
        "the next drain sees the rest"
    );
    assert_eq!(rx.pop(), None);
    let tx = remote.stop();
    assert_eq!(tx.attempts(), 20);
}

#[test]
fn drain_snapshot_excludes_drops_made_during_it() {
    // Drops during a drain are reported by the next drain, in their place.
    let (tx, mut rx) = ring::<u64>(4).unwrap();
    let remote = RemoteProducer::spawn(tx);
    assert_eq!(remote.push(0..6), [true, true, true, true, false, false]);

    let mut d = rx.drain();
    assert_eq!(d.next(), Some(Delivery::Event(0)));
    assert_eq!(d.next(), Some(Delivery::Event(1)));
    // Slots read by the live drain are not yet freed: the ring is still full
    // for the producer (the drain publishes once, when dropped).
    assert_eq!(remote.push(6..9), [false, false, false]);
    assert_eq!(d.next(), Some(Delivery::Event(2)));
    assert_eq!(d.next(), Some(Delivery::Event(3)));
    assert_eq!(d.next(), Some(Delivery::Lost { first: 4, count: 2 }));
    assert_eq!(
        d.next(),
        None,
        "drops after the snapshot wait for the next drain"
    );
    drop(d);

    assert_eq!(
        remote.push(9..10),
        [true],
        "the dropped drain freed its slots"
    );
    let got: Vec<_> = rx.drain().collect();
    assert_eq!(
        got,
        [Delivery::Lost { first: 6, count: 3 }, Delivery::Event(9)]
    );
    let mut tx = remote.stop();
    assert_eq!(tx.free_slots(), 4);
    assert_eq!(tx.dropped(), 5);
}

// ---------------------------------------------------------------------------
// Every value pushed is dropped exactly once.
// ---------------------------------------------------------------------------

/// Counts its drops into a per-test `'static` counter (which stays valid even
/// if a buggy ring drops a value twice).
struct Tracked {
    drops: &'static AtomicUsize,
    seq: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// A fresh `'static` counter from a fixed pool (not leaked from the heap, so
/// Miri's leak check stays meaningful).
fn drop_counter() -> &'static AtomicUsize {
    const POOL: usize = 64;
    static COUNTERS: [AtomicUsize; POOL] = [const { AtomicUsize::new(0) }; POOL];
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    assert!(i < POOL, "drop counter pool exhausted");
    &COUNTERS[i]
}

fn push_tracked(tx: &mut Producer<Tracked>, drops: &'static AtomicUsize, seq: u64) -> bool {
    // A refused value comes back and is dropped here.
    tx.push(Tracked { drops, seq }).is_ok()
}

#[test]
fn every_value_is_dropped_exactly_once_consumed_refused_or_left() {
    for cap in CAPACITIES {
        for consumer_first in [true, false] {
            let drops = drop_counter();
            let (mut tx, mut rx) = ring::<Tracked>(cap).unwrap();
            let mut pushed = 0u64;
            // Wrap the positions around several times, then leave the ring
            // holding values across the wrap point, with some refused.
            for _ in 0..3 * cap + 1 {
                assert!(push_tracked(&mut tx, drops, pushed));
                pushed += 1;
                let d = rx.pop().and_then(Delivery::event).unwrap();
                assert_eq!(d.seq, pushed - 1);
            }
            assert_eq!(drops.load(Ordering::Relaxed), pushed as usize, "consumed");
            for _ in 0..cap + 3 {
                let _ = push_tracked(&mut tx, drops, pushed);
                pushed += 1;
            }
            assert_eq!(
                drops.load(Ordering::Relaxed),
                pushed as usize - cap,
                "cap {cap}: refused values are dropped at once, stored ones are not"
            );
            if cap > 1 {
                // Take one more so that the stored window is not aligned.
                drop(rx.pop());
                assert!(push_tracked(&mut tx, drops, pushed));
                pushed += 1;
            }
            if consumer_first {
                drop(rx);
                assert_eq!(drops.load(Ordering::Relaxed), pushed as usize - cap);
                drop(tx);
            } else {
                drop(tx);
                assert_eq!(drops.load(Ordering::Relaxed), pushed as usize - cap);
                drop(rx);
            }
            assert_eq!(
                drops.load(Ordering::Relaxed),
                pushed as usize,
                "cap {cap}: values left in the ring are dropped once with it"
            );
        }
    }
}

#[test]
fn partially_consumed_drain_drops_each_value_once() {
    let drops = drop_counter();
    let (mut tx, mut rx) = ring::<Tracked>(8).unwrap();
    for i in 0..8 {
        assert!(push_tracked(&mut tx, drops, i));
    }
    {
        let mut d = rx.drain();
        for i in 0..3 {
            assert_eq!(d.next().and_then(Delivery::event).map(|t| t.seq), Some(i));
        }
    }
    assert_eq!(drops.load(Ordering::Relaxed), 3);
    assert_eq!(rx.pop().and_then(Delivery::event).map(|t| t.seq), Some(3));
    drop((tx, rx));
    assert_eq!(drops.load(Ordering::Relaxed), 8);
}

/// `mem::forget` is safe, so a forgotten drain must not make the ring drop
/// the values the drain already handed out a second time. (A double drop of
/// a `String` or `Box` payload would be a double free.)
#[test]
fn forgotten_drain_does_not_drop_handed_out_values_twice() {
    let drops = drop_counter();
    let (mut tx, mut rx) = ring::<Tracked>(4).unwrap();
    for i in 0..4 {
        assert!(push_tracked(&mut tx, drops, i));
    }
    let mut d = rx.drain();
    let a = d.next().and_then(Delivery::event).unwrap();
    let b = d.next().and_then(Delivery::event).unwrap();
    std::mem::forget(d);
    assert_eq!((a.seq, b.seq), (0, 1));
    drop((a, b));
    assert_eq!(drops.load(Ordering::Relaxed), 2);
    drop((tx, rx));
    assert_eq!(
        drops.load(Ordering::Relaxed),
        4,
        "4 values pushed must be dropped 4 times, not more"
    );
}

/// The same through the channel API, whose drain sits on the ring's.
#[test]
fn forgotten_channel_drain_does_not_drop_handed_out_values_twice() {
    let drops = drop_counter();
    let (mut tx, mut rx) = eventsig::channel::<Tracked>(4).unwrap();
    for seq in 0..4 {
        assert!(tx.send(Tracked { drops, seq }).is_ok());
    }
    let mut d = rx.drain();
    let a = d.next().and_then(Delivery::event).unwrap();
    std::mem::forget(d);
    assert_eq!(a.seq, 0);
    drop(a);
    drop((tx, rx));
    assert_eq!(
        drops.load(Ordering::Relaxed),
        4,
        "4 values sent must be dropped 4 times, not more"
    );
}

// ---------------------------------------------------------------------------
// Two threads: S3, S6, S7 under random stalls.
// ---------------------------------------------------------------------------

#[test]
fn s03_s06_s07_two_threads_with_random_stalls() {
    let n = if cfg!(miri) { 2_000u64 } else { 2_000_000 };
    two_threads_with_random_stalls(64, n, 1);
}

/// The same with tiny rings, where the producer laps the consumer all the
/// time, so a slot reused too early would show as a wrong payload.
#[test]
fn s03_s06_s07_two_threads_with_random_stalls_tiny_capacities() {
    let n = if cfg!(miri) { 500u64 } else { 50_000 };
    for (seed, cap) in [1, 2, 3].into_iter().enumerate() {
        two_threads_with_random_stalls(cap, n, 10 + seed as u64);
    }
}

/// Producer pushes `0..n` (payload = attempt number) into a ring of `cap`
/// while the consumer drains and pops; both stall at random (bounded spins).
/// Checks S3 (in order, each once), S6 (events + lost == n) and S7 (every
/// gap exactly between the events around it).
fn two_threads_with_random_stalls(cap: usize, n: u64, seed: u64) {
    let (mut tx, mut rx): (Producer<u64>, Consumer<u64>) = ring(cap).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);

    let producer = thread::spawn(move || {
        let mut rng = XorShift::new(0xFEED ^ seed);
        let mut refused = 0u64;
        // In blocks of 1024 attempts, either flood (push regardless, so the
        // ring overflows) or be patient (wait, boundedly, for a free slot,
        // so the consumer catches up and finds the ring empty at times).
        let mut patient = false;
        for i in 0..n {
            if i % 1024 == 0 {
                patient = rng.below(4) != 0;
            }
            if patient {
                spin_while(256, || tx.free_slots() == 0);
            }
            if let Err(v) = tx.push(i) {
                assert_eq!(v, i, "the refused value comes back");
                refused += 1;
            }
            if rng.below(256) == 0 {
                stall(&mut rng, 5_000);
            }
        }
        assert_eq!(tx.dropped(), refused);
        assert_eq!(tx.attempts(), n);
        tx
    });

    let mut rng = XorShift::new(0xBEEF ^ seed);
    let mut check = Tracker::default();
    let mut empty_polls = 0u64;
    let mut rounds = 0u64;
    while check.next < n {
        rounds += 1;
        check_progress(rounds, deadline, check.next, n);
        let mut empty = false;
        if rng.below(2) == 0 {
            let before = check.next;
            for d in rx.drain() {
                check.see(d);
            }
            empty = check.next == before;
        } else {
            for _ in 0..rng.below(100) {
                match rx.pop() {
                    Some(d) => check.see(d),
                    None => {
                        empty = true;
                        break;
                    }
                }
            }
        }
        empty_polls += u64::from(empty);
        if rng.below(64) == 0 {
            stall(&mut rng, 2_000);
        }
        if empty && empty_polls % 16 == 0 {
            // Let the producer run on an oversubscribed machine.
            thread::yield_now();
        }
    }
    let tx = producer.join().unwrap();
    // Nothing more once everything is accounted for.
    assert_eq!(rx.pop(), None);
    // S6: conservation.
    assert_eq!(check.next, n);
    assert_eq!(check.events + check.lost, n);
    assert_eq!(check.lost, tx.dropped());
    assert_eq!(rx.dropped(), tx.dropped());
    if !cfg!(miri) {
        // The stalls must have exercised both the full and the gap paths.
        assert!(
            check.lost > 0,
            "no drop happened: the test exercised nothing"
        );
        assert!(
            check.events > cap as u64,
            "the consumer took almost nothing"
        );
    }
    eprintln!(
        "cap {cap}, {n} attempts: {} events, {} lost in {} gaps, {empty_polls} empty polls",
        check.events, check.lost, check.gaps
    );
}

// ---------------------------------------------------------------------------
// Small API facts.
// ---------------------------------------------------------------------------

#[test]
fn delivery_event_helper_and_halves_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Producer<String>>();
    assert_send::<Consumer<String>>();
    assert_eq!(Delivery::Event(3u8).event(), Some(3));
    assert_eq!(Delivery::<u8>::Lost { first: 1, count: 2 }.event(), None);
    let (tx, rx) = ring::<u8>(5).unwrap();
    let dbg = format!("{tx:?} {rx:?}");
    assert!(dbg.contains("capacity: 5"), "{dbg}");
}

// ---------------------------------------------------------------------------
// Runs (`Drain::next_run`): the batch form of a drain.
// ---------------------------------------------------------------------------

/// Flattens a drain taken by runs into deliveries, checking each run's shape:
/// no empty run, and no two event runs back to back unless the first ended
/// at the end of the slot array (a run stops only at a gap or the array end).
fn drain_by_runs(rx: &mut Consumer<u64>) -> Vec<Delivery<u64>> {
    let mut out = Vec::new();
    let mut d = rx.drain();
    while let Some(run) = d.next_run() {
        match run {
            Run::Events(events) => {
                assert!(!events.is_empty(), "a run holds at least one event");
                out.extend(events.iter().map(|&v| Delivery::Event(v)));
            }
            Run::Lost { first, count } => out.push(Delivery::Lost { first, count }),
        }
    }
    out
}

#[test]
fn s03_s07_runs_yield_the_same_stream_as_items() {
    // The same pushes, drops and partial drains on two rings: one drained
    // item by item, one by runs. Every capacity, across wraps and gaps.
    for cap in CAPACITIES {
        let mut rng = XorShift::new(0x5eed_0000 + cap as u64);
        let (mut tx_a, mut rx_a) = ring::<u64>(cap).unwrap();
        let (mut tx_b, mut rx_b) = ring::<u64>(cap).unwrap();
        let mut seq = 0u64;
        let (mut events, mut lost) = (0u64, 0u64);
        for _ in 0..scaled(2_000, 200) {
            for _ in 0..rng.below(2 * cap as u64 + 2) {
                assert_eq!(tx_a.push(seq).is_ok(), tx_b.push(seq).is_ok());
                seq += 1;
            }
            let items: Vec<_> = rx_a.drain().collect();
            let runs = drain_by_runs(&mut rx_b);
            assert_eq!(items, runs, "cap {cap}");
            for d in items {
                match d {
                    Delivery::Event(v) => {
                        assert_eq!(v, events + lost, "payload == sequence number");
                        events += 1;
                    }
                    Delivery::Lost { first, count } => {
                        assert_eq!(first, events + lost, "gap in place");
                        lost += count;
                    }
                }
            }
        }
        assert_eq!(events + lost + rx_a.drain().count() as u64, seq);
    }
}

#[test]
fn runs_stop_at_a_gap_and_at_the_end_of_the_slots() {
    let (mut tx, mut rx) = ring::<u64>(4).unwrap();
    // Positions 0..3, a gap (4, 5), then, after two slots are freed, 6 and 7
    // stored at slots 0 and 1: the window wraps the slot array.
    for i in 0..6 {
        let _ = tx.push(i);
    }
    let mut d = rx.drain();
    assert_eq!(d.next(), Some(Delivery::Event(0)));
    assert_eq!(d.next(), Some(Delivery::Event(1)));
    drop(d);
    for i in 6..8 {
        tx.push(i).unwrap();
    }
    let mut d = rx.drain();
    let shape: Vec<String> = std::iter::from_fn(|| {
        d.next_run().map(|run| match run {
            Run::Events(e) => format!("{:?}", &*e),
            Run::Lost { first, count } => format!("lost {first}+{count}"),
        })
    })
    .collect();
    assert_eq!(shape, ["[2, 3]", "lost 4+2", "[6, 7]"]);
}

#[test]
fn runs_drop_each_value_once_even_when_left_half_read() {
    let drops = drop_counter();
    let (mut tx, mut rx) = ring::<Tracked>(8).unwrap();
    for i in 0..8 {
        assert!(push_tracked(&mut tx, drops, i));
    }
    {
        let mut d = rx.drain();
        let Some(Run::Events(mut events)) = d.next_run() else {
            panic!("a run of 8 events");
        };
        assert_eq!(events.len(), 8);
        // A value moved out of the run is the caller's; the rest drop with it.
        let first = std::mem::replace(&mut events[0], Tracked { drops, seq: 99 });
        assert_eq!(first.seq, 0);
        assert_eq!(events[7].seq, 7);
        drop(events);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            8,
            "7 left in the run + the replacement"
        );
        drop(first);
    }
    for i in 8..12 {
        assert!(push_tracked(&mut tx, drops, i));
    }
    // A run that is leaked leaks its values (safe), never drops them twice.
    let mut d = rx.drain();
    let run = d.next_run();
    std::mem::forget(run);
    drop(d);
    drop((tx, rx));
    assert_eq!(
        drops.load(Ordering::Relaxed),
        9,
        "the leaked run's 4 values are not dropped"
    );
}
