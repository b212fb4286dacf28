//! The signals layer (`PendingSignals`, `Signal`, `SignalSet`) and the
//! channel-level signal rules: S1 (a raised signal is never lost) and S2
//! (raises between two takes are reported once).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use eventsig::signals::PendingSignals;
use eventsig::{Delivery, SendError, Signal, SignalSet};

/// Iteration counts shrink under Miri, which is ~1000x slower.
const fn scaled(n: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        n
    }
}

fn sig(n: u32) -> Signal {
    Signal::new(n).expect("n < 64")
}

/// A tiny xorshift64 PRNG (no `rand` dependency).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

// ---------------------------------------------------------------------------
// S1: a raised signal is reported by a later take, whatever the ring holds.
// ---------------------------------------------------------------------------

#[test]
fn s01_raised_signal_survives_full_ring_and_flood() {
    let vm_stopped = sig(3);
    let migration = sig(40);
    let (mut tx, mut rx) = eventsig::channel::<u32>(4).unwrap();

    // Raised before the flood.
    tx.raise(migration).unwrap();
    let flood = scaled(10_000, 200) as u32;
    let mut refused = 0u32;
    for i in 0..flood {
        match tx.send(i) {
            Ok(()) => {}
            Err(SendError::Full(v)) => {
                assert_eq!(v, i);
                refused += 1;
            }
            Err(SendError::Closed(_)) => panic!("receiver is alive"),
        }
    }
    assert_eq!(refused, flood - 4);
    // Raised while the ring is full, then flooded over again.
    tx.raise(vm_stopped).unwrap();
    for i in 0..flood {
        assert!(tx.send(i).is_err(), "the ring stays full");
    }

    // Draining the events does not consume signals.
    let events = rx
        .drain()
        .filter(|d| matches!(d, Delivery::Event(_)))
        .count();
    assert_eq!(events, 4);
    let taken = rx.take_signals();
    assert_eq!(taken, SignalSet::from(vm_stopped) | migration);
    assert!(
        rx.take_signals().is_empty(),
        "a take leaves nothing pending"
    );
}

#[test]
fn s01_signal_is_reported_by_the_take_after_the_raise_each_time() {
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    let raiser = tx.raiser();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..scaled(5_000, 100) {
        let bits = rng.next();
        for s in SignalSet::from_bits(bits) {
            if bits & 1 == 0 {
                raiser.raise(s).unwrap();
            } else {
                tx.raise(s).unwrap();
            }
        }
        assert_eq!(rx.take_signals().bits(), bits);
        assert!(rx.pending_signals().is_empty());
    }
}

#[test]
fn s01_every_signal_number_round_trips() {
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    for n in 0..Signal::COUNT {
        tx.raise(sig(n)).unwrap();
        assert_eq!(rx.pending_signals().bits(), 1u64 << n);
        assert_eq!(rx.take_signals(), SignalSet::from(sig(n)));
    }
    for n in 0..Signal::COUNT {
        tx.raise(sig(n)).unwrap();
    }
    assert_eq!(rx.take_signals(), SignalSet::ALL);
}

#[test]
fn s01_signal_raised_by_dropped_producers_is_still_reported() {
    let (tx, mut rx) = eventsig::channel::<u8>(1).unwrap();
    let raiser = tx.raiser();
    raiser.raise(sig(7)).unwrap();
    tx.raise(sig(8)).unwrap();
    drop(raiser);
    drop(tx);
    assert!(rx.is_closed());
    assert_eq!(rx.take_signals(), SignalSet::from(sig(7)) | sig(8));
}

#[test]
fn s01_pending_signals_peek_does_not_take() {
    let p = PendingSignals::new();
    let s = sig(12);
    p.raise(s);
    for _ in 0..3 {
        assert_eq!(p.peek(), SignalSet::from(s));
    }
    assert_eq!(p.take(), SignalSet::from(s));
    assert!(p.peek().is_empty());
    assert!(p.take().is_empty());
}

