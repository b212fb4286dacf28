//! Loom models of every atomic protocol in eventsig.
//!
//! Run with:
//! `RUSTFLAGS="--cfg eventsig_loom" cargo test --release --test loom`
//! and the mutation check (the producer's fence removed, loom must find the
//! lost wake-up; the drop-oldest ring's claim without its compare-and-swap,
//! loom must find the event owned twice):
//! `RUSTFLAGS="--cfg eventsig_loom --cfg eventsig_loom_mutant" cargo test --release --test loom`
//!
//! Under `eventsig_loom` the eventfd is a model whose `wait` has no timeout,
//! so a lost wake-up is a deadlock, which loom reports as a failure.
#![cfg(eventsig_loom)]

use eventsig::{channel, ring, Delivery, Signal, TryRecvError};
use loom::thread;

fn sig(n: u32) -> Signal {
    Signal::new(n).unwrap()
}

/// Receives until `Closed`, returning events and the total lost count.
fn collect_until_closed<T>(rx: &mut eventsig::Receiver<T>) -> (Vec<T>, u64) {
    let mut events = Vec::new();
    let mut lost = 0;
    loop {
        match rx.try_recv() {
            Ok(Delivery::Event(v)) => events.push(v),
            Ok(Delivery::Lost { count, .. }) => lost += count,
            Err(TryRecvError::Empty) => {
                assert!(rx.wait(None).unwrap());
            }
            Err(TryRecvError::Closed) => return (events, lost),
        }
    }
}

/// (a) The ring alone, across wrap-around: payloads intact, in order, gaps
/// counted, unread entries dropped with the ring.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn ring_wraps_in_order_and_drops_unread() {
    loom::model(|| {
        let marker = loom::sync::Arc::new(());
        let (mut tx, mut rx) = ring::ring::<(u32, loom::sync::Arc<()>)>(2).unwrap();
        let m = marker.clone();
        let producer = thread::spawn(move || {
            for i in 0..3 {
                let _ = tx.push((i, m.clone()));
            }
        });
        let mut expected = 0u64;
        for _ in 0..2 {
            match rx.pop() {
                Some(Delivery::Event((v, _))) => {
                    assert!(u64::from(v) >= expected);
                    assert_eq!(u64::from(v), expected, "an event with no gap before it");
                    expected += 1;
                }
                Some(Delivery::Lost { first, count }) => {
                    assert_eq!(first, expected);
                    expected += count;
                }
                None => {}
            }
        }
        producer.join().unwrap();
        let rest: Vec<_> = rx.drain().collect();
        for d in rest {
            match d {
                Delivery::Event((v, _)) => {
                    assert_eq!(u64::from(v), expected);
                    expected += 1;
                }
                Delivery::Lost { first, count } => {
                    assert_eq!(first, expected);
                    expected += count;
                }
            }
        }
        assert_eq!(expected, 3, "every attempt delivered or reported lost");
        drop(rx);
        assert_eq!(loom::sync::Arc::strong_count(&marker), 1);
    });
}

/// (a2) Gap records: with one slot, drops and accepted pushes alternate as
/// the consumer frees the slot, so the producer writes gap records (and
/// reuses the single record cell) while the consumer reads them. Every
/// attempt is delivered or reported lost exactly once, and every `Lost`
/// stands where its drops were.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn ring_gap_records_place_every_loss() {
    loom::model(|| {
        let (mut tx, mut rx) = ring::ring::<u64>(1).unwrap();
        let producer = thread::spawn(move || {
            for i in 0..4 {
                let _ = tx.push(i);
            }
        });
        let mut expected = 0u64;
        let mut check = |d: Delivery<u64>| match d {
            Delivery::Event(v) => {
                assert_eq!(v, expected, "payload == its attempt number");
                expected += 1;
            }
            Delivery::Lost { first, count } => {
                assert_eq!(first, expected, "the gap stands where the drops were");
                assert!(count > 0);
                expected += count;
            }
        };
        for _ in 0..2 {
            if let Some(d) = rx.pop() {
                check(d);
            }
        }
        producer.join().unwrap();
        for d in rx.drain() {
            check(d);
        }
        assert_eq!(expected, 4, "every attempt delivered or reported lost");
    });
}

