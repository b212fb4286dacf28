//! The channel rules, with real threads and the real eventfd: S3 (FIFO,
//! payload intact), S5 (full), S6 (conservation), S7 (gap position), S8
//! (sticky overflow), S9 (no lost wake-up in `wait`), S10 (wake suppression),
//! S11 (close), S13 (cross-class order), and the `Send`/`Sync` shape of the
//! handles. The epoll path is in `tests/mio.rs`.
//!
//! No sleep synchronises anything here: threads meet on barriers and
//! channels, every wait has a timeout (a timeout is a failure), every loop is
//! bounded by a deadline, and random stalls are bounded spin loops.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver as CbReceiver, Sender as CbSender};
use eventsig::{
    Delivery, Overflow, RaiseError, Raiser, Receiver, SendError, Sender, SignalSet, TryRecvError,
};

mod common;
use common::{
    assert_at_most_one_write_per_park, await_blocked_in, await_room, gettid, scaled, sig, spawn,
    Deadline, Rng, Tracker,
};

/// Timeout of every blocking call: far above any wake-up latency, so reaching
/// it means a wake-up was lost.
const LONG: Duration = Duration::from_secs(10);

/// Bound of every polling loop of one test.
const TEST_BUDGET: Duration = Duration::from_secs(60);

/// Blocks in `wait`; reaching the timeout is a lost wake-up. That includes a
/// `true` returned only at the deadline: `wait` looks once more when its
/// sleep times out, so a publication whose wake-up was lost still shows
/// then, `LONG` late.
#[track_caller]
fn wait_ready<T>(rx: &mut Receiver<T>, what: &str) {
    let start = Instant::now();
    let ready = rx.wait(Some(LONG)).expect("poll(2) on an eventfd");
    let slept = start.elapsed();
    assert!(
        ready && slept < LONG,
        "lost wake-up: {what}: wait returned {ready} after {slept:?} (timeout {LONG:?})"
    );
}

/// Whether the receiver's fd is readable now (`poll(2)`, no wait). Miri has
/// no `poll`: there it answers the expected value.
#[cfg(not(miri))]
fn fd_readable<T>(rx: &Receiver<T>) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: rx.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    n == 1
}

// ---------------------------------------------------------------------------
// Send / Sync: who may do what is in the types.
// ---------------------------------------------------------------------------

const fn assert_send<T: Send>() {}
const fn assert_sync<T: Sync>() {}
const fn assert_clone<T: Clone>() {}

// Compile-time: this crate does not build if a bound is lost.
const _: () = {
    assert_send::<Sender<String>>();
    assert_send::<Receiver<String>>();
    assert_send::<Raiser>();
    assert_sync::<Raiser>();
    assert_clone::<Raiser>();
};

#[test]
fn handles_are_send_and_raiser_is_clone_send_sync() {
    // The bounds above are checked at compile time; this also uses them the
    // way a program does: each handle moves to another thread.
    let (mut tx, mut rx) = eventsig::channel::<String>(2).unwrap();
    let raiser = tx.raiser();
    let shared = Arc::new(raiser.clone());
    let by_ref = spawn("raise-by-ref", move || shared.raise(sig(1)));
    let by_val = spawn("raise-by-val", move || raiser.raise(sig(2)));
    let sender = spawn("send", move || {
        tx.send("moved".to_string()).unwrap();
        tx
    });
    by_ref.join().unwrap();
    by_val.join().unwrap();
    let tx = sender.join();
    let receiver = spawn("recv", move || {
        let got = rx.try_recv();
        (rx.take_signals(), got)
    });
    let (signals, got) = receiver.join();
    assert_eq!(signals, SignalSet::from(sig(1)) | sig(2));
    assert_eq!(got, Ok(Delivery::Event("moved".to_string())));
    drop(tx);
}

// ---------------------------------------------------------------------------
// S3: FIFO, each event at most once, payload intact.
// ---------------------------------------------------------------------------

/// A payload with heap and inline parts derived from its number, so a torn,
/// duplicated or misplaced slot shows.
#[derive(Debug, PartialEq)]
struct Payload {
    seq: u64,
    text: String,
    words: [u64; 4],
}

fn payload(seq: u64) -> Payload {
    Payload {
        seq,
        text: format!("vnc client {seq} connected"),
        words: [
            seq,
            !seq,
            seq.rotate_left(17),
            seq.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ],
    }
}

#[test]
fn s03_fifo_payload_intact_single_thread() {
    let cap = 5;
    let (mut tx, mut rx) = eventsig::channel::<Payload>(cap).unwrap();
    let mut rng = Rng::new(3);
    let mut sent = 0u64;
    let mut expected = VecDeque::new();
    let rounds = scaled(2_000, 50);
    for _ in 0..rounds {
        // Fill up to the free room only, so nothing is dropped.
        for _ in 0..rng.below(tx.free_slots() as u64 + 1) {
            tx.send(payload(sent)).unwrap();
            expected.push_back(sent);
            sent += 1;
        }
        // Take some, alternating try_recv and (possibly partial) drains.
        if rng.below(2) == 0 {
            for _ in 0..rng.below(cap as u64 + 2) {
                match rx.try_recv() {
                    Ok(d) => {
                        let seq = expected.pop_front().expect("nothing was sent");
                        assert_eq!(d, Delivery::Event(payload(seq)));
                    }
                    Err(TryRecvError::Empty) => assert!(expected.is_empty()),
                    Err(TryRecvError::Closed) => panic!("the sender is alive"),
                }
            }
        } else {
            let take = rng.below(cap as u64 + 2) as usize;
            for d in rx.drain().take(take) {
                let seq = expected.pop_front().expect("nothing was sent");
                assert_eq!(d, Delivery::Event(payload(seq)));
            }
        }
    }
    let rest: Vec<_> = rx.drain().collect();
    let want: Vec<_> = expected
        .drain(..)
        .map(|s| Delivery::Event(payload(s)))
        .collect();
    assert_eq!(rest, want);
    // Each at most once: nothing comes out twice.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let stats = rx.stats();
    assert_eq!(
        (stats.sent, stats.delivered, stats.dropped),
        (sent, sent, 0)
    );
}