/// N threads each raise their own signals many times through `Raiser` clones
/// while the consumer takes repeatedly. Every raise is reported by a later
/// take (S1), in particular every signal's last raise, and no take reports a
/// signal that was not raised since the previous take.
///
/// What the consumer can prove about the order of raises and takes: a thread
/// bumps `started[s]` before each raise of `s` and `finished[s]` after it
/// (both Release). Raises are Release RMWs on the pending word and takes are
/// Acquire RMWs on it, so:
///
/// - raise number `c` precedes take `j` if `finished[s] >= c` was loaded
///   before take `j` (the consumer's load, then its `swap`);
/// - raise number `c` follows take `j` if `started[s] < c` was loaded after
///   take `j` (had the raise preceded the `swap`, the `swap` would have
///   synchronised with it, and the load would see its `started` bump).
///
/// So if `finished` before take `j` exceeds `started` after take `j - 1`, a
/// raise lies between the two takes and take `j` must report the signal; if
/// take `j` reports it, `started` after take `j` must exceed `finished` before
/// take `j - 1`. The run is cut into phases (a barrier between them); at the
/// end of each phase the signal's last raise must have been reported by a
/// take no earlier than the first take that saw its final count.
#[test]
fn s01_threads_raise_own_signals_while_consumer_takes() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 6;
    const N_SIGNALS: usize = THREADS * PER_THREAD;
    let phases = scaled(1_000, 4);
    let raises_per_phase = scaled(500, 20);
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    let raiser = tx.raiser();
    drop(tx);
    let new_counters =
        || -> Arc<Vec<AtomicU64>> { Arc::new((0..N_SIGNALS).map(|_| AtomicU64::new(0)).collect()) };
    let (started, finished) = (new_counters(), new_counters());
    let done = Arc::new(AtomicUsize::new(0));
    let phase_start = Arc::new(Barrier::new(THREADS + 1));

    // Thread t owns signals 10*t .. 10*t + PER_THREAD; the other numbers are
    // never raised.
    let signal_of = |i: usize| sig((10 * (i / PER_THREAD) + i % PER_THREAD) as u32);
    let owned: SignalSet = (0..N_SIGNALS).map(signal_of).collect();

    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let raiser = raiser.clone();
            let (started, finished) = (Arc::clone(&started), Arc::clone(&finished));
            let done = Arc::clone(&done);
            let phase_start = Arc::clone(&phase_start);
            thread::spawn(move || {
                let mut rng = XorShift(0x1234_5678 + t as u64);
                let raise = |i: usize| {
                    // Release (both): see the test doc.
                    started[i].fetch_add(1, Ordering::Release);
                    raiser.raise(signal_of(i)).unwrap();
                    finished[i].fetch_add(1, Ordering::Release);
                };
                for _ in 0..phases {
                    phase_start.wait();
                    for _ in 0..raises_per_phase {
                        raise(t * PER_THREAD + (rng.next() % PER_THREAD as u64) as usize);
                    }
                    // Every owned signal is raised in every phase.
                    for k in 0..PER_THREAD {
                        raise(t * PER_THREAD + k);
                    }
                    // Release: this thread's raises happen before the
                    // consumer's Acquire load that counts it done.
                    done.fetch_add(1, Ordering::Release);
                }
            })
        })
        .collect();
    drop(raiser);

    // Per signal: `finished` loaded before the latest take and `started`
    // loaded after it; the index of the first take after which the current
    // `started` value was seen, and of the latest take that reported it.
    let mut fin_before = [0u64; N_SIGNALS];
    let mut start_after = [0u64; N_SIGNALS];
    let mut first_take_seeing = [0usize; N_SIGNALS];
    let mut last_report = [None::<usize>; N_SIGNALS];
    let mut take_index = 0usize;
    let mut take = |rx: &mut eventsig::Receiver<()>| {
        let mut fin_now = [0u64; N_SIGNALS];
        for (f, c) in fin_now.iter_mut().zip(finished.iter()) {
            // Acquire: pairs with the raisers' Release bump after a raise.
            *f = c.load(Ordering::Acquire);
        }
        let set = rx.take_signals();
        assert!(
            (set - owned).is_empty(),
            "take {take_index} reported signals nobody raised: {:?}",
            set - owned
        );
        for i in 0..N_SIGNALS {
            // Acquire: see the test doc.
            let start_now = started[i].load(Ordering::Acquire);
            let reported = set.contains(signal_of(i));
            if fin_now[i] > start_after[i] {
                assert!(
                    reported,
                    "take {take_index}: raise {} of {:?} finished after take {} \
                     and before this one, but this take did not report it",
                    fin_now[i],
                    signal_of(i),
                    take_index.wrapping_sub(1),
                );
            }
            if reported {
                assert!(
                    start_now > fin_before[i],
                    "take {take_index} reported {:?}, but no raise of it can \
                     have happened since the previous take",
                    signal_of(i),
                );
                last_report[i] = Some(take_index);
            }
            if start_now != start_after[i] {
                first_take_seeing[i] = take_index;
            }
            start_after[i] = start_now;
            fin_before[i] = fin_now[i];
        }
        take_index += 1;
        (last_report, first_take_seeing, start_after)
    };

    let deadline = Instant::now() + Duration::from_secs(60);
    for phase in 0..phases {
        phase_start.wait();
        // Acquire: pairs with the raisers' Release increments.
        while done.load(Ordering::Acquire) < THREADS * (phase + 1) {
            assert!(Instant::now() < deadline, "raisers did not finish in 60 s");
            take(&mut rx);
        }
        // Every raise of this phase happened before this take.
        let (last_report, first_take_seeing, start_after) = take(&mut rx);
        for i in 0..N_SIGNALS {
            assert_eq!(start_after[i], finished[i].load(Ordering::Relaxed));
            let reported = last_report[i]
                .unwrap_or_else(|| panic!("{:?} was raised but never reported", signal_of(i)));
            assert!(
                reported >= first_take_seeing[i],
                "phase {phase}: the last raise of {:?} came after take {}, \
                 but the last report was take {reported}",
                signal_of(i),
                first_take_seeing[i].wrapping_sub(1),
            );
        }
        assert!(rx.pending_signals().is_empty());
    }
    for h in handles {
        h.join().unwrap();
    }
    assert!(rx.is_closed());
    assert!(rx.take_signals().is_empty());
}

// ---------------------------------------------------------------------------
// S2: raises of one signal between two takes are reported once.
// ---------------------------------------------------------------------------

#[test]
fn s02_repeated_raises_coalesce_to_one_report() {
    let s = sig(5);
    let other = sig(6);
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    let raiser = tx.raiser();
    let k = scaled(1_000, 50);
    for i in 0..k {
        if i % 2 == 0 {
            tx.raise(s).unwrap();
        } else {
            raiser.raise(s).unwrap();
        }
    }
    let taken = rx.take_signals();
    assert_eq!(taken, SignalSet::from(s));
    assert_eq!(taken.len(), 1);
    assert!(!taken.contains(other));
    assert!(rx.take_signals().is_empty(), "reported once, not twice");
    assert_eq!(
        rx.stats().raised,
        1,
        "only the first of merged raises counts"
    );

    // The next window is independent: a raise after the take is reported again.
    for _ in 0..k {
        raiser.raise(s).unwrap();
    }
    assert_eq!(rx.take_signals(), SignalSet::from(s));
    assert_eq!(rx.stats().raised, 2);
}

#[test]
fn s02_pending_signals_raise_reports_only_the_first_of_merged_raises() {
    let p = PendingSignals::new();
    let a = sig(0);
    let b = sig(63);
    assert!(p.raise(a));
    for _ in 0..10 {
        assert!(!p.raise(a));
    }
    assert!(p.raise(b), "a different signal is newly pending");
    assert!(!p.raise(b));
    assert_eq!(p.take(), SignalSet::from(a) | b);
    assert!(p.raise(a), "after a take the signal is new again");
}

