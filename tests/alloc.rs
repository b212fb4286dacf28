//! S4 bounded: memory is fixed at construction; send, raise, drain, take,
//! try_recv, overflow/acknowledge, stats, free_slots and wait allocate
//! nothing.
//!
//! A counting global allocator counts allocations per thread (the test
//! harness runs tests on several threads at once, so a global count would
//! see other tests' allocations).

use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use eventsig::{Delivery, SendError, Signal, SignalSet, TryRecvError};

// Installs the counting global allocator in this binary.
#[path = "common/counting.rs"]
mod counting;
use counting::allocations_in;

mod common;
use common::scaled_usize as scaled;

fn sig(n: u32) -> Signal {
    Signal::new(n).unwrap()
}

/// Drains into a fixed array (no growing `Vec`): returns (events, lost).
fn drain_counting(rx: &mut eventsig::Receiver<u64>, seen: &mut [u64; 64]) -> (u64, u64) {
    rx.drain().fold((0, 0), |(events, lost), d| match d {
        Delivery::Event(v) => {
            seen[(v % 64) as usize] = v;
            (events + 1, lost)
        }
        Delivery::Lost { count, .. } => (events, lost + count),
    })
}

#[test]
fn s04_counting_allocator_sees_allocations() {
    // Positive controls: the counter works in a measured region.
    let (n, _) = allocations_in(|| black_box(Box::new(black_box(5u64))));
    assert_eq!(n, 1, "a Box::new is one allocation");
    let (n, _) = allocations_in(|| {
        let mut v: Vec<u64> = Vec::new();
        for i in 0..100 {
            v.push(black_box(i));
        }
        black_box(v)
    });
    assert!(n >= 2, "a growing Vec allocates and reallocates: {n}");
    let (n, _) = allocations_in(|| black_box(format!("{}", black_box(42))));
    assert!(n >= 1);
}

#[test]
fn s04_channel_operations_allocate_nothing_after_construction() {
    // Construction may allocate.
    let (mut tx, mut rx) = eventsig::channel::<u64>(64).unwrap();
    let raiser = tx.raiser();
    let signals: [Signal; 3] = [sig(0), sig(31), sig(63)];
    let sends = scaled(10_000, 200) as u64;
    let mut seen = [0u64; 64];

    let (n, (events, lost, taken, fulls)) = allocations_in(|| {
        let (mut events, mut lost, mut fulls) = (0u64, 0u64, 0u64);
        let mut taken = SignalSet::EMPTY;
        for i in 0..sends {
            match tx.send(i) {
                Ok(()) => {}
                Err(SendError::Full(_)) => fulls += 1,
                Err(SendError::Closed(_)) => panic!("closed"),
            }
            if i % 97 == 0 {
                let s = signals[(i % 3) as usize];
                tx.raise(s).unwrap();
                raiser.raise(s).unwrap();
                taken |= rx.take_signals();
            }
            if i % 500 == 499 {
                // Let the ring fill up and overflow between drains.
                let (e, l) = drain_counting(&mut rx, &mut seen);
                events += e;
                lost += l;
                if let Some(ov) = rx.overflow() {
                    assert!(ov.lost() > 0);
                    rx.acknowledge(ov);
                }
                assert!(rx.overflow().is_none());
                black_box(rx.stats());
                black_box(tx.free_slots());
                black_box(rx.pending_signals());
            }
            if i % 1000 == 10 {
                match rx.try_recv() {
                    Ok(Delivery::Event(_)) => events += 1,
                    Ok(Delivery::Lost { count, .. }) => lost += count,
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Closed) => panic!("closed"),
                }
            }
        }
        let (e, l) = drain_counting(&mut rx, &mut seen);
        (events + e, lost + l, taken, fulls)
    });
    assert_eq!(n, 0, "{n} allocations after construction");
    // The region did what it claims.
    assert_eq!(events + lost, sends, "S6 inside the measured region");
    assert!(fulls > 0 && lost == fulls, "sends were refused as Full");
    assert_eq!(taken, signals.iter().copied().collect::<SignalSet>());
    assert_eq!(rx.stats().sent, sends);
    assert_ne!(seen, [0; 64]);
}

/// The same under drop-oldest: a full ring evicts (one eviction per send
/// once full), and sending, evicting, draining, `try_recv`, the overflow and
/// its acknowledgement allocate nothing.
#[test]
fn s04_drop_oldest_operations_allocate_nothing_after_construction() {
    let (mut tx, mut rx) = eventsig::builder()
        .capacity(64)
        .overflow_policy(eventsig::OverflowPolicy::DropOldest)
        .build::<u64>()
        .unwrap();
    let sends = scaled(10_000, 200) as u64;
    let mut seen = [0u64; 64];
    let (n, (events, lost)) = allocations_in(|| {
        let (mut events, mut lost) = (0u64, 0u64);
        for i in 0..sends {
            tx.send(i).expect("drop-oldest accepts every send");
            if i % 500 == 499 {
                let (e, l) = drain_counting(&mut rx, &mut seen);
                events += e;
                lost += l;
                if let Some(ov) = rx.overflow() {
                    rx.acknowledge(ov);
                }
                black_box(rx.stats());
                black_box(tx.free_slots());
            }
            if i % 1000 == 10 {
                match rx.try_recv() {
                    Ok(Delivery::Event(_)) => events += 1,
                    Ok(Delivery::Lost { count, .. }) => lost += count,
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Closed) => panic!("closed"),
                }
            }
        }
        let (e, l) = drain_counting(&mut rx, &mut seen);
        (events + e, lost + l)
    });
    assert_eq!(n, 0, "{n} allocations after construction");
    assert_eq!(events + lost, sends, "S6 inside the measured region");
    assert!(lost > 0, "the ring overflowed and evicted");
    assert_eq!(rx.stats().dropped, lost);
}