#[test]
fn s03_fifo_payload_intact_across_threads() {
    let n = scaled(100_000, 500);
    let (mut tx, mut rx) = eventsig::channel::<Payload>(16).unwrap();
    let producer = spawn("producer", move || {
        let deadline = Deadline::new(TEST_BUDGET);
        let mut rng = Rng::new(31);
        for seq in 0..n {
            // Backpressure: `free_slots() > 0` means the send is accepted.
            await_room(&mut tx, &deadline);
            if let Err(e) = tx.send(payload(seq)) {
                panic!("send {seq} refused with room: {e:?}");
            }
            if rng.below(64) == 0 {
                rng.spin(2_000);
            }
        }
    });
    let deadline = Deadline::new(TEST_BUDGET);
    let mut rng = Rng::new(37);
    let mut next = 0u64;
    let mut check = |d: Delivery<Payload>| {
        assert_eq!(
            d,
            Delivery::Event(payload(next)),
            "S3: out of order or torn"
        );
        next += 1;
    };
    loop {
        deadline.check("the producer's close");
        match rng.below(3) {
            0 => rx.drain().for_each(&mut check),
            1 => match rx.try_recv() {
                Ok(d) => check(d),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Closed) => break,
            },
            _ => wait_ready(&mut rx, "S3 consumer"),
        }
        if rng.below(64) == 0 {
            rng.spin(2_000);
        }
    }
    producer.join();
    assert_eq!(next, n, "every event arrives once");
    let stats = rx.stats();
    assert_eq!((stats.sent, stats.delivered, stats.dropped), (n, n, 0));
    assert_at_most_one_write_per_park(stats);
}

// ---------------------------------------------------------------------------
// S5: a full ring never blocks; the value comes back and the drop is counted.
// ---------------------------------------------------------------------------

#[test]
fn s05_send_on_full_returns_the_same_value_and_counts_the_drop() {
    let (mut tx, mut rx) = eventsig::channel::<String>(3).unwrap();
    for i in 0..3 {
        tx.send(format!("accepted {i}")).unwrap();
    }
    assert_eq!(tx.free_slots(), 0);
    for i in 0..5u64 {
        let value = format!("refused {i}");
        let heap = value.as_ptr();
        match tx.send(value) {
            Err(SendError::Full(back)) => {
                assert_eq!(back, format!("refused {i}"));
                assert_eq!(back.as_ptr(), heap, "the very value comes back, not a copy");
            }
            other => panic!("expected Full, got {other:?}"),
        }
        let stats = rx.stats();
        assert_eq!((stats.sent, stats.dropped), (4 + i, 1 + i));
    }
    assert_eq!(
        tx.send("last".to_string()).unwrap_err().into_inner(),
        "last"
    );
    assert_eq!(rx.stats().dropped, 6);
    assert_eq!(rx.overflow().map(|o| o.lost()), Some(6));
    // Room again after the consumer takes one.
    assert_eq!(rx.try_recv(), Ok(Delivery::Event("accepted 0".to_string())));
    assert_eq!(tx.free_slots(), 1);
    tx.send("after".to_string()).unwrap();
    assert_eq!(rx.stats().dropped, 6, "an accepted send is no drop");
}

// ---------------------------------------------------------------------------
// S6: conservation under real concurrency.
// ---------------------------------------------------------------------------

/// The producer sends 0..n into `capacity` (payload == sequence number) while
/// the consumer alternates drain, try_recv and wait with random stalls; at
/// the close, events + lost == n and every gap is exactly placed.
fn conservation(capacity: usize, seed: u64) {
    let n = scaled(1_000_000, 1_000);
    // More than a ringful before the consumer starts: some drops are certain.
    let head_start = capacity as u64 + 10;
    let (mut tx, mut rx) = eventsig::channel::<u64>(capacity).unwrap();
    let start = Arc::new(Barrier::new(2));
    let producer = {
        let start = Arc::clone(&start);
        spawn("producer", move || {
            let mut rng = Rng::new(seed);
            let mut refused = 0u64;
            for i in 0..n {
                if i == head_start {
                    start.wait();
                }
                match tx.send(i) {
                    Ok(()) => {}
                    Err(SendError::Full(v)) => {
                        assert_eq!(v, i);
                        refused += 1;
                    }
                    Err(SendError::Closed(_)) => panic!("the receiver is alive"),
                }
                if rng.below(256) == 0 {
                    rng.spin(3_000);
                }
            }
            refused
        })
    };
    start.wait();
    let deadline = Deadline::new(TEST_BUDGET);
    let mut rng = Rng::new(seed ^ 0xC0FFEE);
    let mut seen = Tracker::default();
    loop {
        deadline.check("the producer's close");
        match rng.below(3) {
            0 => rx.drain().for_each(|d| seen.see(d)),
            1 => match rx.try_recv() {
                Ok(d) => seen.see(d),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Closed) => break,
            },
            _ => wait_ready(&mut rx, "S6 consumer"),
        }
        // Random stalls, some long enough to overflow the ring.
        match rng.below(32) {
            0 => rng.spin(20_000),
            1..=4 => rng.spin(500),
            _ => {}
        }
    }
    let refused = producer.join();
    assert_eq!(seen.next, n, "the stream accounts for every attempt");
    assert_eq!(seen.events + seen.lost, n, "S6: delivered + lost == sent");
    assert_eq!(seen.lost, refused, "Lost counts exactly the Full sends");
    assert!(seen.lost >= 10, "the head start overflowed the ring");
    let stats = rx.stats();
    assert_eq!(stats.sent, n);
    assert_eq!(stats.dropped, refused);
    assert_eq!(stats.delivered, seen.events);
    assert_eq!(rx.overflow().map(|o| o.lost()), Some(refused));
    assert_at_most_one_write_per_park(stats);
}

#[test]
fn s06_conservation_under_concurrency_capacity_32() {
    conservation(32, 0x5EED_0032);
}

#[test]
fn s06_conservation_under_concurrency_capacity_100() {
    conservation(100, 0x5EED_0100);
}

// ---------------------------------------------------------------------------
// The story of the design: a flood while the monitor is away, then "VM stopped".
// ---------------------------------------------------------------------------

