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
// The mutant builds leave out most models, and with them some helpers.
#![cfg_attr(
    any(eventsig_loom_mutant, eventsig_loom_hub_mutant),
    allow(dead_code, unused_imports)
)]

use eventsig::hub::{Hub, HubReceiver, HubSender};
use eventsig::{channel, ring, Delivery, Raiser, Receiver, Sender, Signal, Stats, TryRecvError};
use loom::thread::{self, JoinHandle};
use std::ops::Range;

fn sig(n: u32) -> Signal {
    Signal::new(n).unwrap()
}

/// A channel of capacity 1 with overrun counts on.
fn counted_channel() -> (Sender<u32>, Receiver<u32>) {
    eventsig::builder()
        .capacity(1)
        .overrun_counts(true)
        .build::<u32>()
        .unwrap()
}

/// Spawns a thread that sends each of `values` (every send must be
/// accepted) and hands the sender back, so the channel stays open: only the
/// sends may wake the receiver.
fn spawn_sends<T>(mut tx: Sender<T>, values: &'static [T]) -> JoinHandle<Sender<T>>
where
    T: Copy + Send + std::fmt::Debug + 'static,
{
    thread::spawn(move || {
        for &v in values {
            tx.send(v).unwrap();
        }
        tx
    })
}

/// Spawns a thread that raises each of `signals` once, in order, and hands
/// the raiser back.
fn spawn_raises(raiser: Raiser, signals: &'static [u32]) -> JoinHandle<Raiser> {
    thread::spawn(move || {
        for &n in signals {
            raiser.raise(sig(n)).unwrap();
        }
        raiser
    })
}

/// Spawns a thread that raises each `(signal, value)` of `raises` once, in
/// order, and hands the raiser back.
fn spawn_raises_with(raiser: Raiser, raises: &'static [(u32, u64)]) -> JoinHandle<Raiser> {
    thread::spawn(move || {
        for &(n, value) in raises {
            raiser.raise_with(sig(n), value).unwrap();
        }
        raiser
    })
}

/// S10: every doorbell write claimed a park.
#[track_caller]
fn assert_at_most_one_write_per_park(s: Stats) {
    assert!(s.doorbell_writes <= s.parks, "{s}");
}

/// Runs a model that must fail (a mutant) and returns its panic message.
#[cfg(any(eventsig_loom_mutant, eventsig_loom_hub_mutant))]
fn expect_model_failure(run: impl FnOnce() + std::panic::UnwindSafe, why: &str) -> String {
    let payload = std::panic::catch_unwind(run).expect_err(why);
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
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
            let (tx, mut rx) = channel::<u32>(1).unwrap();
            let producer = spawn_sends(tx, &[7]);
            assert!(rx.wait(None).unwrap());
            assert_eq!(rx.try_recv(), Ok(Delivery::Event(7)));
            drop(producer.join().unwrap());
        })
    };
    #[cfg(not(eventsig_loom_mutant))]
    run();
    #[cfg(eventsig_loom_mutant)]
    {
        let message = expect_model_failure(
            run,
            "loom must find the lost wake-up once the fence is gone",
        );
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
        let producer = spawn_raises(tx.raiser(), &[3]);
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
        let (tx, mut rx) = channel::<u32>(2).unwrap();
        rx.loom_expose();
        let producer = spawn_sends(tx, &[1, 2]);
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

/// (h) Classes lost on overflow: the sender records each refused event's
/// class while the receiver reads the overflow and acknowledges it. Every
/// class dropped is listed by the acknowledged overflow or by the one left
/// (an acknowledgement never clears a class it did not list), and the
/// classes are raised as signals.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn classified_acknowledge_never_clears_an_unseen_class() {
    loom::model(|| {
        let (mut tx, mut rx) = eventsig::builder()
            .capacity(1)
            .build_classified(|v: &u32| Some(sig(*v)))
            .unwrap();
        tx.send(0).unwrap();
        let producer = thread::spawn(move || {
            assert!(tx.send(1).is_err());
            assert!(tx.send(2).is_err());
            tx
        });
        let (mut lost, mut classes) = (0, eventsig::SignalSet::EMPTY);
        if let Some(ov) = rx.overflow() {
            // Each drop it counts has its class listed.
            assert!(ov.lost() <= ov.classes().len() as u64, "{ov:?}");
            lost += ov.lost();
            classes |= ov.classes();
            rx.acknowledge(ov);
        }
        let tx = producer.join().unwrap();
        if let Some(ov) = rx.overflow() {
            lost += ov.lost();
            classes |= ov.classes();
        }
        assert_eq!(lost, 2, "both drops seen exactly once");
        assert_eq!(classes, eventsig::SignalSet::from(sig(1)) | sig(2));
        assert_eq!(
            rx.take_signals(),
            eventsig::SignalSet::from(sig(1)) | sig(2)
        );
        drop(tx);
    });
}