/// (b) No lost wake-up for a send into a receiver blocked in `wait`.
#[test]
fn send_wakes_a_waiting_receiver() {
    let run = || {
        loom::model(|| {
            let (mut tx, mut rx) = channel::<u32>(1).unwrap();
            let producer = thread::spawn(move || {
                tx.send(7).unwrap();
                // Keep the channel open: only the send may wake the receiver.
                tx
            });
            assert!(rx.wait(None).unwrap());
            assert_eq!(rx.try_recv(), Ok(Delivery::Event(7)));
            drop(producer.join().unwrap());
        })
    };
    #[cfg(not(eventsig_loom_mutant))]
    run();
    #[cfg(eventsig_loom_mutant)]
    {
        let payload = std::panic::catch_unwind(run)
            .expect_err("loom must find the lost wake-up once the fence is gone");
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        // A lost wake-up is the receiver blocked in `wait` forever.
        assert!(
            message.contains("deadlock"),
            "unexpected failure: {message}"
        );
    }
}

/// (b) No lost wake-up for a raise.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn raise_wakes_a_waiting_receiver() {
    loom::model(|| {
        let (tx, mut rx) = channel::<u32>(1).unwrap();
        let raiser = tx.raiser();
        let producer = thread::spawn(move || {
            raiser.raise(sig(3)).unwrap();
            raiser
        });
        assert!(rx.wait(None).unwrap());
        assert!(rx.take_signals().contains(sig(3)));
        drop(producer.join().unwrap());
        drop(tx);
    });
}

/// (b) No lost wake-up for a drop (a new gap): the receiver frees the only
/// slot inside a drain, which publishes its index only when it ends, while
/// the producer's send may find the ring still full. The receiver waits
/// until every attempt is accounted for; a lost wake-up deadlocks.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn drop_wakes_a_waiting_receiver() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(1).unwrap();
        tx.send(0).unwrap();
        let producer = thread::spawn(move || {
            let _ = tx.send(1);
            tx // keep the channel open: the close must not be what wakes us
        });
        let mut accounted = 0;
        loop {
            for d in rx.drain() {
                accounted += match d {
                    Delivery::Event(_) => 1,
                    Delivery::Lost { count, .. } => count,
                };
            }
            if accounted == 2 {
                break;
            }
            assert!(rx.wait(None).unwrap());
        }
        drop(producer.join().unwrap());
    });
}

/// (c) Sticky overflow: an acknowledgement never clears a drop it did not see.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn acknowledge_never_clears_an_unseen_drop() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(1).unwrap();
        tx.send(0).unwrap();
        let producer = thread::spawn(move || {
            let _ = tx.send(1);
            let _ = tx.send(2);
            tx
        });
        let mut acknowledged = 0;
        if let Some(ov) = rx.overflow() {
            acknowledged += ov.lost();
            rx.acknowledge(ov);
        }
        let tx = producer.join().unwrap();
        let remaining = rx.overflow().map_or(0, |o| o.lost());
        assert_eq!(acknowledged + remaining, 2, "both drops seen exactly once");
        drop(tx);
    });
}

/// (d) Close while the receiver is parked in `wait`.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn close_wakes_a_waiting_receiver() {
    loom::model(|| {
        let (tx, mut rx) = channel::<u32>(1).unwrap();
        let raiser = tx.raiser();
        let a = thread::spawn(move || drop(tx));
        let b = thread::spawn(move || drop(raiser));
        assert!(rx.wait(None).unwrap());
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

/// (d) A send and then the close: the receiver gets the event before `Closed`.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn events_before_close_are_delivered_first() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(2).unwrap();
        let producer = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        let (events, lost) = collect_until_closed(&mut rx);
        assert_eq!((events, lost), (vec![1, 2], 0));
        producer.join().unwrap();
    });
}

/// (e) S13: a signal raised before a send is visible once the event is.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn raise_before_send_is_seen_with_the_event() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(1).unwrap();
        let producer = thread::spawn(move || {
            tx.raise(sig(1)).unwrap();
            tx.send(9).unwrap();
            tx
        });
        if let Ok(Delivery::Event(9)) = rx.try_recv() {
            assert!(rx.take_signals().contains(sig(1)));
        }
        drop(producer.join().unwrap());
    });
}