#[test]
fn s01_s06_s07_s08_seed_flood_then_vm_stopped() {
    #[derive(Debug, PartialEq)]
    enum Vnc {
        Connected(u32),
        Disconnected(u32),
    }
    let vm_stopped = sig(3);
    let (mut tx, mut rx) = eventsig::channel::<Vnc>(100).unwrap();
    let mut refused = 0;
    for client in 0..1000 {
        refused += u32::from(tx.send(Vnc::Connected(client)).is_err());
        refused += u32::from(tx.send(Vnc::Disconnected(client)).is_err());
    }
    assert_eq!(refused, 1900);
    tx.raise(vm_stopped).unwrap();

    let signals = rx.take_signals();
    assert!(signals.contains(vm_stopped), "S1: VM stopped is never lost");
    assert_eq!(signals.len(), 1);
    let got: Vec<_> = rx.drain().collect();
    assert_eq!(got.len(), 101);
    for (i, d) in got[..100].iter().enumerate() {
        let client = (i / 2) as u32;
        let want = if i % 2 == 0 {
            Vnc::Connected(client)
        } else {
            Vnc::Disconnected(client)
        };
        assert_eq!(d, &Delivery::Event(want));
    }
    assert_eq!(
        got[100],
        Delivery::Lost {
            first: 100,
            count: 1900
        }
    );
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let ov = rx.overflow().expect("S8: the flood overflowed");
    assert_eq!(ov.lost(), 1900);
    let stats = rx.stats();
    assert_eq!(
        (stats.raised, stats.sent, stats.dropped, stats.delivered),
        (1, 2000, 1900, 100)
    );
    assert_eq!(stats.delivered + ov.lost(), stats.sent);
    // The monitor never slept: nobody rang.
    assert_eq!((stats.doorbell_writes, stats.parks), (0, 0));
    rx.acknowledge(ov);
    assert!(rx.overflow().is_none());
}

// ---------------------------------------------------------------------------
// S7: the gap stands exactly where it is.
// ---------------------------------------------------------------------------

#[test]
fn s07_gap_reported_while_the_ring_stays_full_and_nothing_else_is_sent() {
    // Through drain.
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    for i in 0..10 {
        let _ = tx.send(i);
    }
    let got: Vec<_> = rx.drain().collect();
    let mut want: Vec<_> = (0..4).map(Delivery::Event).collect();
    want.push(Delivery::Lost { first: 4, count: 6 });
    assert_eq!(got, want);
    assert_eq!(rx.drain().count(), 0, "reported once");

    // Through try_recv, the ring still full when the gap is due: the last
    // event is taken and the gap follows without any later send.
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    for i in 0..10 {
        let _ = tx.send(i);
    }
    for i in 0..4 {
        assert_eq!(rx.try_recv(), Ok(Delivery::Event(i)));
    }
    assert_eq!(rx.try_recv(), Ok(Delivery::Lost { first: 4, count: 6 }));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

    // A partial drain leaves the gap where it is.
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    for i in 0..7 {
        let _ = tx.send(i);
    }
    let first: Vec<_> = rx.drain().take(2).collect();
    assert_eq!(first, [Delivery::Event(0), Delivery::Event(1)]);
    let rest: Vec<_> = rx.drain().collect();
    assert_eq!(
        rest,
        [
            Delivery::Event(2),
            Delivery::Event(3),
            Delivery::Lost { first: 4, count: 3 }
        ]
    );
}

#[test]
fn s07_gap_between_accepted_events_after_the_consumer_frees_room() {
    let (mut tx, mut rx) = eventsig::channel::<u64>(2).unwrap();
    tx.send(0).unwrap();
    tx.send(1).unwrap();
    for i in 2..5 {
        assert_eq!(tx.send(i), Err(SendError::Full(i)));
    }
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(0))); // frees one slot
    tx.send(5).unwrap();
    assert_eq!(tx.send(6), Err(SendError::Full(6)));
    let got: Vec<_> = rx.drain().collect();
    assert_eq!(
        got,
        [
            Delivery::Event(1),
            Delivery::Lost { first: 2, count: 3 },
            Delivery::Event(5),
            Delivery::Lost { first: 6, count: 1 },
        ]
    );

    // A gap reported at the end of a drain is not reported again before the
    // next accepted event.
    tx.send(7).unwrap();
    tx.send(8).unwrap();
    assert_eq!(tx.send(9), Err(SendError::Full(9)));
    let got: Vec<_> = rx.drain().collect();
    assert_eq!(
        got,
        [
            Delivery::Event(7),
            Delivery::Event(8),
            Delivery::Lost { first: 9, count: 1 }
        ]
    );
    tx.send(10).unwrap();
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(10)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let stats = rx.stats();
    assert_eq!((stats.sent, stats.dropped, stats.delivered), (11, 5, 6));
}

// ---------------------------------------------------------------------------
// S8: the overflow condition is sticky until acknowledged.
// ---------------------------------------------------------------------------

#[test]
fn s08_overflow_survives_drain_until_acknowledged() {
    let (mut tx, mut rx) = eventsig::channel::<u64>(1).unwrap();
    assert!(rx.overflow().is_none());
    tx.send(0).unwrap();
    let _ = tx.send(1);
    let _ = tx.send(2);
    assert_eq!(rx.overflow().map(|o| o.lost()), Some(2));
    let got: Vec<_> = rx.drain().collect();
    assert_eq!(
        got,
        [Delivery::Event(0), Delivery::Lost { first: 1, count: 2 }]
    );
    assert_eq!(rx.overflow().map(|o| o.lost()), Some(2), "drain keeps it");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.overflow().map(|o| o.lost()),
        Some(2),
        "try_recv keeps it"
    );
    let ov = rx.overflow().unwrap();
    rx.acknowledge(ov);
    assert!(rx.overflow().is_none());
    // A later drop sets it again, counting only the new drop.
    tx.send(3).unwrap();
    let _ = tx.send(4);
    assert_eq!(rx.overflow().map(|o| o.lost()), Some(1));
}