#[test]
fn s02_raises_from_many_threads_coalesce_to_one_report() {
    const THREADS: usize = 4;
    let k = scaled(10_000, 50);
    let s = sig(33);
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let r = tx.raiser();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                for _ in 0..k {
                    r.raise(s).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let taken = rx.take_signals();
    assert_eq!(taken.iter().collect::<Vec<_>>(), [s]);
    assert!(rx.take_signals().is_empty());
    assert_eq!(
        rx.stats().raised,
        1,
        "exactly one of {} raises found the signal clear",
        THREADS * k
    );
}

#[test]
fn s02_pending_signals_standalone_threads_coalesce() {
    const THREADS: usize = 3;
    let k = scaled(10_000, 50);
    let p = Arc::new(PendingSignals::new());
    let s = sig(17);
    let newly = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (p, newly, start) = (Arc::clone(&p), Arc::clone(&newly), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                for _ in 0..k {
                    if p.raise(s) {
                        newly.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(newly.load(Ordering::Relaxed), 1);
    assert_eq!(p.take(), SignalSet::from(s));
    assert!(p.take().is_empty());
}

#[test]
fn s01_s02_signals_are_independent_of_events() {
    // Signals and events share a channel but not a fate: taking signals does
    // not consume events and draining events does not consume signals.
    let (mut tx, mut rx) = eventsig::channel::<u8>(2).unwrap();
    let s = sig(1);
    tx.send(1).unwrap();
    tx.raise(s).unwrap();
    tx.send(2).unwrap();
    tx.raise(s).unwrap();
    assert_eq!(rx.take_signals(), SignalSet::from(s));
    let got: Vec<_> = rx.drain().collect();
    assert_eq!(got, [Delivery::Event(1), Delivery::Event(2)]);
    tx.raise(s).unwrap();
    assert_eq!(rx.try_recv(), Err(eventsig::TryRecvError::Empty));
    assert_eq!(rx.take_signals(), SignalSet::from(s));
}

// ---------------------------------------------------------------------------
// Signal and SignalSet as values.
// ---------------------------------------------------------------------------

#[test]
fn signal_new_accepts_exactly_0_to_63() {
    for n in 0..64 {
        assert_eq!(Signal::new(n).map(Signal::number), Ok(n));
    }
    for n in [64, 65, 100, 255, 256, u32::MAX] {
        assert_eq!(Signal::new(n).unwrap_err().number(), n);
    }
    assert_eq!(Signal::COUNT, 64);
}

#[test]
fn signal_debug_and_display() {
    assert_eq!(format!("{:?}", sig(3)), "Signal(3)");
    assert_eq!(sig(63).to_string(), "signal 63");
    assert!(sig(1) < sig(2));
    assert_eq!(sig(9), sig(9));
}

#[test]
fn signal_set_basic_queries() {
    assert!(SignalSet::EMPTY.is_empty());
    assert_eq!(SignalSet::EMPTY.len(), 0);
    assert_eq!(SignalSet::default(), SignalSet::EMPTY);
    assert_eq!(SignalSet::ALL.len(), 64);
    assert!(!SignalSet::ALL.is_empty());
    for n in 0..64 {
        assert!(SignalSet::ALL.contains(sig(n)));
        assert!(!SignalSet::EMPTY.contains(sig(n)));
        let one = SignalSet::from(sig(n));
        assert_eq!(one.bits(), 1 << n);
        assert_eq!(one.len(), 1);
        for m in 0..64 {
            assert_eq!(one.contains(sig(m)), m == n);
        }
    }
    let mut rng = XorShift(42);
    for _ in 0..scaled(1_000, 50) {
        let bits = rng.next() & rng.next();
        let set = SignalSet::from_bits(bits);
        assert_eq!(set.bits(), bits);
        assert_eq!(set.len(), bits.count_ones() as usize);
        assert_eq!(set.is_empty(), bits == 0);
    }
}

#[test]
fn signal_set_operations_match_bit_arithmetic() {
    let mut rng = XorShift(0xDEAD_BEEF);
    for _ in 0..scaled(2_000, 100) {
        let (x, y) = (rng.next(), rng.next() >> (rng.next() % 64));
        let (a, b) = (SignalSet::from_bits(x), SignalSet::from_bits(y));
        assert_eq!(a.union(b).bits(), x | y);
        assert_eq!((a | b).bits(), x | y);
        assert_eq!(a.intersection(b).bits(), x & y);
        assert_eq!((a & b).bits(), x & y);
        assert_eq!(a.difference(b).bits(), x & !y);
        assert_eq!((a - b).bits(), x & !y);
        let mut c = a;
        c |= b;
        assert_eq!(c.bits(), x | y);
        let s = sig((rng.next() % 64) as u32);
        let bit = 1u64 << s.number();
        assert_eq!(a.with(s).bits(), x | bit);
        assert_eq!((a | s).bits(), x | bit);
        assert_eq!(a.without(s).bits(), x & !bit);
        assert_eq!((a - s).bits(), x & !bit);
        assert!(a.with(s).contains(s));
        assert!(!a.without(s).contains(s));
    }
    // Algebraic identities.
    let a = SignalSet::from_bits(0xF0F0);
    assert_eq!(a | SignalSet::EMPTY, a);
    assert_eq!(a & SignalSet::ALL, a);
    assert_eq!(a - a, SignalSet::EMPTY);
    assert_eq!(SignalSet::ALL - a, SignalSet::from_bits(!0xF0F0));
}

#[test]
fn signal_set_iter_yields_members_in_increasing_order() {
    let mut rng = XorShift(7);
    let mut cases = vec![0, 1, 1 << 63, u64::MAX, 0x8000_0000_0000_0001];
    cases.extend((0..scaled(1_000, 50)).map(|_| rng.next() & rng.next()));
    for bits in cases {
        let set = SignalSet::from_bits(bits);
        let expected: Vec<u32> = (0..64).filter(|n| bits & (1 << n) != 0).collect();
        let got: Vec<u32> = set.iter().map(Signal::number).collect();
        assert_eq!(got, expected, "bits {bits:#x}");
        let via_into_iter: Vec<u32> = set.into_iter().map(Signal::number).collect();
        assert_eq!(via_into_iter, expected);
        // ExactSizeIterator: the hint is exact and shrinks as it goes.
        let mut it = set.iter();
        for left in (0..=expected.len()).rev() {
            assert_eq!(it.len(), left);
            assert_eq!(it.size_hint(), (left, Some(left)));
            let _ = it.next();
        }
        assert!(it.next().is_none());
        // Round trip through FromIterator.
        assert_eq!(set.iter().collect::<SignalSet>(), set);
    }
}

#[test]
fn signal_set_debug_format() {
    assert_eq!(format!("{:?}", SignalSet::EMPTY), "{}");
    assert_eq!(format!("{:?}", SignalSet::from(sig(0))), "{0}");
    assert_eq!(
        format!("{:?}", SignalSet::from(sig(63)) | sig(1) | sig(5)),
        "{1, 5, 63}"
    );
    let all = format!("{:?}", SignalSet::ALL);
    let expected = format!(
        "{{{}}}",
        (0..64)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(all, expected);

    let p = PendingSignals::new();
    p.raise(sig(3));
    p.raise(sig(10));
    assert_eq!(format!("{p:?}"), "PendingSignals { pending: {3, 10} }");
    assert_eq!(p.take().len(), 2, "Debug must not take");
}

#[test]
fn signal_set_is_small_and_copy() {
    fn assert_copy<T: Copy + Send + Sync>() {}
    assert_copy::<SignalSet>();
    assert_copy::<Signal>();
    assert_eq!(std::mem::size_of::<SignalSet>(), 8);
    assert_eq!(std::mem::size_of::<Signal>(), 1);
}

// ---------------------------------------------------------------------------
// Classes lost on overflow (`Builder::build_classified`, `Overflow::classes`).
// ---------------------------------------------------------------------------

/// The test's events: a payload and the class the classifier gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Classed {
    id: u64,
    class: Option<u32>,
}

/// A classified channel whose classifier counts its calls.
fn classified(
    capacity: usize,
) -> (
    eventsig::Sender<Classed>,
    eventsig::Receiver<Classed>,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let (tx, rx) = eventsig::builder()
        .capacity(capacity)
        .build_classified(move |ev: &Classed| {
            // Relaxed: a count read after the sends, on the same thread or
            // after a join.
            counter.fetch_add(1, Ordering::Relaxed);
            ev.class.map(sig)
        })
        .unwrap();
    (tx, rx, calls)
}

fn ev(id: u64, class: u32) -> Classed {
    Classed {
        id,
        class: Some(class),
    }
}

#[test]
fn classes_classifier_runs_on_refused_events_only() {
    let (mut tx, mut rx, calls) = classified(4);
    let rounds = scaled(1_000, 20) as u64;
    let mut refused = 0;
    for round in 0..rounds {
        for i in 0..4 {
            tx.send(ev(round * 10 + i, 1)).unwrap();
        }
        assert_eq!(calls.load(Ordering::Relaxed), refused, "accepted sends");
        if round % 3 == 0 {
            let back = tx.send(ev(round * 10 + 9, 2)).unwrap_err().into_inner();
            assert_eq!(back.id, round * 10 + 9, "the refused value comes back");
            refused += 1;
            assert_eq!(calls.load(Ordering::Relaxed), refused, "one call per drop");
        }
        assert_eq!(rx.drain().count(), 4 + usize::from(round % 3 == 0));
    }
    // send_iter stops at a full ring without dropping: no classification.
    let mut items = (0..10).map(|i| ev(i, 3));
    assert_eq!(tx.send_iter(&mut items), 4);
    assert_eq!(calls.load(Ordering::Relaxed), refused);
    assert_eq!(rx.stats().dropped, refused as u64);
}

#[test]
fn classes_a_drop_raises_its_class_once_per_take() {
    let (mut tx, mut rx, _) = classified(1);
    tx.send(ev(0, 1)).unwrap();
    for i in 1..=5 {
        assert!(tx.send(ev(i, 7)).is_err());
    }
    assert!(tx.send(Classed { id: 6, class: None }).is_err());
    // S1/S2 for the class: raised by the drops, reported once.
    assert_eq!(rx.take_signals(), SignalSet::from(sig(7)));
    assert!(rx.take_signals().is_empty());
    // A drop after the take raises it again.
    assert!(tx.send(ev(7, 7)).is_err());
    assert_eq!(rx.take_signals(), SignalSet::from(sig(7)));
    // The stream is unchanged: the gap stands where the drops were.
    let got: Vec<_> = rx.drain().collect();
    assert_eq!(
        got,
        [
            Delivery::Event(ev(0, 1)),
            Delivery::Lost { first: 1, count: 7 }
        ]
    );
}

#[test]
fn classes_overflow_lists_the_classes_lost_since_the_acknowledgement() {
    let (mut tx, mut rx, _) = classified(1);
    tx.send(ev(0, 1)).unwrap();
    assert!(rx.overflow().is_none());
    let _ = tx.send(ev(1, 4));
    let _ = tx.send(ev(2, 5));
    let _ = tx.send(Classed { id: 3, class: None });
    let ov = rx.overflow().unwrap();
    assert_eq!(
        (ov.lost(), ov.classes()),
        (3, SignalSet::from(sig(4)) | sig(5))
    );
    // Draining does not clear the classes (S8).
    assert_eq!(rx.drain().count(), 2);
    assert_eq!(rx.overflow(), Some(ov));
    rx.acknowledge(ov);
    assert!(rx.overflow().is_none());
    // A drop of class None alone: an overflow with no class.
    let _ = tx.send(Classed { id: 4, class: None });
    let _ = tx.send(Classed { id: 5, class: None });
    let ov = rx.overflow().unwrap();
    assert_eq!((ov.lost(), ov.classes()), (1, SignalSet::EMPTY));
    rx.acknowledge(ov);
    assert!(rx.overflow().is_none());
}

/// The S8 epoch rule for classes: an acknowledgement clears the classes of
/// the drops it saw, not those of drops after it was read, even when a
/// class it saw is dropped again.
#[test]
fn classes_acknowledge_clears_only_the_classes_it_saw() {
    let (mut tx, mut rx, _) = classified(1);
    tx.send(ev(0, 1)).unwrap();
    let _ = tx.send(ev(1, 4));
    let ov = rx.overflow().unwrap();
    assert_eq!(ov.classes(), SignalSet::from(sig(4)));
    let _ = tx.send(ev(2, 5)); // a new class after the read
    rx.acknowledge(ov);
    let ov = rx
        .overflow()
        .expect("a drop after the read keeps the condition");
    assert_eq!((ov.lost(), ov.classes()), (1, SignalSet::from(sig(5))));

    let _ = tx.send(ev(3, 5)); // the same class again after the read
    rx.acknowledge(ov);
    let ov = rx
        .overflow()
        .expect("a drop after the read keeps the condition");
    assert_eq!((ov.lost(), ov.classes()), (1, SignalSet::from(sig(5))));
    rx.acknowledge(ov);
    assert!(rx.overflow().is_none());

    // An acknowledgement from another channel clears nothing unseen here.
    let (mut tx2, rx2, _) = classified(1);
    tx2.send(ev(0, 1)).unwrap();
    for i in 1..10 {
        let _ = tx2.send(ev(i, 9));
    }
    let foreign = rx2.overflow().unwrap();
    let _ = tx.send(ev(4, 6));
    rx.acknowledge(foreign);
    assert!(rx.overflow().is_none(), "clamped to this channel's drops");
    let _ = tx.send(ev(5, 8));
    let ov = rx.overflow().unwrap();
    assert_eq!((ov.lost(), ov.classes()), (1, SignalSet::from(sig(8))));
}

#[test]
fn classes_plain_channel_overflow_has_no_classes() {
    let (mut tx, rx) = eventsig::channel::<u8>(1).unwrap();
    tx.send(0).unwrap();
    let _ = tx.send(1);
    let ov = rx.overflow().unwrap();
    assert_eq!((ov.lost(), ov.classes()), (1, SignalSet::EMPTY));
    assert!(format!("{tx:?}").contains("classified: false"));
}

/// A producer floods classified events while the consumer reads overflows,
/// re-polls and acknowledges concurrently. Every drop's class is listed by
/// the overflow whose acknowledgement covers the drop (no class is ever
/// cleared unseen), and what is left at the end lists exactly the classes
/// dropped after the last acknowledgement.
#[test]
fn classes_concurrent_drops_and_acknowledgements_never_hide_a_class() {
    const CLASSES: u64 = 6;
    let (mut tx, mut rx, _) = classified(8);
    let sends = scaled(200_000, 400) as u64;
    let producer = thread::spawn(move || {
        // The class of drop number k (1-based), as the producer saw it.
        let mut drop_classes = Vec::new();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for id in 0..sends {
            let class = (rng.next() % CLASSES) as u32;
            if tx.send(ev(id, class)).is_err() {
                drop_classes.push(class);
            }
        }
        (drop_classes, tx)
    });
    // Each acknowledged overflow: (drops acknowledged before it, lost, classes).
    let mut acks = Vec::new();
    let mut acked = 0u64;
    while !producer.is_finished() {
        rx.drain().for_each(drop);
        if let Some(ov) = rx.overflow() {
            acks.push((acked, ov.lost(), ov.classes()));
            acked += ov.lost();
            rx.acknowledge(ov);
        }
    }
    let (drop_classes, tx) = producer.join().unwrap();
    for &(before, lost, classes) in &acks {
        for k in before..before + lost {
            let class = sig(drop_classes[k as usize]);
            assert!(
                classes.contains(class),
                "drop {} of class {class:?} was acknowledged by an overflow \
                 listing only {classes:?}",
                k + 1
            );
        }
    }
    let left = rx.overflow();
    let unacked = &drop_classes[acked as usize..];
    assert_eq!(left.map_or(0, |o| o.lost()), unacked.len() as u64);
    let expected: SignalSet = unacked.iter().map(|&c| sig(c)).collect();
    assert_eq!(left.map_or(SignalSet::EMPTY, |o| o.classes()), expected);
    assert!(!drop_classes.is_empty(), "the ring overflowed");
    drop(tx);
}

// ---------------------------------------------------------------------------
// Overrun counts (`Builder::overrun_counts`, `Receiver::take_signals_counted`).
// ---------------------------------------------------------------------------

fn counted() -> (eventsig::Sender<u32>, eventsig::Receiver<u32>) {
    eventsig::builder()
        .capacity(4)
        .overrun_counts(true)
        .build()
        .unwrap()
}

#[test]
fn counts_report_the_raises_since_the_last_take() {
    let (tx, mut rx) = counted();
    let (tick, stop, idle) = (sig(1), sig(63), sig(30));
    for _ in 0..7 {
        tx.raise(tick).unwrap();
    }
    tx.raise(stop).unwrap();
    let taken = rx.take_signals_counted();
    assert_eq!(taken.signals(), SignalSet::from(tick) | stop);
    assert_eq!((taken.count(tick), taken.overruns(tick)), (7, 6));
    assert_eq!((taken.count(stop), taken.overruns(stop)), (1, 0));
    assert_eq!((taken.count(idle), taken.overruns(idle)), (0, 0));
    assert_eq!(
        taken.iter().collect::<Vec<_>>(),
        [(tick, 7), (stop, 1)],
        "in signal order"
    );
    // Counted from the last take on.
    assert!(rx.take_signals_counted().is_empty());
    tx.raise(tick).unwrap();
    tx.raise(tick).unwrap();
    assert_eq!(rx.take_signals_counted().count(tick), 2);
    // Stats count raises that made a signal pending, as without counts.
    assert_eq!(rx.stats().raised, 3);
}

/// Every take resets the counts of what it took, a plain `take_signals`
/// too (else a later counted take would report raises an earlier take had
/// already stood for), and loses no signal (S1).
#[test]
fn counts_a_plain_take_resets_them_and_loses_no_signal() {
    let (tx, mut rx) = counted();
    let s = sig(9);
    for round in 0..scaled(100, 5) {
        for _ in 0..=round % 3 {
            tx.raise(s).unwrap();
        }
        assert_eq!(rx.take_signals(), SignalSet::from(s), "round {round}: S1");
    }
    tx.raise(s).unwrap();
    assert_eq!(rx.take_signals_counted().count(s), 1);
}

#[test]
fn counts_off_every_signal_taken_counts_one() {
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    for _ in 0..5 {
        tx.raise(sig(2)).unwrap();
    }
    let taken = rx.take_signals_counted();
    assert_eq!(
        (taken.signals(), taken.count(sig(2))),
        (SignalSet::from(sig(2)), 1)
    );
    assert_eq!(taken.count(sig(3)), 0);
    assert!(format!("{:?}", eventsig::builder()).contains("overrun_counts: false"));
}

/// Drops on a classified channel with counts: the count of a class is the
/// number of its events dropped since the last take.
#[test]
fn counts_of_a_class_are_its_drops() {
    let (mut tx, mut rx) = eventsig::builder()
        .capacity(2)
        .overrun_counts(true)
        .build_classified(|v: &u32| Some(sig(v % 2)))
        .unwrap();
    for v in 0..12 {
        let _ = tx.send(v); // 0 and 1 accepted; 5 even and 5 odd dropped
    }
    let taken = rx.take_signals_counted();
    assert_eq!((taken.count(sig(0)), taken.count(sig(1))), (5, 5));
    assert_eq!(rx.overflow().map(|o| o.lost()), Some(10));
}

/// Raisers on several threads while the consumer takes with counts: every
/// raise is counted by exactly one take (the sum is the number of raises),
/// and a signal reported counts at least 1. The raisers wait half-way for a
/// take that found some of their raises, so the counts are always split
/// between takes made while raisers run (a loaded machine could otherwise
/// run every raiser to the end before the first take).
#[test]
fn counts_threads_every_raise_is_counted_exactly_once() {
    const THREADS: u32 = 4;
    let per_thread = scaled(50_000, 100) as u64;
    let (tx, mut rx) = counted();
    let start = Arc::new(Barrier::new(THREADS as usize + 1));
    let mid_take = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let raiser = tx.raiser();
            let start = Arc::clone(&start);
            let mid_take = Arc::clone(&mid_take);
            thread::spawn(move || {
                start.wait();
                for i in 0..per_thread {
                    if i == per_thread / 2 {
                        let deadline = Instant::now() + Duration::from_secs(30);
                        while !mid_take.load(Ordering::Acquire) {
                            assert!(Instant::now() < deadline, "no take half-way");
                            thread::yield_now();
                        }
                    }
                    // A signal of its own and one shared by all threads.
                    raiser.raise(sig(t)).unwrap();
                    if i % 2 == 0 {
                        raiser.raise(sig(40)).unwrap();
                    }
                }
            })
        })
        .collect();
    let mut totals = [0u64; 64];
    let mut add = |taken: eventsig::SignalCounts| {
        for (s, n) in taken.iter() {
            assert!(n >= 1, "{s:?} reported with count {n}");
            totals[s.number() as usize] += u64::from(n);
        }
        for n in 0..64 {
            assert_eq!(taken.count(sig(n)) > 0, taken.signals().contains(sig(n)));
        }
    };
    start.wait();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no raise arrived");
        let taken = rx.take_signals_counted();
        let found = !taken.is_empty();
        add(taken);
        if found {
            break;
        }
    }
    mid_take.store(true, Ordering::Release);
    let mut takes = 1u64;
    while handles.iter().any(|h| !h.is_finished()) {
        add(rx.take_signals_counted());
        takes += 1;
    }
    for h in handles {
        h.join().unwrap();
    }
    add(rx.take_signals_counted());
    for t in 0..THREADS {
        assert_eq!(totals[t as usize], per_thread, "signal {t}");
    }
    assert_eq!(totals[40], u64::from(THREADS) * per_thread.div_ceil(2));
    eprintln!("{takes} takes while raisers ran, then one after");
    assert!(rx.take_signals_counted().is_empty());
}

/// With counts, merged raises on a parked receiver still make no syscall:
/// one eventfd write per sleep (S10), and the fd wakes it (S9).
#[test]
#[cfg_attr(miri, ignore = "Miri does not model poll(2)")]
fn counts_merged_raises_ring_once_per_sleep() {
    let (tx, mut rx) = counted();
    rx.set_wait_spin(false);
    let raiser = tx.raiser();
    let waiter = thread::spawn(move || {
        assert!(rx.wait(Some(Duration::from_secs(10))).unwrap());
        rx
    });
    // Raise from here until the receiver is woken: a raise before it parked
    // also counts, and `wait` returns for it at once.
    let s = sig(12);
    let mut raises = 0u32;
    while !waiter.is_finished() {
        raiser.raise(s).unwrap();
        raises += 1;
        thread::yield_now();
    }
    let mut rx = waiter.join().unwrap();
    assert!(rx.stats().doorbell_writes <= 1, "{:?}", rx.stats());
    assert_eq!(rx.take_signals_counted().count(s), raises);
    drop(tx);
}

// ---------------------------------------------------------------------------
// `Stats::coalesced`: merged raises, counted by the takes of a channel that
// keeps overrun counts.
// ---------------------------------------------------------------------------

/// N raises of one signal between two takes: one made it pending
/// (`raised`), N - 1 merged (`coalesced`), whichever take takes it: a plain
/// `take_signals` and `take_signals_with` reset the counts too, so they must
/// add the merges they discard. Merges into a signal still pending are added
/// when it is taken.
#[test]
fn coalesced_n_raises_between_takes_count_n_minus_1() {
    let (tx, mut rx) = counted();
    let s = sig(6);
    let (mut raised, mut coalesced) = (0u64, 0u64);
    for n in 1..=12u64 {
        for _ in 0..n {
            tx.raise(s).unwrap();
        }
        assert_eq!(
            rx.stats().coalesced,
            Some(coalesced),
            "n = {n}: pending merges are added at the take"
        );
        let taken = match n % 3 {
            0 => rx.take_signals(),
            1 => rx.take_signals_counted().signals(),
            _ => rx.take_signals_with(&mut [None; 64]),
        };
        assert_eq!(taken, SignalSet::from(s), "n = {n}");
        raised += 1;
        coalesced += n - 1;
        let st = rx.stats();
        assert_eq!(
            (st.raised, st.coalesced),
            (raised, Some(coalesced)),
            "n = {n}"
        );
    }
    // A take that finds nothing adds nothing.
    assert!(rx.take_signals().is_empty());
    assert_eq!(rx.stats().coalesced, Some(coalesced));
}

/// Several signals at once, and a blocked one: each signal taken adds its
/// count minus one; a blocked signal's merges wait for the take after the
/// unblock.
#[test]
fn coalesced_several_signals_and_a_blocked_one() {
    let (tx, mut rx) = counted();
    let raiser = tx.raiser();
    let plan = [(sig(0), 3u64), (sig(17), 1), (sig(63), 5), (sig(40), 2)];
    for &(s, n) in &plan {
        for _ in 0..n {
            raiser.raise(s).unwrap();
        }
    }
    rx.take_signals_counted();
    let st = rx.stats();
    assert_eq!((st.raised, st.coalesced), (4, Some(2 + 4 + 1)));

    let blocked = sig(33);
    rx.block(SignalSet::from(blocked));
    for _ in 0..4 {
        tx.raise(blocked).unwrap();
    }
    tx.raise(sig(0)).unwrap();
    tx.raise(sig(0)).unwrap();
    assert_eq!(rx.take_signals(), SignalSet::from(sig(0)));
    let st = rx.stats();
    assert_eq!((st.raised, st.coalesced), (6, Some(8)), "{st}");
    rx.unblock(SignalSet::ALL);
    assert_eq!(rx.take_signals(), SignalSet::from(blocked));
    let st = rx.stats();
    assert_eq!((st.raised, st.coalesced), (6, Some(11)), "{st}");
    assert_eq!(st.raised + st.coalesced.unwrap(), 3 + 1 + 5 + 2 + 4 + 2);
}

/// Raisers on four threads while the consumer takes (plain and counted
/// takes mixed): once they are done and a final take has taken everything,
/// every raise either made its signal pending or merged:
/// `raised + coalesced` is the number of raises.
#[test]
fn coalesced_threads_raised_plus_coalesced_is_every_raise() {
    const THREADS: u32 = 4;
    let per_thread = scaled(50_000, 100) as u64;
    let (tx, mut rx) = counted();
    let start = Arc::new(Barrier::new(THREADS as usize + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let raiser = tx.raiser();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                for i in 0..per_thread {
                    // One shared signal, and every other time one of its own.
                    raiser.raise(sig(50)).unwrap();
                    if i % 2 == 0 {
                        raiser.raise(sig(t)).unwrap();
                    }
                }
            })
        })
        .collect();
    start.wait();
    let mut takes = 0u64;
    while handles.iter().any(|h| !h.is_finished()) {
        if takes % 2 == 0 {
            rx.take_signals();
        } else {
            rx.take_signals_counted();
        }
        takes += 1;
    }
    for h in handles {
        h.join().unwrap();
    }
    rx.take_signals();
    let st = rx.stats();
    let raises = u64::from(THREADS) * (per_thread + per_thread.div_ceil(2));
    assert_eq!(st.raised + st.coalesced.unwrap(), raises, "{st}");
    assert!(st.raised > u64::from(THREADS), "{st}");
    assert!(takes > 0);
}

