//! The epoll path: a `Receiver` registered with mio 1.x (`mio::event::Source`,
//! edge-triggered under the hood) and with raw `epoll(7)` in `EPOLLET` mode.
//! S9 (the fd becomes readable for whatever becomes pending once the consumer
//! has seen the channel empty), S10 (one eventfd write per sleep, few per
//! event in a flood) and S11 (the close makes the fd readable).
//!
//! The consumer contract of an epoll user (see `src/channel.rs`): poll, take
//! the signals, then drain (or `try_recv`) until nothing is left; the drain's
//! end (or the empty `try_recv`) re-arms the doorbell.
//!
//! No sleep synchronises anything: every poll has a timeout, and reaching it
//! is a lost wake-up; every loop is bounded.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver as CbReceiver};
use crossbeam_utils::Backoff;
use eventsig::{Delivery, Raiser, Sender, SignalSet, TryRecvError};
use mio::{Interest, Token};

mod common;
use common::{
    assert_at_most_one_write_per_park, await_blocked_in, await_room, epoll_watching, gettid,
    scaled, sig, spawn, Deadline, Epoll, Joiner, Rng, Tracker,
};

/// Timeout of every blocking poll: reaching it means a wake-up was lost.
const LONG: Duration = Duration::from_secs(10);

/// Bound of every polling loop of one test.
const TEST_BUDGET: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Registration: handing the fd to epoll makes the receiver park where an
// epoll caller sleeps.
// ---------------------------------------------------------------------------

#[test]
fn s10_mio_register_makes_drains_arm_the_doorbell() {
    let (tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    assert_eq!(rx.drain().count(), 0);
    assert_eq!(rx.stats().parks, 0, "not registered: a drain does not park");
    let mut ep = Epoll::register(&mut rx);
    assert!(!ep.ready_now(), "nothing pending, nothing readable");
    let base = rx.stats().parks;
    assert_eq!(rx.drain().count(), 0);
    assert_eq!(
        rx.stats().parks,
        base + 1,
        "registered: the drain's end parks"
    );
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.stats().parks,
        base + 2,
        "registered: an empty try_recv parks"
    );
    tx.raise(sig(1)).unwrap();
    ep.expect_ready(LONG);
    assert_eq!(rx.take_signals(), SignalSet::from(sig(1)));

    // reregister / deregister delegate to the fd too.
    ep.poll
        .registry()
        .reregister(&mut rx, Token(7), Interest::READABLE)
        .unwrap();
    assert_eq!(rx.drain().count(), 0);
    tx.raise(sig(2)).unwrap();
    ep.poll.poll(&mut ep.events, Some(LONG)).unwrap();
    assert!(ep.events.iter().any(|e| e.token() == Token(7)));
    assert_eq!(rx.take_signals(), SignalSet::from(sig(2)));
    ep.poll.registry().deregister(&mut rx).unwrap();
    assert_eq!(rx.drain().count(), 0);
    tx.raise(sig(3)).unwrap();
    assert!(!ep.ready_now(), "deregistered: no readiness reported");
    assert_eq!(rx.take_signals(), SignalSet::from(sig(3)));
    assert_at_most_one_write_per_park(rx.stats());
}