/// (i) Overrun counts: two raisers raise one signal while the receiver
/// waits and takes with counts. Every take that reports the signal counts
/// at least 1, the counts add up to the raises (each counted by exactly one
/// take), and a raise that makes the signal pending after a take wakes the
/// receiver (a lost wake-up deadlocks).
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn overrun_counts_count_every_raise_once() {
    loom::model(|| {
        let (tx, mut rx) = counted_channel();
        let (r1, r2) = (tx.raiser(), tx.raiser());
        let a = spawn_raises(r1, &[1]);
        let b = spawn_raises(r2, &[1]);
        let mut total = 0;
        while total < 2 {
            assert!(rx.wait(None).unwrap());
            let taken = rx.take_signals_counted();
            for (s, n) in taken.iter() {
                assert_eq!(s, sig(1));
                assert!(n >= 1, "a report of count 0");
                total += n;
            }
        }
        assert_eq!(total, 2, "each raise counted once");
        drop((a.join().unwrap(), b.join().unwrap()));
        assert!(rx.take_signals_counted().is_empty());
        drop(tx);
    });
}

/// (j) The blocked mask: a raise of a blocked signal races with the
/// receiver unblocking it and then blocking in `wait`. Either the raise
/// sees the unblock (and rings) or the park's re-check sees the raise: the
/// receiver wakes (a lost wake-up deadlocks) and takes the signal. A raise
/// of a signal still blocked wakes nobody, so the blocked one raised too
/// must not be what `wait` returns for.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn unblock_racing_with_a_raise_wakes_a_waiting_receiver() {
    loom::model(|| {
        let (tx, mut rx) = channel::<u32>(1).unwrap();
        rx.block(eventsig::SignalSet::from(sig(1)) | sig(2));
        // Raises 2 (it stays blocked), then 1.
        let producer = spawn_raises(tx.raiser(), &[2, 1]);
        rx.unblock(eventsig::SignalSet::from(sig(1)));
        let mut seen = eventsig::SignalSet::EMPTY;
        while !seen.contains(sig(1)) {
            assert!(rx.wait(None).unwrap());
            seen |= rx.take_signals();
        }
        assert_eq!(seen, eventsig::SignalSet::from(sig(1)), "sig 2 is blocked");
        drop(producer.join().unwrap());
        rx.unblock(eventsig::SignalSet::ALL);
        assert_eq!(rx.take_signals(), eventsig::SignalSet::from(sig(2)));
        drop(tx);
    });
}

/// (j) The same race on the epoll path: the receiver is parked for an epoll
/// caller (its fd handed out) when it unblocks, and then sleeps on the fd
/// without parking again. `unblock` must park again, or a raise that saw
/// the old mask is stranded (loom reports the sleep as a deadlock).
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn unblock_racing_with_a_raise_wakes_an_epoll_consumer() {
    loom::model(|| {
        let (tx, mut rx) = channel::<u32>(1).unwrap();
        rx.block(eventsig::SignalSet::from(sig(1)));
        rx.loom_expose(); // parks
        let producer = spawn_raises(tx.raiser(), &[1]);
        rx.unblock(eventsig::SignalSet::from(sig(1)));
        let mut seen = eventsig::SignalSet::EMPTY;
        while !seen.contains(sig(1)) {
            rx.loom_sleep_on_fd();
            seen |= rx.take_signals();
            rx.drain().for_each(drop); // the epoll loop: take, drain (parks)
        }
        drop(producer.join().unwrap());
        drop(tx);
    });
}