/// Without overrun counts nothing is counted: `None`, and `Display` says so;
/// a hub keeps no counts either.
#[test]
fn coalesced_is_none_without_counts() {
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    for _ in 0..5 {
        tx.raise(sig(3)).unwrap();
    }
    rx.take_signals_counted();
    let st = rx.stats();
    assert_eq!((st.raised, st.coalesced), (1, None));
    assert!(st.to_string().contains("coalesced not counted"), "{st}");

    let (hub, mut hrx) = eventsig::hub::<()>(1).unwrap();
    let raiser = hub.raiser();
    raiser.raise(sig(3)).unwrap();
    raiser.raise(sig(3)).unwrap();
    hrx.take_signals();
    assert_eq!((hrx.stats().raised, hrx.stats().coalesced), (1, None));

    let (tx, mut rx) = counted();
    tx.raise(sig(3)).unwrap();
    tx.raise(sig(3)).unwrap();
    rx.take_signals();
    let st = rx.stats();
    assert!(st.to_string().contains("raised 1 coalesced 1 sent"), "{st}");
}

// ---------------------------------------------------------------------------
// The blocked-signal mask (`Receiver::block`, `unblock`, `blocked`).
// ---------------------------------------------------------------------------

/// Whether `fd` is readable now (`poll(2)`, no wait). Not called under
/// Miri, which does not model `poll(2)`.
fn fd_readable(fd: std::os::fd::RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    n == 1
}