/// (f) Several raisers on other threads: every signal reported, the receiver
/// woken, nothing lost.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn several_raisers_wake_and_are_all_reported() {
    loom::model(|| {
        let (tx, mut rx) = channel::<u32>(1).unwrap();
        let r1 = tx.raiser();
        let r2 = tx.raiser();
        drop(tx);
        let a = thread::spawn(move || r1.raise(sig(1)).unwrap());
        let b = thread::spawn(move || r2.raise(sig(2)).unwrap());
        let mut seen = eventsig::SignalSet::EMPTY;
        while !(seen.contains(sig(1)) && seen.contains(sig(2))) {
            assert!(rx.wait(None).unwrap());
            seen |= rx.take_signals();
            if rx.is_closed() {
                seen |= rx.take_signals();
                break;
            }
        }
        a.join().unwrap();
        b.join().unwrap();
        assert!(seen.contains(sig(1)) && seen.contains(sig(2)), "{seen:?}");
    });
}

/// (g) The epoll path: a consumer that drains once per readiness and
/// sleeps on the fd (level-triggered) until it has both events, while the
/// producer sends twice. A drain that yielded something does not park: it
/// must leave the fd readable, or an event sent after its snapshot is
/// stranded (loom then reports the consumer asleep forever). An empty drain
/// parks, and a send after it must ring. And no stale write may stay in the
/// fd: a sleep that keeps returning with nothing to drain fails the model.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn epoll_consumer_is_woken_for_every_send() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(2).unwrap();
        rx.loom_expose();
        let producer = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            // Keep the channel open: only the sends may wake the consumer.
            tx
        });
        let mut got = Vec::new();
        let mut empty_drains = 0;
        loop {
            let before = got.len();
            for d in rx.drain() {
                match d {
                    Delivery::Event(v) => got.push(v),
                    Delivery::Lost { .. } => panic!("nothing is dropped"),
                }
            }
            if got.len() == 2 {
                break;
            }
            if got.len() == before {
                empty_drains += 1;
                assert!(
                    empty_drains < 4,
                    "the fd keeps waking the consumer for nothing: {:?}",
                    rx.stats()
                );
            }
            rx.loom_sleep_on_fd();
        }
        assert_eq!(got, [1, 2]);
        drop(producer.join().unwrap());
    });
}

// ---------------------------------------------------------------------------
// The drop-oldest ring (`eventsig::overwrite`): the producer evicts the
// oldest unread event with a compare-and-swap while the consumer claims
// events with one. Payloads are their sequence numbers, and count their
// drops, so every model checks the delivered stream (events in order, each
// `Lost` exactly where its attempts stood), conservation (S6), no leak and
// no double drop; loom checks every cell access for data races.
// ---------------------------------------------------------------------------