#[test]
fn s08_acknowledging_an_old_overflow_keeps_newer_drops() {
    let (mut tx, mut rx) = eventsig::channel::<u64>(1).unwrap();
    tx.send(0).unwrap();
    let _ = tx.send(1);
    let _ = tx.send(2);
    let old = rx.overflow().unwrap();
    assert_eq!(old.lost(), 2);
    let _ = tx.send(3); // a drop after the overflow was read
    rx.acknowledge(old);
    assert_eq!(
        rx.overflow().map(|o| o.lost()),
        Some(1),
        "the unseen drop keeps the condition set"
    );
    // Acknowledging the newer one clears it; the stale one clears nothing more.
    let newer = rx.overflow().unwrap();
    rx.acknowledge(newer);
    assert!(rx.overflow().is_none());
    rx.acknowledge(old);
    assert!(rx.overflow().is_none());
    let _ = tx.send(4);
    rx.acknowledge(old);
    assert_eq!(
        rx.overflow().map(|o| o.lost()),
        Some(1),
        "a stale acknowledgement does not clear a later drop"
    );
}

/// The producer keeps sending into a small ring (most sends drop) while the
/// consumer reads the overflow, stalls, and acknowledges it. Drops that land
/// between the read and the acknowledgement must stay pending: at the end the
/// acknowledged counts plus the unacknowledged rest equal the drops (a wrong
/// acknowledgement that clears up to the current count loses exactly those).
///
/// Phase 1 makes that race happen for sure: lockstep rounds in which the
/// producer drops between the consumer's read and its acknowledgement. Phase
/// 2 runs both sides freely (the race then depends on the two threads really
/// running at once, which a loaded 2-core machine does not always grant).
#[test]
fn s08_concurrent_acknowledgements_never_clear_an_unseen_drop() {
    let lockstep = scaled(200, 5);
    let max_sends = scaled(5_000_000, 20_000);
    let wanted_free_races = scaled(2_000, 2);
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let (cmd_tx, cmd_rx) = bounded::<u64>(1);
    let (done_tx, done_rx) = bounded::<()>(1);
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let stop = Arc::clone(&stop);
        spawn("producer", move || {
            let mut rng = Rng::new(8);
            let mut refused = 0u64;
            let mut seq = 0u64;
            for round in 0..lockstep {
                assert_eq!(cmd_rx.recv_timeout(LONG).expect("a command"), round);
                for _ in 0..1 + round % 3 {
                    refused += u64::from(tx.send(seq).is_err());
                    seq += 1;
                }
                done_tx.send(()).expect("the consumer is alive");
            }
            while seq < max_sends {
                // Relaxed: a stop hint; the join orders the results.
                if seq % 64 == 0 && stop.load(Ordering::Relaxed) {
                    break;
                }
                refused += u64::from(tx.send(seq).is_err());
                seq += 1;
                if rng.below(128) == 0 {
                    rng.spin(1_000);
                }
            }
            // Keeps the channel open until the consumer is done.
            (refused, tx.raiser())
        })
    };
    let deadline = Deadline::new(TEST_BUDGET);
    let mut rng = Rng::new(88);
    let mut acks = Acks::default();
    // Phase 1: the producer drops between our read and our acknowledgement.
    for round in 0..lockstep {
        let ov = rx.overflow();
        cmd_tx.send(round).expect("the producer is alive");
        done_rx.recv_timeout(LONG).expect("the producer's drops");
        acks.acknowledge(&mut rx, ov);
    }
    let lockstep_races = acks.races;
    // The ring (4 slots) is full after the first rounds: the rest race.
    assert!(
        lockstep_races + 3 >= lockstep,
        "phase 1 raced {lockstep_races} times"
    );
    // Phase 2: free running.
    let mut seen = Tracker::default();
    while !producer.is_finished() {
        deadline.check("the producer's end");
        if let Some(ov) = rx.overflow() {
            // Widen the window between the read and the acknowledgement.
            rng.spin(300);
            acks.acknowledge(&mut rx, Some(ov));
            if acks.races >= lockstep_races + wanted_free_races {
                stop.store(true, Ordering::Relaxed);
            }
        }
        if rng.below(256) == 0 {
            thread::yield_now();
        }
        // Free room now and then, so drops come in separate gaps.
        if rng.below(8) == 0 {
            if let Ok(d) = rx.try_recv() {
                seen.see(d);
            }
        }
    }
    let (refused, raiser) = producer.join();
    drop(raiser);
    rx.drain().for_each(|d| seen.see(d));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    let unacked = rx.overflow().map_or(0, |o| o.lost());
    assert_eq!(
        acks.lost + unacked,
        refused,
        "S8: every drop is acknowledged once or still pending: {acks:?}"
    );
    assert_eq!(rx.stats().dropped, refused);
    assert_eq!(seen.lost, refused, "Lost markers count the same drops");
    assert_eq!(seen.events + seen.lost, rx.stats().sent);
}

/// The consumer's acknowledgements in the S8 race test.
#[derive(Debug, Default)]
struct Acks {
    /// Sum of the acknowledged `Overflow::lost()`.
    lost: u64,
    count: u64,
    /// Acknowledgements made after more drops than their overflow saw.
    races: u64,
}

impl Acks {
    /// Acknowledges `ov` (read from `rx` a while ago), noting whether drops
    /// landed since it was read.
    fn acknowledge(&mut self, rx: &mut Receiver<u64>, ov: Option<Overflow>) {
        // What the overflow stood for: everything acknowledged before it (as
        // summed here) plus its own count.
        let at_read = self.lost + ov.map_or(0, |o| o.lost());
        self.races += u64::from(rx.stats().dropped > at_read);
        if let Some(ov) = ov {
            rx.acknowledge(ov);
            self.lost += ov.lost();
            self.count += 1;
        }
    }
}

// ---------------------------------------------------------------------------
// S9: no lost wake-up in `wait`.
// ---------------------------------------------------------------------------

