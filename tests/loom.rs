//! Loom models of every atomic protocol in eventsig.
//!
//! Run with:
//! `RUSTFLAGS="--cfg eventsig_loom" cargo test --release --test loom`
//! and the mutation check (the producer's fence removed, loom must find the
//! lost wake-up):
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
// The hub (`src/hub/`): many SPSC rings, one receiver, one park flag.
// ---------------------------------------------------------------------------

/// Receives from a hub until `want` events have come; `wait(None)` between
/// passes (a lost wake-up is a deadlock). Returns the events in order of
/// delivery, with their senders' slots.
fn hub_collect(rx: &mut eventsig::hub::HubReceiver<u32>, want: usize) -> Vec<(usize, u32)> {
    use eventsig::hub::HubDelivery;
    let mut got = Vec::new();
    loop {
        for (id, d) in rx.drain() {
            match d {
                HubDelivery::Event(v) => got.push((id.index(), v)),
                HubDelivery::Lost { .. } => panic!("nothing is dropped"),
                HubDelivery::Closed => {}
            }
        }
        if got.len() == want {
            return got;
        }
        assert!(rx.wait(None).unwrap());
    }
}

/// (h1) The ready set's race: the receiver takes the ring's bit, delivers
/// the first event and deactivates the ring (clears its announcement flag)
/// while the producer sends the second one, whose load of the flag may
/// read the value from before the clear and skip the announcement. The
/// receiver must still learn of the second event before it sleeps: it keeps
/// the ring a suspect and re-checks it after the park's heavy barrier.
///
/// Mutants: without the producer's fence (`eventsig_loom_mutant`), or with a
/// receiver that trusts a deactivation at once (`eventsig_loom_hub_mutant`:
/// no suspects), loom must find the lost wake-up.
#[test]
fn hub_send_racing_a_deactivation_is_not_lost() {
    let run = || {
        loom::model(|| {
            // Held in `ManuallyDrop`: when the mutants deadlock, loom panics
            // out of the model, and a destructor that touches loom's atomics
            // then would panic again (an abort). A passing run drops them.
            use std::mem::ManuallyDrop;
            let (hub, rx) = eventsig::hub::builder()
                .capacity(2)
                .max_senders(2)
                .build::<u32>()
                .unwrap();
            let (hub, mut rx) = (ManuallyDrop::new(hub), ManuallyDrop::new(rx));
            let mut tx = hub.add_sender().unwrap();
            let producer = ManuallyDrop::new(thread::spawn(move || {
                tx.send(1).unwrap();
                tx.send(2).unwrap();
                // Keep the sender: only the sends may wake the receiver.
                tx
            }));
            assert_eq!(hub_collect(&mut rx, 2), [(0, 1), (0, 2)]);
            drop(ManuallyDrop::into_inner(producer).join().unwrap());
            drop(ManuallyDrop::into_inner(hub));
            drop(ManuallyDrop::into_inner(rx));
        })
    };
    #[cfg(not(any(eventsig_loom_mutant, eventsig_loom_hub_mutant)))]
    run();
    #[cfg(any(eventsig_loom_mutant, eventsig_loom_hub_mutant))]
    {
        let payload =
            std::panic::catch_unwind(run).expect_err("loom must find the lost wake-up of the ring");
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        assert!(
            message.contains("deadlock"),
            "unexpected failure: {message}"
        );
    }
}

/// (h2) Two rings on two threads, one park flag: every send is delivered
/// (a send on ring A racing the receiver's take of the ready word is not
/// lost), and the doorbell is written at most once per park (S10).
#[cfg(not(any(eventsig_loom_mutant, eventsig_loom_hub_mutant)))]
#[test]
fn hub_two_rings_wake_once_per_sleep() {
    loom::model(|| {
        let (hub, mut rx) = eventsig::hub::builder()
            .capacity(1)
            .max_senders(2)
            .build::<u32>()
            .unwrap();
        let (mut a, mut b) = (hub.add_sender().unwrap(), hub.add_sender().unwrap());
        let ta = thread::spawn(move || {
            a.send(10).unwrap();
            a
        });
        let tb = thread::spawn(move || {
            b.send(20).unwrap();
            b
        });
        let mut got = hub_collect(&mut rx, 2);
        got.sort_unstable();
        assert_eq!(got, [(0, 10), (1, 20)]);
        let s = rx.stats();
        assert!(s.doorbell_writes <= s.parks, "{s}");
        drop((ta.join().unwrap(), tb.join().unwrap(), hub));
    });
}