/// A payload that knows its sequence number and counts its drops.
#[derive(Debug)]
struct Tracked {
    seq: u64,
    drops: loom::sync::Arc<loom::sync::atomic::AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Not while a failed model unwinds (see the mutant check).
        if !std::thread::panicking() {
            self.drops
                .fetch_add(1, loom::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Checks a delivered stream against the attempt numbers: `expected` is the
/// next attempt not yet delivered or reported; returns the events' count
/// and the lost count.
#[derive(Default)]
struct StreamCheck {
    expected: u64,
    delivered: u64,
    lost: u64,
}

impl StreamCheck {
    fn see(&mut self, d: Delivery<Tracked>) {
        match d {
            Delivery::Event(t) => {
                assert_eq!(t.seq, self.expected, "payload == its sequence number");
                self.expected += 1;
                self.delivered += 1;
            }
            Delivery::Lost { first, count } => {
                assert_eq!(
                    first, self.expected,
                    "the gap stands where its attempts were"
                );
                assert!(count > 0, "an empty gap");
                self.expected += count;
                self.lost += count;
            }
        }
    }
}

/// (h) The consumer pops while the producer overwrites a ring of one slot:
/// every push after the first evicts the unread event or finds it claimed,
/// and both compare-and-swaps race on the same word. The stream is a valid
/// suffix-with-gaps, delivered + lost == attempts, the producer's drop count
/// agrees with the consumer's gaps, and each payload is dropped exactly once.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn overwrite_claim_races_eviction() {
    overwrite_claim_races_eviction_model();
}

fn overwrite_claim_races_eviction_model() {
    loom::model(|| {
        let drops = loom::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let (mut tx, mut rx) = eventsig::overwrite::ring::<Tracked>(1).unwrap();
        let d = drops.clone();
        let producer = thread::spawn(move || {
            let mut evicted = 0;
            for seq in 0..3 {
                if let Some(old) = tx.push(Tracked {
                    seq,
                    drops: d.clone(),
                }) {
                    assert!(old.seq < seq);
                    evicted += 1;
                }
            }
            assert_eq!(evicted, tx.dropped());
            tx
        });
        let mut check = StreamCheck::default();
        for _ in 0..2 {
            if let Some(d) = rx.pop() {
                check.see(d);
            }
        }
        let tx = producer.join().unwrap();
        while let Some(d) = rx.pop() {
            check.see(d);
        }
        assert_eq!(
            check.expected, 3,
            "every attempt delivered or reported lost"
        );
        assert_eq!(check.delivered + check.lost, 3, "S6");
        assert_eq!(check.lost, tx.dropped(), "the producer counted every gap");
        assert_eq!(rx.dropped(), check.lost);
        drop((tx, rx));
        assert_eq!(
            drops.load(loom::sync::atomic::Ordering::Relaxed),
            3,
            "each payload dropped exactly once"
        );
    });
}

/// (h) The mutant of the claim (a load and a store instead of the
/// compare-and-swap): loom must find the event owned twice.
#[cfg(eventsig_loom_mutant)]
#[test]
fn overwrite_claim_without_its_cas_is_caught() {
    let payload = std::panic::catch_unwind(overwrite_claim_races_eviction_model)
        .expect_err("loom must find the double ownership once the claim is not a CAS");
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    // Two threads own the claimed cell: loom reports the concurrent access
    // (or, in another exploration order, the model's stream check fails).
    assert!(
        message.contains("Causality violation")
            || message.contains("payload")
            || message.contains("gap")
            || message.contains("attempt"),
        "unexpected failure: {message}"
    );
}

/// (h) Cells go round: the consumer hands the cell of each event it read
/// back in its next claim, and the producer takes it from that `FREE` word
/// and writes a later event into it. loom checks that the consumer's read
/// happens before that write (rule 2 of `overwrite.rs`) in both paths that
/// hand a cell over: with two slots, pushes into slots the consumer freed
/// (reached with one preemption: the consumer claims both events between
/// the producer's pushes); with one slot, evictions that lose to the claim.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn overwrite_cells_are_handed_back_before_reuse() {
    for (cap, before) in [(2, 2), (1, 1)] {
        loom::model(move || {
            let drops = loom::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(0));
            let (mut tx, rx) = eventsig::overwrite::ring::<Tracked>(cap).unwrap();
            for seq in 0..before {
                tx.push(Tracked {
                    seq,
                    drops: drops.clone(),
                });
            }
            let consumer = thread::spawn(move || {
                let mut rx = rx;
                let mut check = StreamCheck::default();
                for _ in 0..2 {
                    if let Some(d) = rx.pop() {
                        check.see(d);
                    }
                }
                (rx, check)
            });
            let total = before + 3;
            for seq in before..total {
                drop(tx.push(Tracked {
                    seq,
                    drops: drops.clone(),
                }));
            }
            let (mut rx, mut check) = consumer.join().unwrap();
            while let Some(d) = rx.pop() {
                check.see(d);
            }
            assert_eq!(
                check.expected, total,
                "every attempt delivered or reported lost"
            );
            assert_eq!(check.lost, tx.dropped(), "the producer counted every gap");
            drop((tx, rx));
            assert_eq!(
                drops.load(loom::sync::atomic::Ordering::Relaxed),
                total as usize
            );
        });
    }
}