/// Lockstep rounds between a producer thread and the consumer (this thread).
/// Each round the consumer hands out a go and blocks in `wait(Some(LONG))`
/// (a timeout fails the test); the producer takes the go and `act`s. Both
/// sides first spin a random while, so the action lands before the consumer
/// parks, between its park and its sleep, or while it sleeps. After each
/// wake-up `collect` takes what is pending and says whether the round is
/// complete (else the consumer waits again).
fn ping_pong<P: Send + 'static>(
    rx: &mut Receiver<u64>,
    rounds: u64,
    seed: u64,
    mut state: P,
    mut act: impl FnMut(&mut P, u64, &mut Rng) + Send + 'static,
    mut collect: impl FnMut(&mut Receiver<u64>, u64) -> bool,
) -> P {
    let (go_tx, go_rx): (CbSender<u64>, CbReceiver<u64>) = bounded(1);
    let producer = spawn("producer", move || {
        let mut rng = Rng::new(seed);
        for round in 0..rounds {
            let got = go_rx.recv_timeout(LONG).expect("the consumer's go");
            assert_eq!(got, round);
            rng.spin(3_000);
            act(&mut state, round, &mut rng);
        }
        state
    });
    let mut rng = Rng::new(seed ^ 0xABCD);
    for round in 0..rounds {
        go_tx.send(round).expect("the producer is alive");
        rng.spin(3_000);
        let mut wakes = 0;
        loop {
            wait_ready(rx, &format!("round {round}"));
            if collect(rx, round) {
                break;
            }
            wakes += 1;
            assert!(wakes < 1_000_000, "round {round} never completes");
        }
    }
    producer.join()
}