/// (h3) A sender added on another thread while the receiver waits, and
/// removed there: it is met at its first send, its event comes before its
/// `Closed`, and the hub closes (the receiver is woken for it) once the
/// factory and every sender are gone; a sender removed before the wait
/// (its event and `Closed` pending) is delivered too.
#[cfg(not(any(eventsig_loom_mutant, eventsig_loom_hub_mutant)))]
#[test]
fn hub_senders_come_and_go_while_the_receiver_waits() {
    use eventsig::hub::HubDelivery;
    loom::model(|| {
        let (hub, mut rx) = eventsig::hub::builder()
            .capacity(1)
            .max_senders(2)
            .build::<u32>()
            .unwrap();
        let mut first = hub.add_sender().unwrap();
        first.send(1).unwrap();
        drop(first);
        let t = thread::spawn(move || {
            let mut second = hub.add_sender().unwrap();
            second.send(2).unwrap();
            // `second` and the factory are dropped here: the hub closes.
        });
        let mut log: Vec<(usize, Option<u32>)> = Vec::new();
        loop {
            let closed = rx.is_closed();
            let before = log.len();
            for (id, d) in rx.drain() {
                match d {
                    HubDelivery::Event(v) => log.push((id.index(), Some(v))),
                    HubDelivery::Closed => log.push((id.index(), None)),
                    HubDelivery::Lost { .. } => panic!("nothing is dropped"),
                }
            }
            if closed && log.len() == before {
                break;
            }
            assert!(rx.wait(None).unwrap());
        }
        assert!(rx.is_finished());
        assert_eq!(log.len(), 4, "{log:?}");
        for v in [1, 2] {
            let at = log.iter().position(|e| e.1 == Some(v)).unwrap();
            let slot = log[at].0;
            assert!(
                log[at + 1..].contains(&(slot, None)),
                "event {v} before its sender's Closed: {log:?}"
            );
        }
        t.join().unwrap();
    });
}

/// (h4) The epoll path with two rings: a consumer that drains once per
/// readiness and sleeps on the fd (level-triggered) until it has both
/// events; a drain that yielded keeps the fd readable, an empty one parks.
#[cfg(not(any(eventsig_loom_mutant, eventsig_loom_hub_mutant)))]
#[test]
fn hub_epoll_consumer_is_woken_for_every_ring() {
    use eventsig::hub::HubDelivery;
    loom::model(|| {
        let (hub, mut rx) = eventsig::hub::builder()
            .capacity(1)
            .max_senders(2)
            .build::<u32>()
            .unwrap();
        rx.loom_expose();
        let (mut a, mut b) = (hub.add_sender().unwrap(), hub.add_sender().unwrap());
        let ta = thread::spawn(move || {
            a.send(1).unwrap();
            a
        });
        b.send(2).unwrap();
        let mut got = 0;
        loop {
            for (_, d) in rx.drain() {
                match d {
                    HubDelivery::Event(_) => got += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            if got == 2 {
                break;
            }
            rx.loom_sleep_on_fd();
        }
        let s = rx.stats();
        assert!(s.doorbell_writes <= s.parks, "{s}");
        drop((ta.join().unwrap(), b, hub));
    });
}

/// (h5) A sender sends twice and is dropped while the receiver drains: the
/// receiver may have the ring active (the second send then announces
/// nothing) and see the close before the second event; it must still
/// deliver both events before `Closed`, and finish.
#[cfg(not(any(eventsig_loom_mutant, eventsig_loom_hub_mutant)))]
#[test]
fn hub_removal_comes_after_the_senders_last_event() {
    use eventsig::hub::HubDelivery;
    loom::model(|| {
        let (hub, mut rx) = eventsig::hub::builder()
            .capacity(2)
            .max_senders(1)
            .build::<u32>()
            .unwrap();
        let mut tx = hub.add_sender().unwrap();
        drop(hub);
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        let mut log = Vec::new();
        while log.last() != Some(&HubDelivery::Closed) {
            log.extend(rx.drain().map(|(_, d)| d));
            if log.last() != Some(&HubDelivery::Closed) {
                assert!(rx.wait(None).unwrap());
            }
        }
        assert_eq!(
            log,
            [
                HubDelivery::Event(1),
                HubDelivery::Event(2),
                HubDelivery::Closed
            ]
        );
        t.join().unwrap();
        assert!(rx.is_finished());
    });
}