#[test]
#[cfg_attr(miri, ignore = "Miri does not model poll(2)")]
fn s04_wait_and_the_exposed_fd_path_allocate_nothing() {
    let (mut tx, mut rx) = eventsig::channel::<u64>(8).unwrap();
    let raiser = tx.raiser();
    let mut seen = [0u64; 64];

    let (n, (timeouts, readies, fd)) = allocations_in(|| {
        let (mut timeouts, mut readies) = (0u32, 0u32);
        // Wait on an empty channel before and after the fd is handed out.
        timeouts += u32::from(!rx.wait(Some(Duration::ZERO)).unwrap());
        let fd = rx.as_raw_fd();
        for _ in 0..3 {
            timeouts += u32::from(!rx.wait(Some(Duration::ZERO)).unwrap());
            timeouts += u32::from(!rx.wait(Some(Duration::from_millis(1))).unwrap());
        }
        // With the fd handed out, empty drains and try_recv park; sends
        // and raises on a parked receiver write the eventfd.
        for i in 0..scaled(1_000, 50) as u64 {
            let _ = tx.send(i);
            if i % 10 == 0 {
                raiser.raise(sig((i % 64) as u32)).unwrap();
            }
            if i % 4 == 0 {
                readies += u32::from(rx.wait(Some(Duration::from_millis(1))).unwrap());
                black_box(rx.take_signals());
                black_box(drain_counting(&mut rx, &mut seen));
                let _ = rx.try_recv();
                if let Some(ov) = rx.overflow() {
                    rx.acknowledge(ov);
                }
                black_box(rx.stats());
                black_box(tx.free_slots());
            }
        }
        (timeouts, readies, fd)
    });
    assert_eq!(n, 0, "{n} allocations in wait / the parked paths");
    assert_eq!(timeouts, 7, "the empty waits timed out");
    assert!(
        readies > 0,
        "the waits with something pending returned true"
    );
    assert!(fd >= 0);
    let stats = rx.stats();
    assert!(
        stats.parks > 0,
        "the parked paths were exercised: {stats:?}"
    );
    assert!(
        stats.doorbell_writes > 0,
        "the eventfd was written: {stats:?}"
    );
}

/// Producer and consumer on two threads, the consumer blocking in `wait`:
/// neither side allocates once the channel is built.
#[test]
#[cfg_attr(miri, ignore = "Miri does not model poll(2)")]
fn s04_two_threads_with_blocking_wait_allocate_nothing() {
    let (mut tx, mut rx) = eventsig::channel::<u64>(16).unwrap();
    // Without the spin phase, so that the parked path is what is measured.
    rx.set_wait_spin(false);
    let n_sends = scaled(10_000, 100) as u64;
    let start = Arc::new(Barrier::new(2));
    let producer = {
        let start = Arc::clone(&start);
        thread::spawn(move || {
            start.wait();
            let (n, ()) = allocations_in(|| {
                for i in 0..n_sends {
                    let _ = tx.send(i);
                    if i % 100 == 0 {
                        tx.raise(sig(5)).unwrap();
                    }
                    if i % 64 == 0 {
                        // Give the consumer time to go to sleep now and then
                        // (a bounded spin, not a sleep).
                        for _ in 0..10_000 {
                            std::hint::spin_loop();
                        }
                    }
                }
            });
            (n, tx)
        })
    };

    start.wait();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = [0u64; 64];
    let (n, (events, lost, signalled)) = allocations_in(|| {
        let (mut events, mut lost, mut signalled) = (0u64, 0u64, false);
        while events + lost < n_sends {
            assert!(Instant::now() < deadline, "not done within 60 s");
            black_box(rx.wait(Some(Duration::from_millis(100))).unwrap());
            signalled |= rx.take_signals().contains(sig(5));
            let (e, l) = drain_counting(&mut rx, &mut seen);
            events += e;
            lost += l;
            if let Some(ov) = rx.overflow() {
                rx.acknowledge(ov);
            }
        }
        (events, lost, signalled)
    });
    let (producer_allocs, tx) = producer.join().unwrap();
    assert_eq!(producer_allocs, 0, "the producer allocated");
    assert_eq!(n, 0, "the consumer allocated");
    assert_eq!(events + lost, n_sends);
    assert!(signalled);
    let stats = rx.stats();
    assert!(stats.parks > 0, "the consumer never slept: {stats:?}");
    drop(tx);
}