#[test]
fn s09_wait_wakes_for_every_send() {
    let rounds = scaled(20_000, 30);
    let (tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let tx = ping_pong(
        &mut rx,
        rounds,
        91,
        tx,
        |tx, round, _| tx.send(round).unwrap(),
        |rx, round| {
            // `wait` returns true only when something is pending: the event.
            assert_eq!(rx.try_recv(), Ok(Delivery::Event(round)));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            true
        },
    );
    drop(tx);
    let stats = rx.stats();
    assert_eq!(stats.delivered, rounds);
    assert_at_most_one_write_per_park(stats);
}

#[test]
fn s09_wait_wakes_for_every_raise() {
    let rounds = scaled(20_000, 30);
    let (tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let raiser = tx.raiser();
    let raiser = ping_pong(
        &mut rx,
        rounds,
        92,
        raiser,
        |raiser, round, _| raiser.raise(sig(round)).unwrap(),
        |rx, round| {
            assert_eq!(rx.take_signals(), SignalSet::from(sig(round)));
            true
        },
    );
    drop((raiser, tx));
    let stats = rx.stats();
    assert_eq!(stats.raised, rounds);
    assert_at_most_one_write_per_park(stats);
}

/// A drop can only happen while the ring is full of events the consumer has
/// not freed, and `wait` sees those; the one moment a gap is the only thing
/// pending is right after a `drain` freed the ring: a producer that found the
/// ring full before the drain published its index stores the drop after it,
/// possibly while the consumer already sleeps. That window lies inside one
/// `push` and is narrow (the loom model explores it exhaustively; a mutant
/// that skips the wake-up on a drop survives this test). What this test does
/// pin down: bursts of `capacity + 3` attempts with random spins, met by
/// drains and waits, never leave a `wait` hanging, and each round accounts
/// for all its attempts (events + Lost), each gap in place.
#[test]
fn s09_wait_wakes_for_gaps() {
    let rounds = scaled(10_000, 20);
    let cap = 2;
    let burst = cap as u64 + 3;
    let (tx, mut rx) = eventsig::channel::<u64>(cap).unwrap();
    let mut seen = Tracker::default();
    let tx = ping_pong(
        &mut rx,
        rounds,
        93,
        tx,
        move |tx, round, rng| {
            for i in 0..burst {
                let _ = tx.send(round * burst + i);
                rng.spin(200);
            }
        },
        |rx, round| {
            rx.drain().for_each(|d| seen.see(d));
            seen.next == (round + 1) * burst
        },
    );
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    let stats = rx.stats();
    assert_eq!(stats.sent, rounds * burst);
    assert!(stats.dropped > 0, "bursts larger than the ring drop");
    assert_at_most_one_write_per_park(stats);
}

/// A producer handle (a `Sender` or a `Raiser`), held only to be dropped.
type Handle = Box<dyn Send>;

/// The race S9 is about, at the scale where it happens: the producer spins
/// on an atomic turn counter instead of blocking, so its send lands within
/// a few hundred nanoseconds of the consumer's park, before, inside or after
/// the window between the park flag's store and the re-check. (The other S9
/// tests hand over through a blocking channel, whose ~50 us wake-up puts
/// almost every send long after the consumer fell asleep.) Every round's
/// `wait` must return true; the event must be there.
#[test]
fn s09_wait_wakes_for_a_send_racing_with_the_park() {
    let rounds = scaled(20_000, 30);
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let turn = Arc::new(AtomicU64::new(0));
    let producer = {
        let turn = Arc::clone(&turn);
        spawn("producer", move || {
            let deadline = Deadline::new(TEST_BUDGET);
            let mut rng = Rng::new(96);
            for round in 0..rounds {
                let mut spins = 0u32;
                // Acquire: pairs with the consumer's Release store of the turn.
                while turn.load(Ordering::Acquire) <= round {
                    spins += 1;
                    if spins % 4096 == 0 {
                        deadline.check("the consumer's turn");
                        thread::yield_now();
                    }
                    std::hint::spin_loop();
                }
                rng.spin(256);
                tx.send(round).unwrap();
            }
        })
    };
    let mut rng = Rng::new(97);
    for round in 0..rounds {
        // Release: the previous round's receive happens before the next send.
        turn.store(round + 1, Ordering::Release);
        rng.spin(256);
        wait_ready(&mut rx, &format!("racing round {round}"));
        assert_eq!(rx.try_recv(), Ok(Delivery::Event(round)));
    }
    producer.join();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_at_most_one_write_per_park(rx.stats());
}

/// Each round a new channel; the consumer hands the last producer handle to
/// the producer thread, which drops it at a random moment while the consumer
/// spins or waits.
fn close_rounds(last_is_raiser: bool, seed: u64) {
    let rounds = scaled(2_000, 10);
    let (handles_tx, handles_rx) = bounded::<Handle>(1);
    let producer = spawn("closer", move || {
        let mut rng = Rng::new(seed);
        for _ in 0..rounds {
            let handle = handles_rx.recv_timeout(LONG).expect("a handle to drop");
            rng.spin(3_000);
            drop(handle);
        }
    });
    let mut rng = Rng::new(seed ^ 0x55);
    for round in 0..rounds {
        let (tx, mut rx) = eventsig::channel::<u64>(1).unwrap();
        // Every other round without the spin phase of `wait`, so that the
        // close must come through the doorbell (a spin may see it first).
        rx.set_wait_spin(round % 2 == 0);
        let handle: Handle = if last_is_raiser {
            let raiser = tx.raiser();
            drop(tx);
            // S11: a raiser alone keeps the channel open.
            assert!(!rx.is_closed());
            assert!(!rx.wait(Some(Duration::ZERO)).unwrap());
            Box::new(raiser)
        } else {
            Box::new(tx)
        };
        handles_tx.send(handle).expect("the closer is alive");
        rng.spin(3_000);
        wait_ready(&mut rx, &format!("close, round {round}"));
        assert!(rx.is_closed(), "round {round}: woke with nothing pending");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert_at_most_one_write_per_park(rx.stats());
    }
    producer.join();
}

#[test]
fn s09_wait_wakes_when_the_sender_closes() {
    close_rounds(false, 94);
}

#[test]
fn s09_wait_wakes_when_the_last_raiser_closes() {
    close_rounds(true, 95);
}

// ---------------------------------------------------------------------------
// S10: wake suppression.
// ---------------------------------------------------------------------------

#[test]
fn s10_busy_polling_consumer_costs_producers_no_doorbell_write() {
    let n = scaled(100_000, 500);
    let (mut tx, mut rx) = eventsig::channel::<u64>(64).unwrap();
    let raiser = tx.raiser();
    let producer = spawn("producer", move || {
        for i in 0..n {
            let _ = tx.send(i);
            raiser.raise(sig(i)).unwrap();
        }
    });
    // Never `wait`, never hand out the fd: the receiver never parks.
    let deadline = Deadline::new(TEST_BUDGET);
    let mut seen = Tracker::default();
    let mut signals = SignalSet::EMPTY;
    let mut flip = false;
    loop {
        deadline.check("the producer's close");
        signals |= rx.take_signals();
        flip = !flip;
        if flip {
            rx.drain().for_each(|d| seen.see(d));
        } else {
            match rx.try_recv() {
                Ok(d) => seen.see(d),
                // Let the producer have the CPU, without parking.
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(TryRecvError::Closed) => break,
            }
        }
    }
    producer.join();
    signals |= rx.take_signals();
    assert_eq!(signals, SignalSet::ALL);
    assert_eq!(seen.events + seen.lost, n);
    let stats = rx.stats();
    assert_eq!(stats.sent, n);
    assert_eq!(
        (stats.doorbell_writes, stats.parks),
        (0, 0),
        "S10: no syscall for an awake consumer: {stats}"
    );
}

#[test]
fn s10_receiver_parks_only_where_it_may_sleep() {
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    // Busy-poll: no park.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.drain().count(), 0);
    let _ = rx.take_signals();
    assert_eq!(rx.stats().parks, 0);
    // `wait` with nothing pending parks (and times out: nobody rings).
    assert!(!rx.wait(Some(Duration::from_millis(5))).unwrap());
    let after_wait = rx.stats();
    assert!(after_wait.parks >= 1);
    assert_eq!(after_wait.doorbell_writes, 0);
    // `wait` with something pending returns at once, without parking.
    tx.send(0).unwrap();
    assert!(rx.wait(Some(Duration::ZERO)).unwrap());
    assert!(rx.wait(Some(LONG)).unwrap());
    assert_eq!(rx.stats().parks, after_wait.parks);
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(0)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.stats().parks, after_wait.parks, "not exposed: no park");

    // Once the fd is handed out: an empty drain and an empty try_recv park;
    // a try_recv that delivers and a take do not; a drain that delivers
    // writes the fd itself instead (checked below).
    let _fd = std::os::fd::AsFd::as_fd(&rx);
    let base = rx.stats().parks;
    assert_eq!(rx.drain().count(), 0);
    assert_eq!(rx.stats().parks, base + 1);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.stats().parks, base + 2);
    tx.send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(1)));
    tx.raise(sig(5)).unwrap();
    assert_eq!(rx.take_signals(), SignalSet::from(sig(5)));
    assert_eq!(rx.stats().parks, base + 2);
    tx.send(2).unwrap();
    let self_rings = rx.stats().self_rings;
    assert_eq!(rx.drain().count(), 1);
    assert_eq!(
        (rx.stats().parks, rx.stats().self_rings),
        (base + 2, self_rings + 1),
        "a drain that delivered does not park: it makes the fd readable"
    );
    #[cfg(not(miri))]
    assert!(
        fd_readable(&rx),
        "an epoll caller comes back after a non-empty drain"
    );
    assert_eq!(rx.drain().count(), 0);
    assert_eq!(rx.stats().parks, base + 3, "an empty drain parks");
    #[cfg(not(miri))]
    assert!(
        !fd_readable(&rx),
        "the park cleared the receiver's own write"
    );
    assert_at_most_one_write_per_park(rx.stats());
}

#[test]
fn s10_at_most_one_doorbell_write_per_park_over_a_ping_pong() {
    // Each round: a burst of sends and raises with random gaps, met by
    // waits and drains; the consumer may sleep several times per round.
    let rounds = scaled(3_000, 20);
    let burst = 8u64;
    let (tx, mut rx) = eventsig::channel::<u64>(16).unwrap();
    let raiser = tx.raiser();
    let mut seen = Tracker::default();
    let mut signals = SignalSet::EMPTY;
    let (tx, raiser) = ping_pong(
        &mut rx,
        rounds,
        101,
        (tx, raiser),
        move |(tx, raiser), round, rng| {
            for i in 0..burst {
                tx.send(round * burst + i).unwrap();
                rng.spin(300);
                raiser.raise(sig(round * burst + i)).unwrap();
                rng.spin(300);
            }
        },
        |rx, round| {
            signals |= rx.take_signals();
            rx.drain().for_each(|d| seen.see(d));
            let want: SignalSet = (0..burst).map(|i| sig(round * burst + i)).collect();
            if seen.next == (round + 1) * burst && signals == want {
                signals = SignalSet::EMPTY;
                true
            } else {
                false
            }
        },
    );
    drop((tx, raiser));
    let stats = rx.stats();
    assert_eq!((stats.delivered, stats.dropped), (rounds * burst, 0));
    assert_at_most_one_write_per_park(stats);
    assert!(
        stats.doorbell_writes < 2 * rounds * burst,
        "a write per publication is what S10 forbids: {stats}"
    );
}