#[test]
fn mask_blocked_signals_stay_pending_unreported_until_unblocked() {
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    let (a, b, c) = (sig(1), sig(2), sig(63));
    rx.block(SignalSet::from(a) | c);
    assert_eq!(rx.blocked(), SignalSet::from(a) | c);
    for _ in 0..3 {
        tx.raise(a).unwrap();
        tx.raise(b).unwrap();
    }
    assert_eq!(rx.pending_signals(), SignalSet::from(b));
    assert_eq!(rx.take_signals(), SignalSet::from(b));
    assert!(rx.take_signals().is_empty(), "a stays pending, unreported");
    assert!(rx.take_signals_counted().is_empty());
    assert_eq!(rx.stats().raised, 2, "the blocked raise made a pending");
    // Unblocking some of the mask; a blocked signal never raised is no news.
    rx.unblock(SignalSet::from(a) | b);
    assert_eq!(rx.blocked(), SignalSet::from(c));
    assert_eq!(rx.pending_signals(), SignalSet::from(a));
    assert_eq!(
        rx.take_signals(),
        SignalSet::from(a),
        "merged while blocked (S2)"
    );
    // Blocking a pending signal hides it until it is unblocked (S1).
    tx.raise(b).unwrap();
    rx.block(SignalSet::from(b));
    assert!(rx.take_signals().is_empty());
    rx.unblock(SignalSet::ALL);
    assert!(rx.blocked().is_empty());
    assert_eq!(rx.take_signals(), SignalSet::from(b));
    assert!(format!("{rx:?}").contains("blocked: {}"));
}