/// Handing out the fd parks the receiver at once (the `AsFd` docs), so a
/// caller that goes to sleep right after registering, before any drain, is
/// woken by the first publication.
#[test]
fn s09_mio_poll_right_after_register_is_woken() {
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let mut ep = Epoll::register(&mut rx);
    tx.send(0).unwrap();
    ep.expect_ready(LONG);
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(0)));

    let (tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let mut ep = Epoll::register(&mut rx);
    tx.raise(sig(9)).unwrap();
    ep.expect_ready(LONG);
    assert_eq!(rx.take_signals(), SignalSet::from(sig(9)));

    let (tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let mut ep = Epoll::register(&mut rx);
    drop(tx);
    ep.expect_ready(LONG);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

// ---------------------------------------------------------------------------
// S9, deterministic: what happens between the drain and the next poll.
// ---------------------------------------------------------------------------

#[test]
fn s09_mio_signal_raised_between_drain_and_poll_wakes_the_poller() {
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let mut ep = Epoll::register(&mut rx);
    assert_eq!(rx.drain().count(), 0); // seen empty: armed
    assert!(!ep.ready_now());
    tx.raise(sig(3)).unwrap(); // between the drain and the poll
    ep.expect_ready(LONG);
    assert_eq!(rx.take_signals(), SignalSet::from(sig(3)));
    assert_eq!(rx.drain().count(), 0);
    assert!(
        !ep.ready_now(),
        "the wake-up was consumed: no stale readiness"
    );

    // The same with an event, and an empty try_recv as the arming call.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(0).unwrap();
    ep.expect_ready(LONG);
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(0)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!ep.ready_now());

    // A gap alone: a send dropped while a drain still holds the slots it
    // read (a drain frees them when it ends). The drain's snapshot predates
    // the drop; its end finds the gap pending and makes the fd readable.
    for i in 1..5 {
        tx.send(i).unwrap();
    }
    ep.expect_ready(LONG);
    let mut drain = rx.drain();
    for i in 1..5 {
        assert_eq!(drain.next(), Some(Delivery::Event(i)));
    }
    assert!(tx.send(5).is_err(), "the slots are not freed yet");
    assert_eq!(drain.next(), None);
    drop(drain);
    ep.expect_ready(LONG);
    assert_eq!(rx.try_recv(), Ok(Delivery::Lost { first: 5, count: 1 }));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!ep.ready_now());
    assert_at_most_one_write_per_park(rx.stats());
}

#[test]
fn s09_mio_publication_during_processing_keeps_the_fd_readable() {
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let mut ep = Epoll::register(&mut rx);
    assert_eq!(rx.drain().count(), 0);

    // A raise after the take, before the drain: the first raise claimed the
    // doorbell, so this one writes nothing; the drain's re-check finds it and
    // makes the fd readable again.
    tx.raise(sig(1)).unwrap();
    ep.expect_ready(LONG);
    assert_eq!(rx.take_signals(), SignalSet::from(sig(1)));
    tx.raise(sig(2)).unwrap();
    assert_eq!(rx.drain().count(), 0);
    ep.expect_ready(LONG);
    assert_eq!(rx.take_signals(), SignalSet::from(sig(2)));
    assert_eq!(rx.drain().count(), 0);
    assert!(!ep.ready_now());

    // An event sent while a drain is under way (after its snapshot).
    tx.send(10).unwrap();
    ep.expect_ready(LONG);
    let mut drain = rx.drain();
    assert_eq!(drain.next(), Some(Delivery::Event(10)));
    tx.send(11).unwrap();
    assert_eq!(drain.next(), None, "a drain ends at its snapshot");
    drop(drain);
    ep.expect_ready(LONG);
    assert_eq!(rx.drain().collect::<Vec<_>>(), [Delivery::Event(11)]);

    // A drain abandoned half-way leaves the fd readable for the rest.
    tx.send(12).unwrap();
    tx.send(13).unwrap();
    ep.expect_ready(LONG);
    assert_eq!(rx.drain().next(), Some(Delivery::Event(12)));
    ep.expect_ready(LONG);
    assert_eq!(rx.drain().collect::<Vec<_>>(), [Delivery::Event(13)]);
    // A drain that yielded something leaves the fd readable (no park); the
    // empty drain it brings back parks and clears the receiver's own write.
    ep.expect_ready(LONG);
    assert_eq!(rx.drain().count(), 0);
    assert!(!ep.ready_now());
    assert_at_most_one_write_per_park(rx.stats());
}

// ---------------------------------------------------------------------------
// S11: the close makes the fd readable.
// ---------------------------------------------------------------------------