/// (k) Latest values, one raiser: it raises a signal with 1, then with 2,
/// while the receiver takes with values; then the receiver takes once more.
/// A report always carries a value (the "has a value" bit is published with
/// it), reported values never go back, and the last one reported is 2: the
/// latest value is never stranded behind an older one.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn values_last_value_wins_from_one_raiser() {
    loom::model(|| {
        let (tx, mut rx) = channel::<u32>(1).unwrap();
        let producer = spawn_raises_with(tx.raiser(), &[(1, 1), (1, 2)]);
        let mut values = [None; 64];
        let mut last = 0;
        let mut check = |rx: &mut eventsig::Receiver<u32>, values: &mut [Option<u64>; 64]| {
            if rx.take_signals_with(values).contains(sig(1)) {
                let v = values[1].expect("a report carries its value");
                assert!(v >= last, "{v} after {last}");
                last = v;
            }
            last
        };
        check(&mut rx, &mut values);
        check(&mut rx, &mut values);
        drop(producer.join().unwrap());
        assert_eq!(check(&mut rx, &mut values), 2, "the last value reached us");
        drop(tx);
    });
}

/// (k) Latest values, two raisers at once and a take racing with them. The
/// final value of the slot (read after the join by a plain raise and a
/// take) is the value last reported before it: whichever store came last,
/// the receiver got it, never one that was overwritten.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn values_last_value_wins_from_two_raisers() {
    loom::model(|| {
        let (tx, mut rx) = channel::<u32>(1).unwrap();
        let (r1, r2) = (tx.raiser(), tx.raiser());
        let a = spawn_raises_with(r1, &[(1, 1)]);
        let b = spawn_raises_with(r2, &[(1, 2)]);
        let mut values = [None; 64];
        let mut last = None;
        if rx.take_signals_with(&mut values).contains(sig(1)) {
            last = values[1];
        }
        drop((a.join().unwrap(), b.join().unwrap()));
        if rx.take_signals_with(&mut values).contains(sig(1)) {
            last = values[1];
        }
        tx.raise(sig(1)).unwrap();
        assert!(rx.take_signals_with(&mut values).contains(sig(1)));
        assert!(matches!(values[1], Some(1 | 2)));
        assert_eq!(last, values[1], "the value last reported is the latest");
        drop(tx);
    });
}

/// (i) S13 with overrun counts and two raisers: a signal raised before a
/// send is visible no later than the event, even when another raiser's
/// raise of the same signal is still in flight (its count taken, its
/// pending bit not yet set): a raise that merges by its count must not
/// return before the bit is set.
#[cfg(not(eventsig_loom_mutant))]
#[test]
fn overrun_counts_keep_cross_class_order() {
    loom::model(|| {
        let (mut tx, mut rx) = counted_channel();
        let a = spawn_raises(tx.raiser(), &[1]);
        let b = thread::spawn(move || {
            tx.raise(sig(1)).unwrap();
            tx.send(9).unwrap();
            tx
        });
        let mut reported = 0;
        if let Ok(Delivery::Event(9)) = rx.try_recv() {
            let taken = rx.take_signals_counted();
            assert!(
                taken.signals().contains(sig(1)),
                "S13: raised before the send"
            );
            reported += taken.count(sig(1));
        }
        drop((a.join().unwrap(), b.join().unwrap()));
        reported += rx.take_signals_counted().count(sig(1));
        assert_eq!(reported, 2, "each raise counted once");
    });
}

// ---------------------------------------------------------------------------
// The hub (`src/hub/`): many SPSC rings, one receiver, one park flag.
// ---------------------------------------------------------------------------

/// A hub of `u32` events: rings of `capacity`, at most `max_senders`.
fn hub_of(capacity: usize, max_senders: usize) -> (Hub<u32>, HubReceiver<u32>) {
    eventsig::hub::builder()
        .capacity(capacity)
        .max_senders(max_senders)
        .build::<u32>()
        .unwrap()
}