/// A raise of a blocked signal on a parked receiver writes nothing: the fd
/// stays quiet and `wait` times out; an unblocked one rings as usual.
#[test]
#[cfg_attr(miri, ignore = "Miri does not model poll(2)")]
fn mask_a_blocked_raise_makes_no_syscall_and_does_not_wake() {
    use std::os::fd::AsRawFd;
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    let s = sig(6);
    rx.block(SignalSet::from(s));
    let fd = rx.as_raw_fd(); // parks for an epoll caller
    let raiser = tx.raiser();
    thread::spawn(move || {
        for _ in 0..100 {
            raiser.raise(s).unwrap();
        }
    })
    .join()
    .unwrap();
    assert_eq!(
        rx.stats().doorbell_writes,
        0,
        "no write for a blocked signal"
    );
    assert!(!fd_readable(fd));
    assert!(!rx.wait(Some(Duration::from_millis(5))).unwrap());
    // An unblocked signal still rings the parked receiver.
    tx.raise(sig(7)).unwrap();
    assert_eq!(rx.stats().doorbell_writes, 1);
    assert!(fd_readable(fd));
    assert_eq!(rx.take_signals(), SignalSet::from(sig(7)));
}

/// Unblocking a pending signal makes the fd readable, whether the receiver
/// was parked for epoll (it parks again) or awake with the fd handed out.
#[test]
#[cfg_attr(miri, ignore = "Miri does not model poll(2)")]
fn mask_unblocking_a_pending_signal_makes_the_fd_readable() {
    use std::os::fd::AsRawFd;
    let (mut tx, mut rx) = eventsig::channel::<u32>(4).unwrap();
    let s = sig(6);
    rx.block(SignalSet::from(s));
    let fd = rx.as_raw_fd();
    tx.raise(s).unwrap();
    assert_eq!(rx.drain().count(), 0); // empty: parked again
    assert!(!fd_readable(fd));
    rx.unblock(SignalSet::from(s));
    assert!(fd_readable(fd), "parked receiver: unblock rings");
    assert_eq!(rx.take_signals(), SignalSet::from(s));
    assert_eq!(rx.drain().count(), 0); // the fd is read and parked again
    assert!(!fd_readable(fd));

    // Awake, fd handed out, not parked: a try_recv that got an event.
    rx.block(SignalSet::from(s));
    tx.raise(s).unwrap();
    tx.send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(1)));
    assert!(!fd_readable(fd));
    rx.unblock(SignalSet::from(s));
    assert!(
        fd_readable(fd),
        "awake receiver: unblock makes the fd readable"
    );
    assert_eq!(rx.take_signals(), SignalSet::from(s));

    // Unblocking what is not pending makes no noise.
    assert_eq!(rx.drain().count(), 0);
    assert!(!fd_readable(fd));
    rx.block(SignalSet::from(s));
    rx.unblock(SignalSet::from(s));
    assert!(!fd_readable(fd));
}