/// The system calls a thread blocked in `Receiver::wait` sits in.
fn poll_syscalls() -> Vec<libc::c_long> {
    let mut nrs = vec![libc::SYS_ppoll];
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    nrs.push(libc::SYS_poll);
    nrs
}

/// The deterministic form of S9 + S10: the producer publishes only once the
/// consumer is provably asleep in `poll(2)` inside `wait`, then publishes a
/// burst of sends and raises. Every round must wake the consumer, and cost
/// exactly one eventfd write, whatever the burst size: one sleep, one write.
#[test]
#[cfg_attr(miri, ignore = "reads /proc, which Miri does not emulate")]
fn s09_s10_exactly_one_doorbell_write_per_blocked_wait() {
    let rounds = 200u64;
    let burst = 8u64;
    let (tx, mut rx) = eventsig::channel::<u64>(burst as usize).unwrap();
    let (go_tx, go_rx) = bounded::<libc::pid_t>(1);
    let producer = spawn("producer", move || {
        let mut tx = tx;
        let raiser = tx.raiser();
        let syscalls = poll_syscalls();
        for round in 0..rounds {
            let tid = go_rx.recv_timeout(LONG).expect("the consumer's go");
            await_blocked_in(
                tid,
                &syscalls,
                TEST_BUDGET,
                "the consumer blocking in poll(2)",
            );
            for i in 0..burst {
                tx.send(round * burst + i).unwrap();
                raiser.raise(sig(i)).unwrap();
            }
        }
    });
    let tid = gettid();
    let deadline = Deadline::new(TEST_BUDGET);
    let mut seen = Tracker::default();
    for round in 0..rounds {
        go_tx.send(tid).expect("the producer is alive");
        wait_ready(&mut rx, &format!("blocked round {round}"));
        // Busy-poll the rest of the burst (no park: the fd is not exposed).
        let mut signals = SignalSet::EMPTY;
        while seen.next < (round + 1) * burst || signals.len() < burst as usize {
            deadline.check("the burst");
            signals |= rx.take_signals();
            if let Ok(d) = rx.try_recv() {
                seen.see(d);
            }
        }
    }
    producer.join();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    let stats = rx.stats();
    assert_eq!(seen.lost, 0);
    assert_eq!(
        (stats.doorbell_writes, stats.parks),
        (rounds, rounds),
        "one park and one write per sleep, for {} publications per sleep: {stats}",
        2 * burst
    );
}

// ---------------------------------------------------------------------------
// S11: closing in both directions.
// ---------------------------------------------------------------------------