#[test]
fn s11_mio_close_makes_the_fd_readable() {
    // The sender is the last producer.
    let (tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let mut ep = Epoll::register(&mut rx);
    assert_eq!(rx.drain().count(), 0);
    drop(tx);
    ep.expect_ready(LONG);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));

    // A raiser outlives the sender: only its drop closes.
    let (mut tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
    let raiser = tx.raiser();
    let mut ep = Epoll::register(&mut rx);
    assert_eq!(rx.drain().count(), 0);
    tx.send(0).unwrap();
    ep.expect_ready(LONG);
    assert_eq!(rx.drain().count(), 1);
    ep.expect_ready(LONG);
    assert_eq!(rx.drain().count(), 0);
    drop(tx);
    assert!(!ep.ready_now(), "a raiser keeps the channel open");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    drop(raiser);
    ep.expect_ready(LONG);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn s11_mio_close_wakes_a_blocked_poller() {
    for seed in 0..scaled(200, 4) {
        let (tx, mut rx) = eventsig::channel::<u64>(4).unwrap();
        let raiser = tx.raiser();
        let mut ep = Epoll::register(&mut rx);
        assert_eq!(rx.drain().count(), 0);
        let closer = spawn("closer", move || {
            let mut rng = Rng::new(seed);
            rng.spin(3_000);
            drop(tx);
            rng.spin(3_000);
            drop(raiser);
        });
        let deadline = Deadline::new(TEST_BUDGET);
        loop {
            deadline.check("the close");
            ep.expect_ready(LONG);
            if rx.try_recv() == Err(TryRecvError::Closed) {
                break;
            }
        }
        closer.join();
    }
}

// ---------------------------------------------------------------------------
// S9 in a poll loop, with a producer acting at random moments.
// ---------------------------------------------------------------------------

/// One round's work for the producer.
#[derive(Debug, Clone, Copy)]
enum Action {
    Send(u64),
    Raise,
    SendThenRaise(u64),
    /// More attempts than the ring holds: some may be dropped.
    Overflow,
}

const LOOP_CAP: usize = 4;

impl Action {
    fn pick(rng: &mut Rng) -> Action {
        match rng.below(4) {
            0 => Action::Send(1 + rng.below(3)),
            1 => Action::Raise,
            2 => Action::SendThenRaise(1 + rng.below(2)),
            _ => Action::Overflow,
        }
    }

    /// Send attempts of this action.
    fn attempts(self) -> u64 {
        match self {
            Action::Send(n) | Action::SendThenRaise(n) => n,
            Action::Raise => 0,
            Action::Overflow => LOOP_CAP as u64 + 3,
        }
    }

    fn raises(self) -> bool {
        matches!(self, Action::Raise | Action::SendThenRaise(_))
    }

    /// `rounds` actions drawn from seed `seed`.
    fn plan(seed: u64, rounds: u64) -> Vec<Action> {
        let mut rng = Rng::new(seed);
        (0..rounds).map(|_| Action::pick(&mut rng)).collect()
    }

    /// The signals round `round` leaves pending.
    fn signals(self, round: u64) -> SignalSet {
        if self.raises() {
            SignalSet::from(sig(round))
        } else {
            SignalSet::EMPTY
        }
    }
}

/// The producer of a poll loop: for each round of `plan`, waits for the go
/// (the round's number), then makes the round's send attempts (payload =
/// attempt number) and its raise, with `raiser` if given, else with `tx`,
/// stalling at random (seed `seed`). Its handles are dropped at the end:
/// the close.
fn spawn_producer(
    mut tx: Sender<u64>,
    raiser: Option<Raiser>,
    plan: Vec<Action>,
    seed: u64,
    go_rx: CbReceiver<u64>,
) -> Joiner<()> {
    spawn("producer", move || {
        let mut rng = Rng::new(seed);
        let mut seq = 0u64;
        for (round, action) in (0u64..).zip(plan) {
            assert_eq!(go_rx.recv_timeout(LONG).expect("the go"), round);
            rng.spin(3_000);
            for _ in 0..action.attempts() {
                let _ = tx.send(seq);
                seq += 1;
                rng.spin(300);
            }
            if action.raises() {
                match &raiser {
                    Some(raiser) => raiser.raise(sig(round)).unwrap(),
                    None => tx.raise(sig(round)).unwrap(),
                }
            }
        }
    })
}

#[test]
fn s09_mio_poll_loop_never_loses_a_wake_up() {
    let rounds = scaled(10_000, 20);
    let plan = Action::plan(9, rounds);
    let (tx, mut rx) = eventsig::channel::<u64>(LOOP_CAP).unwrap();
    let raiser = tx.raiser();
    let (go_tx, go_rx) = bounded::<u64>(1);
    // The producer raises with a `Raiser`: both its handles go at the end.
    let producer = spawn_producer(tx, Some(raiser), plan.clone(), 99, go_rx);

    let mut ep = Epoll::register(&mut rx);
    // Seen empty: from here on the fd must become readable for anything new.
    assert_eq!(rx.drain().count(), 0);
    let mut rng = Rng::new(999);
    let mut seen = Tracker::default();
    let mut attempts = 0u64;
    let deadline = Deadline::new(TEST_BUDGET);
    for (round, action) in (0u64..).zip(plan) {
        go_tx.send(round).expect("the producer is alive");
        rng.spin(3_000);
        attempts += action.attempts();
        let want = action.signals(round);
        let mut signals = SignalSet::EMPTY;
        loop {
            deadline.check("the round's deliveries");
            ep.expect_ready(LONG);
            signals |= rx.take_signals();
            seen.drain_until_empty(&mut rx, TEST_BUDGET);
            if seen.next == attempts && signals == want {
                break;
            }
        }
    }
    // The producer is gone or going: the close must wake us.
    loop {
        deadline.check("the close");
        ep.expect_ready(LONG);
        seen.drain_until_empty(&mut rx, TEST_BUDGET);
        if rx.try_recv() == Err(TryRecvError::Closed) {
            break;
        }
    }
    producer.join();
    assert_eq!(seen.events + seen.lost, attempts);
    assert!(rx.take_signals().is_empty());
    let stats = rx.stats();
    assert_eq!(stats.sent, attempts);
    assert_eq!(stats.dropped, seen.lost);
    eprintln!("poll loop: {rounds} rounds, {} wakes: {stats}", ep.wakes);
    assert_at_most_one_write_per_park(stats);
}

// ---------------------------------------------------------------------------
// S10 in epoll mode.
// ---------------------------------------------------------------------------

/// The system calls a thread blocked in mio's `Poll::poll` sits in.
const EPOLL_WAIT_SYSCALLS: [libc::c_long; 3] = [
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
];

/// The deterministic form: the producer publishes only once the consumer is
/// provably asleep in `epoll_wait(2)`, then a burst of sends and raises. Each
/// round costs exactly one eventfd write, whatever the burst size, and the
/// consumer parks once per round (its empty drain after the burst); the close at the
/// end costs one more write, for the last park.
#[test]
#[cfg_attr(miri, ignore = "reads /proc, which Miri does not emulate")]
fn s10_mio_exactly_one_doorbell_write_per_blocked_poll() {
    let rounds = 200u64;
    let burst = 8u64;
    let last = sig(63);
    let (mut tx, mut rx) = eventsig::channel::<u64>(burst as usize).unwrap();
    let raiser = tx.raiser();
    let (go_tx, go_rx) = bounded::<libc::pid_t>(1);
    let producer = spawn("producer", move || {
        for round in 0..rounds {
            let tid = go_rx.recv_timeout(LONG).expect("the consumer's go");
            await_blocked_in(
                tid,
                &EPOLL_WAIT_SYSCALLS,
                TEST_BUDGET,
                "the consumer blocking in epoll_wait(2)",
            );
            for i in 0..burst {
                tx.send(round * burst + i).unwrap();
                raiser.raise(sig(i)).unwrap();
            }
            // Raised last: seeing it pending means the whole burst is visible.
            raiser.raise(last).unwrap();
        }
    });
    let mut ep = Epoll::register(&mut rx);
    assert_eq!(rx.drain().count(), 0); // seen empty: parked
    let base_parks = rx.stats().parks;
    let tid = gettid();
    let deadline = Deadline::new(TEST_BUDGET);
    let mut seen = Tracker::default();
    for round in 0..rounds {
        go_tx.send(tid).expect("the producer is alive");
        ep.expect_ready(LONG);
        let backoff = Backoff::new();
        while !rx.pending_signals().contains(last) {
            deadline.check("the burst's last raise");
            backoff.snooze();
        }
        let want: SignalSet = (0..burst).map(sig).collect::<SignalSet>() | last;
        assert_eq!(rx.take_signals(), want);
        rx.drain().for_each(|d| seen.see(d));
        assert_eq!(
            seen.next,
            (round + 1) * burst,
            "the whole burst in one drain"
        );
        // That drain left the fd readable; the next one finds nothing and
        // parks before the next sleep.
        assert_eq!(rx.drain().count(), 0);
    }
    producer.join();
    // The producer's handles are gone: the close rings for the last park
    // (or the last drain's re-check saw it and rang itself).
    ep.expect_ready(LONG);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    let stats = rx.stats();
    assert_eq!(seen.lost, 0);
    assert_eq!(
        (stats.doorbell_writes, stats.parks - base_parks),
        (rounds + 1, rounds),
        "one write per sleep (the last one for the close), for {} publications per sleep: {stats}",
        2 * burst + 1
    );
    assert_eq!(ep.wakes, rounds + 1);
}

/// A flood of sends into an epoll consumer that drains in batches (one drain
/// per wake-up). A write is due only when the consumer parked at the end of
/// a drain and then finds (its own re-check: the self-ring) or is sent
/// something new: at most one per batch (exact, asserted), so writes per
/// event is one over the average batch size.
///
/// The batch size is set by scheduling, so the per-event figure is not
/// exact. Measured on this 2-core VM: ~0.003 per event in release, ~0.012 to
/// 0.017 in debug builds, and up to ~0.065 in debug with two CPU hogs running
/// (the two threads then alternate on one core, or the consumer keeps up and
/// every drain ends with a self-ring; writes == parks in every run). What
/// bounds it from below in every schedule: one batch costs the consumer at
/// least an `epoll_wait`, an eventfd read and a write, far longer than a few
/// sends. The bound asserted, 0.25 writes per event (batches of 4 on
/// average), holds with a wide margin under load and still fails a
/// write-per-event design by 4x; the design target (0.01) is for release
/// builds and is the benchmarks' to check. The figure is printed.
#[test]
fn s10_mio_flood_costs_few_doorbell_writes_per_event() {
    let n = scaled(100_000, 500);
    let (mut tx, mut rx) = eventsig::channel::<u64>(1024).unwrap();
    let mut ep = Epoll::register(&mut rx);
    assert_eq!(rx.drain().count(), 0);
    let producer = spawn("producer", move || {
        let deadline = Deadline::new(TEST_BUDGET);
        for i in 0..n {
            // Backpressure, so every event is delivered.
            await_room(&mut tx, &deadline);
            tx.send(i).unwrap();
        }
    });
    let deadline = Deadline::new(TEST_BUDGET);
    let mut seen = Tracker::default();
    let mut batches = 0u64;
    loop {
        deadline.check("the flood's close");
        ep.expect_ready(LONG);
        let _ = rx.take_signals();
        rx.drain().for_each(|d| seen.see(d));
        batches += 1;
        if seen.next == n && rx.try_recv() == Err(TryRecvError::Closed) {
            break;
        }
    }
    producer.join();
    let stats = rx.stats();
    assert_eq!((seen.events, seen.lost), (n, 0));
    assert_at_most_one_write_per_park(stats);
    let per_event = stats.doorbell_writes as f64 / n as f64;
    eprintln!(
        "flood: {} events, {batches} batches, {} doorbell writes ({per_event:.4}/event; target 0.01)",
        n, stats.doorbell_writes
    );
    assert!(
        per_event <= 0.25,
        "S10: {per_event:.4} doorbell writes per event in a flood: {stats}"
    );
}

// ---------------------------------------------------------------------------
// Raw epoll, edge-triggered: the drain-until-empty rule is enough.
// ---------------------------------------------------------------------------

/// An epoll instance with one fd registered `EPOLLIN | EPOLLET`.
struct EdgeEpoll {
    epfd: OwnedFd,
}

impl EdgeEpoll {
    fn new(fd: RawFd) -> EdgeEpoll {
        EdgeEpoll {
            epfd: epoll_watching(fd, libc::EPOLLIN | libc::EPOLLET, 7),
        }
    }

    /// Waits for the registered fd; panics after `timeout` (a lost wake-up).
    #[track_caller]
    fn expect_edge(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
            let mut ev = [libc::epoll_event { events: 0, u64: 0 }; 4];
            // SAFETY: `ev` has room for 4 events, as passed; the epoll fd is
            // open; the result is checked.
            let n = unsafe { libc::epoll_wait(self.epfd.as_raw_fd(), ev.as_mut_ptr(), 4, ms) };
            if n > 0 {
                let data = ev[0].u64;
                assert_eq!(data, 7);
                return;
            }
            if n < 0 {
                let err = std::io::Error::last_os_error();
                assert_eq!(
                    err.kind(),
                    std::io::ErrorKind::Interrupted,
                    "epoll_wait: {err}"
                );
            }
            assert!(
                !left.is_zero() && ms > 0,
                "lost wake-up (EPOLLET): no edge for {timeout:?}"
            );
        }
    }
}