/// `wait` ignores blocked signals and returns once they are unblocked.
#[test]
#[cfg_attr(miri, ignore = "Miri does not model poll(2)")]
fn mask_wait_ignores_blocked_signals() {
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    let s = sig(40);
    rx.block(SignalSet::from(s));
    tx.raise(s).unwrap();
    assert!(!rx.wait(Some(Duration::from_millis(5))).unwrap());
    assert!(!rx.wait(Some(Duration::ZERO)).unwrap());
    rx.unblock(SignalSet::from(s));
    assert!(rx.wait(Some(Duration::ZERO)).unwrap());
    assert!(rx.wait(Some(Duration::from_secs(10))).unwrap());
    assert_eq!(rx.take_signals(), SignalSet::from(s));
}

/// The race of a raise against an unblock, with real threads, both for a
/// receiver that then blocks in `wait` and for one parked for epoll that
/// then sleeps in `poll(2)` on its fd: the raise is never lost, and the
/// sleep ends.
#[test]
#[cfg_attr(miri, ignore = "Miri does not model poll(2)")]
fn mask_a_raise_racing_with_unblock_is_never_lost() {
    use std::os::fd::AsRawFd;
    for exposed in [false, true] {
        let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
        rx.set_wait_spin(false);
        let fd = exposed.then(|| rx.as_raw_fd());
        let s = sig(3);
        let rounds = scaled(2_000, 10);
        let go = Arc::new(Barrier::new(2));
        let raiser = tx.raiser();
        let producer = {
            let go = Arc::clone(&go);
            thread::spawn(move || {
                for _ in 0..rounds {
                    go.wait();
                    raiser.raise(s).unwrap();
                    go.wait();
                }
            })
        };
        for round in 0..rounds {
            rx.block(SignalSet::from(s));
            if fd.is_some() {
                assert_eq!(rx.drain().count(), 0); // parked for epoll
            }
            go.wait();
            rx.unblock(SignalSet::from(s));
            let woke = match fd {
                None => rx.wait(Some(Duration::from_secs(10))).unwrap(),
                Some(fd) => {
                    let mut pfd = libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd; 10 s at most.
                    unsafe { libc::poll(&mut pfd, 1, 10_000) == 1 }
                }
            };
            assert!(woke, "round {round} (exposed: {exposed}): a lost wake-up");
            go.wait();
            assert_eq!(rx.take_signals(), SignalSet::from(s), "round {round}");
        }
        producer.join().unwrap();
        drop(tx);
    }
}