#[test]
fn s11_closed_only_after_everything_pending_was_delivered() {
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    for i in 0..6 {
        let _ = tx.send(i);
    }
    tx.raise(sig(7)).unwrap();
    drop(tx);
    assert!(rx.is_closed());
    // Closed wakes at once, and stays so.
    assert!(rx.wait(Some(Duration::ZERO)).unwrap());
    assert!(rx.wait(Some(LONG)).unwrap());
    for i in 0..4 {
        assert_eq!(
            rx.try_recv(),
            Ok(Delivery::Event(i)),
            "not before the last event"
        );
    }
    assert_eq!(rx.try_recv(), Ok(Delivery::Lost { first: 4, count: 2 }));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.drain().count(), 0);
    assert!(rx.wait(Some(LONG)).unwrap());
    assert_eq!(
        rx.take_signals(),
        SignalSet::from(sig(7)),
        "signals outlive the close"
    );
    assert!(rx.overflow().is_some());

    // The same through drain only.
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    tx.send(0).unwrap();
    drop(tx);
    assert_eq!(rx.drain().collect::<Vec<_>>(), [Delivery::Event(0)]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

/// Many short channels: a producer thread sends a few events and drops the
/// sender while the consumer busy-polls `try_recv`. `Closed` must never come
/// before the last event, even when the last send and the close land between
/// the consumer's look at the ring and its look at the producer count.
#[test]
fn s11_closed_never_before_the_last_event_across_threads() {
    let rounds = scaled(3_000, 10);
    let (senders_tx, senders_rx) = bounded::<Sender<u64>>(1);
    let producer = spawn("producer", move || {
        let mut rng = Rng::new(111);
        for round in 0..rounds {
            let mut tx = senders_rx.recv_timeout(LONG).expect("a sender");
            for i in 0..1 + round % 3 {
                rng.spin(200);
                tx.send(i).unwrap();
            }
            // Dropped here: the close races with the consumer's last pops.
        }
    });
    let deadline = Deadline::new(TEST_BUDGET);
    for round in 0..rounds {
        let (tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
        senders_tx.send(tx).expect("the producer is alive");
        let mut seen = Tracker::default();
        let mut polls = 0u64;
        loop {
            match rx.try_recv() {
                Ok(d) => seen.see(d),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Closed) => break,
            }
            polls += 1;
            if polls % 1024 == 0 {
                deadline.check("the close");
                thread::yield_now();
            }
        }
        assert_eq!(
            (seen.events, seen.lost),
            (1 + round % 3, 0),
            "round {round}: Closed before the last event"
        );
    }
    producer.join();
}

#[test]
fn s11_a_raiser_keeps_the_channel_open_until_dropped() {
    let (tx, mut rx) = eventsig::channel::<u64>(2).unwrap();
    let raiser = tx.raiser();
    let second = raiser.clone();
    drop(tx);
    assert!(!rx.is_closed());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!rx.wait(Some(Duration::ZERO)).unwrap());
    raiser.raise(sig(1)).unwrap();
    drop(raiser);
    assert!(!rx.is_closed(), "a clone is a producer too");
    assert_eq!(rx.take_signals(), SignalSet::from(sig(1)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    second.raise(sig(2)).unwrap();
    drop(second);
    assert!(rx.is_closed());
    assert!(rx.wait(Some(Duration::ZERO)).unwrap());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.take_signals(), SignalSet::from(sig(2)));
}

#[test]
fn s11_dropping_the_receiver_refuses_sends_and_raises() {
    let (mut tx, rx) = eventsig::channel::<String>(2).unwrap();
    let raiser = tx.raiser();
    tx.send("before".to_string()).unwrap();
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    let value = "after".to_string();
    let heap = value.as_ptr();
    match tx.send(value) {
        Err(SendError::Closed(back)) => {
            assert_eq!(back, "after");
            assert_eq!(back.as_ptr(), heap, "the very value comes back");
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    // Closed wins over Full: the ring has room, and it does not matter.
    assert!(matches!(tx.send("x".into()), Err(SendError::Closed(_))));
    assert_eq!(tx.raise(sig(0)), Err(RaiseError::Closed));
    assert_eq!(raiser.raise(sig(0)), Err(RaiseError::Closed));
    let clone = raiser.clone();
    assert_eq!(clone.raise(sig(63)), Err(RaiseError::Closed));
}

/// Counts live instances: `new` increments, `Drop` decrements.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(live: &Arc<AtomicUsize>) -> Counted {
        live.fetch_add(1, Ordering::SeqCst);
        Counted(Arc::clone(live))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn s11_values_left_in_the_ring_are_dropped_once_both_sides_are_gone() {
    for receiver_first in [true, false] {
        let live = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = eventsig::channel::<Counted>(8).unwrap();
        for _ in 0..8 {
            assert!(tx.send(Counted::new(&live)).is_ok());
        }
        // Full: the value comes back and is the caller's to drop.
        let back = tx.send(Counted::new(&live)).unwrap_err().into_inner();
        assert_eq!(live.load(Ordering::SeqCst), 9);
        drop(back);
        drop(rx.try_recv().unwrap());
        drop(rx.drain().take(2).collect::<Vec<_>>());
        assert_eq!(
            live.load(Ordering::SeqCst),
            5,
            "delivered values are the caller's"
        );
        if receiver_first {
            drop(rx);
            let back = tx.send(Counted::new(&live)).unwrap_err();
            assert!(matches!(back, SendError::Closed(_)));
            drop(back);
            assert_eq!(
                live.load(Ordering::SeqCst),
                5,
                "the sender still holds the ring"
            );
            drop(tx);
        } else {
            drop(tx);
            assert_eq!(
                live.load(Ordering::SeqCst),
                5,
                "the receiver may still take them"
            );
            drop(rx);
        }
        assert_eq!(
            live.load(Ordering::SeqCst),
            0,
            "each left value dropped once"
        );
    }
}

// ---------------------------------------------------------------------------
// S13: a signal raised before a send is visible no later than that event.
// ---------------------------------------------------------------------------

/// The producer raises signal `i % 64`, spins a random while, then sends
/// event `i` (always accepted: it waits for room first). The consumer, right
/// after receiving event `i` with `try_recv`, takes the signals.
///
/// Which takes may legitimately have reported that raise? A take reports it
/// iff it is the first take after the raise. The raise comes after the
/// producer saw room for event `i`, i.e. after the consumer's pop of event
/// `i - C` (C = capacity; `try_recv` publishes its index at once), so no take
/// made before that pop can have seen it: the take must have happened after
/// `i + 1 - C` events were received, and at the latest right after event `i`
/// (S13). A signal number comes back every 64 events, and 64 > C, so the raise
/// of event `i - 64` was taken (by S13) before that window opened: the window
/// holds this raise only. The test therefore records, per signal, the
/// received-count at the latest take that contained it, and requires it to
/// be `>= i + 1 - C` right after event `i`. Were the raise made visible after
/// the send, the take right after event `i` would miss it, and the latest
/// take containing the signal would be the one of event `i - 64`: a failure.
#[test]
fn s13_signal_raised_before_a_send_is_visible_with_the_event() {
    const CAP: u64 = 16;
    let n = scaled(100_000, 300);
    let (mut tx, mut rx) = eventsig::channel::<u64>(CAP as usize).unwrap();
    let producer = spawn("producer", move || {
        let deadline = Deadline::new(TEST_BUDGET);
        let mut rng = Rng::new(13);
        for i in 0..n {
            await_room(&mut tx, &deadline);
            tx.raise(sig(i)).unwrap();
            rng.spin(100);
            tx.send(i).unwrap();
        }
    });
    let deadline = Deadline::new(TEST_BUDGET);
    let mut rng = Rng::new(1313);
    let mut received = 0u64;
    // Per signal: `received` at the latest take that contained it.
    let mut last_take_with: [Option<u64>; 64] = [None; 64];
    let take = |rx: &mut Receiver<u64>, received: u64, last: &mut [Option<u64>; 64]| {
        for s in rx.take_signals() {
            last[s.number() as usize] = Some(received);
        }
    };
    loop {
        deadline.check("the producer's close");
        match rx.try_recv() {
            Ok(Delivery::Event(i)) => {
                assert_eq!(i, received);
                received += 1;
                take(&mut rx, received, &mut last_take_with);
                let lower = (i + 1).saturating_sub(CAP);
                let last = last_take_with[(i % 64) as usize];
                assert!(
                    last.is_some_and(|k| k >= lower),
                    "S13: event {i} received, signal {} not taken since event {lower} \
                     (latest take with it after {last:?} events)",
                    i % 64
                );
            }
            Ok(lost) => panic!("nothing may be dropped here: {lost:?}"),
            Err(TryRecvError::Empty) => match rng.below(4) {
                // Takes at other moments are legitimate too.
                0 => take(&mut rx, received, &mut last_take_with),
                1 => wait_ready(&mut rx, "S13 consumer"),
                _ => thread::yield_now(),
            },
            Err(TryRecvError::Closed) => break,
        }
        if rng.below(16) == 0 {
            rng.spin(500);
        }
    }
    producer.join();
    assert_eq!(received, n);
}