/// (h) A drain (one snapshot, claims in a row) while the producer pushes
/// past the capacity of two slots, then a second drain after it is done:
/// the same checks, plus the drain's end at its snapshot.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn overwrite_drain_while_the_producer_overwrites() {
    loom::model(|| {
        let drops = loom::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let (mut tx, mut rx) = eventsig::overwrite::ring::<Tracked>(2).unwrap();
        tx.push(Tracked {
            seq: 0,
            drops: drops.clone(),
        });
        let d = drops.clone();
        let producer = thread::spawn(move || {
            for seq in 1..4 {
                drop(tx.push(Tracked {
                    seq,
                    drops: d.clone(),
                }));
            }
            tx
        });
        let mut check = StreamCheck::default();
        for d in rx.drain() {
            check.see(d);
        }
        let tx = producer.join().unwrap();
        for d in rx.drain() {
            check.see(d);
        }
        assert_eq!(
            check.expected, 4,
            "every attempt delivered or reported lost"
        );
        assert_eq!(check.lost, tx.dropped(), "the producer counted every gap");
        assert!(
            check.delivered >= 2,
            "the newest two survive: {}",
            check.delivered
        );
        drop((tx, rx));
        assert_eq!(drops.load(loom::sync::atomic::Ordering::Relaxed), 4);
    });
}

/// (h) `push_iter` evicts nothing: it pushes only into slots the consumer's
/// published position frees, and those must be free (rule 5 of
/// `overwrite.rs`: a stale slot word would hand the producer the cell the
/// consumer is reading).
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn overwrite_push_iter_fills_only_freed_slots() {
    loom::model(|| {
        let drops = loom::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let (mut tx, mut rx) = eventsig::overwrite::ring::<Tracked>(1).unwrap();
        tx.push(Tracked {
            seq: 0,
            drops: drops.clone(),
        });
        let d = drops.clone();
        let producer = thread::spawn(move || {
            let mut next = 1;
            for _ in 0..2 {
                let mut item = std::iter::once(Tracked {
                    seq: next,
                    drops: d.clone(),
                });
                next += tx.push_iter(&mut item) as u64;
            }
            (tx, next)
        });
        let mut check = StreamCheck::default();
        for _ in 0..2 {
            if let Some(d) = rx.pop() {
                check.see(d);
            }
        }
        let (tx, pushed) = producer.join().unwrap();
        while let Some(d) = rx.pop() {
            check.see(d);
        }
        assert_eq!(tx.dropped(), 0, "push_iter evicted an event");
        assert_eq!((check.lost, check.delivered), (0, pushed));
        drop((tx, rx));
        // The items not taken were dropped in the producer thread.
        assert_eq!(drops.load(loom::sync::atomic::Ordering::Relaxed), 3);
    });
}

/// (h) The channel with `OverflowPolicy::DropOldest`: a send that evicts
/// (a new gap before the newest event) wakes a receiver blocked in `wait`,
/// the receiver accounts for every attempt, and the overflow is sticky.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn overwrite_channel_send_wakes_and_overflow_is_set() {
    loom::model(|| {
        let (mut tx, mut rx) = eventsig::builder()
            .capacity(1)
            .overflow_policy(eventsig::OverflowPolicy::DropOldest)
            .build::<u64>()
            .unwrap();
        tx.send(0).unwrap();
        let producer = thread::spawn(move || {
            tx.send(1).unwrap();
            tx // keep the channel open: only the send may wake the receiver
        });
        let (mut expected, mut lost) = (0u64, 0u64);
        while expected < 2 {
            for d in rx.drain() {
                match d {
                    Delivery::Event(v) => {
                        assert_eq!(v, expected);
                        expected += 1;
                    }
                    Delivery::Lost { first, count } => {
                        assert_eq!(first, expected);
                        expected += count;
                        lost += count;
                    }
                }
            }
            if expected < 2 {
                assert!(rx.wait(None).unwrap());
            }
        }
        assert_eq!(rx.overflow().map_or(0, |o| o.lost()), lost, "S8");
        drop(producer.join().unwrap());
    });
}