#[test]
fn s09_raw_epoll_edge_triggered_drain_until_empty() {
    let rounds = scaled(400, 10);
    let plan = Action::plan(17, rounds);
    let (tx, mut rx) = eventsig::channel::<u64>(LOOP_CAP).unwrap();
    let (go_tx, go_rx) = bounded::<u64>(1);
    let producer = spawn_producer(tx, None, plan.clone(), 1717, go_rx);
    let ep = EdgeEpoll::new(rx.as_raw_fd());
    // Seen empty: from here on the fd must get an edge for anything new.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let mut rng = Rng::new(171717);
    let mut seen = Tracker::default();
    let mut attempts = 0u64;
    let mut closed = false;
    let deadline = Deadline::new(TEST_BUDGET);
    for (round, action) in (0u64..).zip(plan) {
        go_tx.send(round).expect("the producer is alive");
        rng.spin(3_000);
        attempts += action.attempts();
        let want = action.signals(round);
        let mut signals = SignalSet::EMPTY;
        loop {
            deadline.check("the round's deliveries");
            ep.expect_edge(LONG);
            signals |= rx.take_signals();
            // Drain until empty with try_recv: its `Empty` re-arms.
            loop {
                deadline.check("an empty try_recv");
                match rx.try_recv() {
                    Ok(d) => seen.see(d),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => {
                        // The producer's handle goes right after its last
                        // action; before that, a close is a bug.
                        assert_eq!(round + 1, rounds, "closed early");
                        // Everything was published before the close.
                        signals |= rx.take_signals();
                        closed = true;
                        break;
                    }
                }
            }
            if seen.next == attempts && signals == want {
                break;
            }
            assert!(!closed, "closed with the round incomplete");
        }
    }
    producer.join();
    if !closed {
        // The close gives an edge too.
        ep.expect_edge(LONG);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }
    assert_eq!(seen.events + seen.lost, attempts);
    assert_at_most_one_write_per_park(rx.stats());
}