// ---------------------------------------------------------------------------
// Latest-value slots (`raise_with`, `Receiver::take_signals_with`).
// ---------------------------------------------------------------------------

#[test]
fn values_the_last_value_comes_with_the_signal() {
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    let raiser = tx.raiser();
    let (balloon, stopped, idle) = (sig(4), sig(3), sig(20));
    let mut values = [None; 64];
    values[idle.number() as usize] = Some(99);
    raiser.raise_with(balloon, 768).unwrap();
    tx.raise_with(balloon, 512).unwrap();
    tx.raise(stopped).unwrap();
    let taken = rx.take_signals_with(&mut values);
    assert_eq!(taken, SignalSet::from(balloon) | stopped, "merged (S2)");
    assert_eq!(values[4], Some(512), "the last value wins");
    assert_eq!(values[3], None, "never raised with a value");
    assert_eq!(
        values[20],
        Some(99),
        "entries not taken are left as they are"
    );
    // A plain raise keeps the latest value; a later value replaces it.
    tx.raise(balloon).unwrap();
    values[4] = None;
    assert_eq!(rx.take_signals_with(&mut values), SignalSet::from(balloon));
    assert_eq!(values[4], Some(512));
    raiser.raise_with(balloon, 0).unwrap();
    raiser.raise_with(stopped, u64::MAX).unwrap();
    rx.take_signals_with(&mut values);
    assert_eq!((values[4], values[3]), (Some(0), Some(u64::MAX)));
    // Nothing pending: nothing written.
    let before = values;
    assert!(rx.take_signals_with(&mut values).is_empty());
    assert_eq!(values, before);
    // Stats and the other takes see the raises as usual.
    raiser.raise_with(balloon, 1).unwrap();
    assert_eq!(rx.take_signals(), SignalSet::from(balloon));
    assert_eq!(rx.stats().raised, 6);
}

#[test]
fn values_with_the_mask_and_with_counts() {
    // Blocked: the values keep coming, the last one is reported on unblock.
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    let s = sig(9);
    rx.block(SignalSet::from(s));
    for v in 1..=5 {
        tx.raise_with(s, v).unwrap();
    }
    let mut values = [None; 64];
    assert!(rx.take_signals_with(&mut values).is_empty());
    assert_eq!(values[9], None);
    rx.unblock(SignalSet::from(s));
    assert_eq!(rx.take_signals_with(&mut values), SignalSet::from(s));
    assert_eq!(values[9], Some(5));

    // With counts: raise_with counts like raise; a merged raise's value is
    // published by its count.
    let (tx, mut rx) = counted();
    for v in 10..13 {
        tx.raise_with(s, v).unwrap();
    }
    assert_eq!(rx.take_signals_counted().count(s), 3);
    for v in 20..23 {
        tx.raise_with(s, v).unwrap();
    }
    assert_eq!(rx.take_signals_with(&mut values), SignalSet::from(s));
    assert_eq!(values[9], Some(22));
    tx.raise(s).unwrap();
    assert_eq!(
        rx.take_signals_counted().count(s),
        1,
        "reset by take_signals_with"
    );
}

#[test]
fn raises_of_every_kind_after_the_receiver_is_gone_are_closed() {
    let (tx, rx) = eventsig::channel::<()>(1).unwrap();
    let raiser = tx.raiser();
    drop(rx);
    assert_eq!(tx.raise_with(sig(1), 1), Err(eventsig::RaiseError::Closed));
    assert_eq!(
        raiser.raise_with(sig(1), 1),
        Err(eventsig::RaiseError::Closed)
    );
    // Also on the other raise paths: counts kept, signals blocked (S11).
    let (tx, mut rx) = counted();
    rx.block(SignalSet::from(sig(2)));
    tx.raise(sig(1)).unwrap();
    drop(rx);
    for s in [sig(1), sig(2), sig(3)] {
        assert_eq!(tx.raise(s), Err(eventsig::RaiseError::Closed));
        assert_eq!(tx.raise_with(s, 7), Err(eventsig::RaiseError::Closed));
    }
}

/// One raiser raises a signal with increasing values while the consumer
/// takes with values. `finished` is the last value whose `raise_with` had
/// returned, read before each take. A take that reports the signal reports a
/// value no older than that (so never older than the raise that made it
/// pending); reported values never go back; and when a raise finished after
/// the last report (its value is above the last reported one), the take
/// must report the signal (the latest value is never stranded).
#[test]
fn values_are_never_older_than_the_raise_that_made_the_signal_pending() {
    let (tx, mut rx) = eventsig::channel::<()>(1).unwrap();
    let raiser = tx.raiser();
    let s = sig(17);
    let raises = scaled(200_000, 300) as u64;
    let finished = Arc::new(AtomicU64::new(0));
    let producer = {
        let finished = Arc::clone(&finished);
        thread::spawn(move || {
            for v in 1..=raises {
                raiser.raise_with(s, v).unwrap();
                // Release: the raise happens before a consumer's Acquire
                // load that reads `v`.
                finished.store(v, Ordering::Release);
            }
        })
    };
    let mut values = [None; 64];
    let mut last = 0u64;
    let mut reports = 0u64;
    let mut check = |rx: &mut eventsig::Receiver<()>, last: &mut u64| {
        // Acquire: pairs with the producer's Release store.
        let done = finished.load(Ordering::Acquire);
        let taken = rx.take_signals_with(&mut values);
        if taken.contains(s) {
            let v = values[17].expect("raised with a value");
            assert!(v >= done, "value {v}, but raise {done} had finished");
            assert!(v >= *last, "value {v} after {last}");
            *last = v;
            reports += 1;
        } else {
            assert!(
                done <= *last,
                "raise {done} finished after the last report ({last}) but \
                 the take did not report the signal"
            );
        }
    };
    while !producer.is_finished() {
        check(&mut rx, &mut last);
    }
    producer.join().unwrap();
    check(&mut rx, &mut last);
    assert_eq!(last, raises, "the last value reached the consumer");
    assert!(reports > 0);
    drop(tx);
}