/// Spawns a thread that sends `value` on `tx` and hands the sender back.
fn spawn_hub_send(mut tx: HubSender<u32>, value: u32) -> JoinHandle<HubSender<u32>> {
    thread::spawn(move || {
        tx.send(value).unwrap();
        tx
    })
}

/// Receives from a hub until `want` events have come; `wait(None)` between
/// passes (a lost wake-up is a deadlock). Returns the events in order of
/// delivery, with their senders' slots.
fn hub_collect(rx: &mut HubReceiver<u32>, want: usize) -> Vec<(usize, u32)> {
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
            let (hub, rx) = hub_of(2, 2);
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
        let message = expect_model_failure(run, "loom must find the lost wake-up of the ring");
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
        let (hub, mut rx) = hub_of(1, 2);
        let (a, b) = (hub.add_sender().unwrap(), hub.add_sender().unwrap());
        let ta = spawn_hub_send(a, 10);
        let tb = spawn_hub_send(b, 20);
        let mut got = hub_collect(&mut rx, 2);
        got.sort_unstable();
        assert_eq!(got, [(0, 10), (1, 20)]);
        assert_at_most_one_write_per_park(rx.stats());
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
        let (hub, mut rx) = hub_of(1, 2);
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
        let (hub, mut rx) = hub_of(1, 2);
        rx.loom_expose();
        let (a, mut b) = (hub.add_sender().unwrap(), hub.add_sender().unwrap());
        let ta = spawn_hub_send(a, 1);
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
        assert_at_most_one_write_per_park(rx.stats());
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
        let (hub, mut rx) = hub_of(2, 1);
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

// ---------------------------------------------------------------------------
// The drop-oldest ring (`eventsig::overwrite`): the producer evicts the
// oldest unread event with a compare-and-swap while the consumer claims
// events with one. Payloads are their sequence numbers, and count their
// drops, so every model checks the delivered stream (events in order, each
// `Lost` exactly where its attempts stood), conservation (S6), no leak and
// no double drop; loom checks every cell access for data races.
// ---------------------------------------------------------------------------

/// How many [`Tracked`] payloads have been dropped.
type Drops = loom::sync::Arc<loom::sync::atomic::AtomicUsize>;

/// A payload that knows its sequence number and counts its drops.
#[derive(Debug)]
struct Tracked {
    seq: u64,
    drops: Drops,
}

impl Tracked {
    fn new(seq: u64, drops: &Drops) -> Tracked {
        Tracked {
            seq,
            drops: drops.clone(),
        }
    }
}

/// A drop counter and a drop-oldest ring of `capacity` slots for
/// [`Tracked`] payloads.
fn tracked_ring(
    capacity: usize,
) -> (
    Drops,
    eventsig::overwrite::Producer<Tracked>,
    eventsig::overwrite::Consumer<Tracked>,
) {
    let drops = loom::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(0));
    let (tx, rx) = eventsig::overwrite::ring::<Tracked>(capacity).unwrap();
    (drops, tx, rx)
}

/// Pushes each of `seqs`, dropping whatever a push evicts.
fn push_all(tx: &mut eventsig::overwrite::Producer<Tracked>, seqs: Range<u64>, drops: &Drops) {
    for seq in seqs {
        drop(tx.push(Tracked::new(seq, drops)));
    }
}