/// A classified channel: the classifier runs on every refused send, raises
/// the class, records it; reading the overflow's classes and acknowledging
/// allocate nothing either.
#[test]
fn s04_classified_drops_and_overflow_classes_allocate_nothing() {
    let (mut tx, mut rx) = eventsig::builder()
        .capacity(8)
        .build_classified(|v: &u64| Signal::new((*v % 5) as u32).ok())
        .unwrap();
    let sends = scaled(10_000, 200) as u64;
    let mut seen = [0u64; 64];
    let (n, (events, lost, classes, signals)) = allocations_in(|| {
        let (mut events, mut lost) = (0, 0);
        let mut classes = SignalSet::EMPTY;
        let mut signals = SignalSet::EMPTY;
        for i in 0..sends {
            let _ = tx.send(i);
            if i % 50 == 49 {
                signals |= rx.take_signals();
                let (e, l) = drain_counting(&mut rx, &mut seen);
                events += e;
                lost += l;
                if let Some(ov) = rx.overflow() {
                    classes |= ov.classes();
                    rx.acknowledge(ov);
                }
            }
        }
        let (e, l) = drain_counting(&mut rx, &mut seen);
        (events + e, lost + l, classes, signals)
    });
    assert_eq!(n, 0, "{n} allocations on the classified paths");
    assert_eq!(events + lost, sends);
    assert!(lost > 0, "the ring overflowed");
    let all: SignalSet = (0..5).map(sig).collect();
    assert_eq!(classes, all, "every class was dropped and listed");
    assert_eq!(signals, all, "every class was raised");
}

/// Overrun counts: counted raises from two handles, counted and plain takes.
#[test]
fn s04_counted_raises_and_takes_allocate_nothing() {
    let (tx, mut rx) = eventsig::builder()
        .capacity(4)
        .overrun_counts(true)
        .build::<u64>()
        .unwrap();
    let raiser = tx.raiser();
    let rounds = scaled(10_000, 200) as u64;
    let (n, total) = allocations_in(|| {
        let mut total = 0u64;
        for i in 0..rounds {
            let s = sig((i % 64) as u32);
            tx.raise(s).unwrap();
            raiser.raise(s).unwrap();
            if i % 7 == 0 {
                total += rx
                    .take_signals_counted()
                    .iter()
                    .map(|(_, c)| u64::from(c))
                    .sum::<u64>();
            }
            if i % 11 == 0 {
                total += 2 * rx.take_signals().len() as u64;
            }
        }
        total
            + rx.take_signals_counted()
                .iter()
                .map(|(_, c)| u64::from(c))
                .sum::<u64>()
    });
    assert_eq!(n, 0, "{n} allocations on the counted paths");
    // Takes come more often than a signal number repeats: each signal
    // taken stands for the two raises of one round.
    assert_eq!(total, 2 * rounds, "every raise counted");
}

/// The blocked mask: block, raise blocked and unblocked signals, take,
/// unblock (also on a parked receiver, which parks again).
#[test]
#[cfg_attr(miri, ignore = "Miri does not model poll(2)")]
fn s04_block_unblock_and_masked_takes_allocate_nothing() {
    let (tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let raiser = tx.raiser();
    let fd = rx.as_raw_fd(); // parks: unblock then parks again
    let rounds = scaled(1_000, 50) as u64;
    let (n, taken) = allocations_in(|| {
        let mut taken = 0u64;
        for i in 0..rounds {
            let s = sig((i % 64) as u32);
            rx.block(SignalSet::from(s));
            raiser.raise(s).unwrap();
            tx.raise(sig(((i + 1) % 64) as u32)).unwrap();
            taken += rx.take_signals().len() as u64;
            black_box(rx.pending_signals());
            black_box(rx.wait(Some(Duration::ZERO)).unwrap());
            rx.unblock(SignalSet::from(s));
            taken += rx.take_signals().len() as u64;
            black_box(rx.blocked());
        }
        taken
    });
    assert_eq!(n, 0, "{n} allocations on the mask paths");
    assert_eq!(taken, 2 * rounds);
    assert!(fd >= 0);
}

/// Latest values: raises with values from two handles, takes with values.
#[test]
fn s04_raise_with_and_take_with_values_allocate_nothing() {
    let (tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let raiser = tx.raiser();
    let rounds = scaled(10_000, 200) as u64;
    let mut values = [None; 64];
    let (n, (taken, last)) = allocations_in(|| {
        let mut taken = 0u64;
        for i in 0..rounds {
            let s = sig((i % 64) as u32);
            tx.raise_with(s, i).unwrap();
            raiser.raise_with(s, i + 1).unwrap();
            if i % 5 == 0 {
                taken += rx.take_signals_with(&mut values).len() as u64;
            }
        }
        taken += rx.take_signals_with(&mut values).len() as u64;
        (taken, values[((rounds - 1) % 64) as usize])
    });
    assert_eq!(n, 0, "{n} allocations on the value paths");
    assert_eq!(
        taken, rounds,
        "one report per round (takes come often enough)"
    );
    assert_eq!(
        last,
        Some(rounds),
        "the last value of the last signal raised"
    );
}