/// Checks that `drops` counted `n` payloads dropped.
#[track_caller]
fn assert_dropped(drops: &Drops, n: usize) {
    assert_eq!(
        drops.load(loom::sync::atomic::Ordering::Relaxed),
        n,
        "each payload dropped exactly once"
    );
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
    /// Pops `tries` times, checking what comes.
    fn pop_some(&mut self, rx: &mut eventsig::overwrite::Consumer<Tracked>, tries: usize) {
        for _ in 0..tries {
            if let Some(d) = rx.pop() {
                self.see(d);
            }
        }
    }

    /// Pops until the ring is empty, checking what comes.
    fn pop_rest(&mut self, rx: &mut eventsig::overwrite::Consumer<Tracked>) {
        while let Some(d) = rx.pop() {
            self.see(d);
        }
    }

    /// Drains once, checking what comes.
    fn drain(&mut self, rx: &mut eventsig::overwrite::Consumer<Tracked>) {
        for d in rx.drain() {
            self.see(d);
        }
    }

    /// Every one of `attempts` attempts was delivered or reported lost.
    #[track_caller]
    fn assert_accounted(&self, attempts: u64) {
        assert_eq!(
            self.expected, attempts,
            "every attempt delivered or reported lost"
        );
    }

    /// The producer counted every gap.
    #[track_caller]
    fn assert_gaps_counted_by(&self, tx: &eventsig::overwrite::Producer<Tracked>) {
        assert_eq!(self.lost, tx.dropped(), "the producer counted every gap");
    }

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
        let (drops, mut tx, mut rx) = tracked_ring(1);
        let d = drops.clone();
        let producer = thread::spawn(move || {
            let mut evicted = 0;
            for seq in 0..3 {
                if let Some(old) = tx.push(Tracked::new(seq, &d)) {
                    assert!(old.seq < seq);
                    evicted += 1;
                }
            }
            assert_eq!(evicted, tx.dropped());
            tx
        });
        let mut check = StreamCheck::default();
        check.pop_some(&mut rx, 2);
        let tx = producer.join().unwrap();
        check.pop_rest(&mut rx);
        check.assert_accounted(3);
        assert_eq!(check.delivered + check.lost, 3, "S6");
        check.assert_gaps_counted_by(&tx);
        assert_eq!(rx.dropped(), check.lost);
        drop((tx, rx));
        assert_dropped(&drops, 3);
    });
}

/// (h) The mutant of the claim (a load and a store instead of the
/// compare-and-swap): loom must find the event owned twice.
#[cfg(eventsig_loom_mutant)]
#[test]
fn overwrite_claim_without_its_cas_is_caught() {
    let message = expect_model_failure(
        overwrite_claim_races_eviction_model,
        "loom must find the double ownership once the claim is not a CAS",
    );
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
            let (drops, mut tx, rx) = tracked_ring(cap);
            push_all(&mut tx, 0..before, &drops);
            let consumer = thread::spawn(move || {
                let mut rx = rx;
                let mut check = StreamCheck::default();
                check.pop_some(&mut rx, 2);
                (rx, check)
            });
            let total = before + 3;
            push_all(&mut tx, before..total, &drops);
            let (mut rx, mut check) = consumer.join().unwrap();
            check.pop_rest(&mut rx);
            check.assert_accounted(total);
            check.assert_gaps_counted_by(&tx);
            drop((tx, rx));
            assert_dropped(&drops, total as usize);
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
        let (drops, mut tx, mut rx) = tracked_ring(2);
        push_all(&mut tx, 0..1, &drops);
        let d = drops.clone();
        let producer = thread::spawn(move || {
            push_all(&mut tx, 1..4, &d);
            tx
        });
        let mut check = StreamCheck::default();
        check.drain(&mut rx);
        let tx = producer.join().unwrap();
        check.drain(&mut rx);
        check.assert_accounted(4);
        check.assert_gaps_counted_by(&tx);
        assert!(
            check.delivered >= 2,
            "the newest two survive: {}",
            check.delivered
        );
        drop((tx, rx));
        assert_dropped(&drops, 4);
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
        let (drops, mut tx, mut rx) = tracked_ring(1);
        push_all(&mut tx, 0..1, &drops);
        let d = drops.clone();
        let producer = thread::spawn(move || {
            let mut next = 1;
            for _ in 0..2 {
                let mut item = std::iter::once(Tracked::new(next, &d));
                next += tx.push_iter(&mut item) as u64;
            }
            (tx, next)
        });
        let mut check = StreamCheck::default();
        check.pop_some(&mut rx, 2);
        let (tx, pushed) = producer.join().unwrap();
        check.pop_rest(&mut rx);
        assert_eq!(tx.dropped(), 0, "push_iter evicted an event");
        assert_eq!((check.lost, check.delivered), (0, pushed));
        drop((tx, rx));
        // The items not taken were dropped in the producer thread.
        assert_dropped(&drops, 3);
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
        let producer = spawn_sends(tx, &[1]);
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
