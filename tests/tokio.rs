//! The tokio path (feature `tokio`): `eventsig::tokio::AsyncReceiver` on a
//! current-thread and on a multi-thread runtime, with producers on plain OS
//! threads. S3 (order), S6/S7 (gaps in place, conservation), S9 (no lost
//! wake-up: a task blocked in `wait`, `recv` or the stream is woken for
//! whatever becomes pending) and S11 (the close ends `recv` and the stream).
//!
//! No sleep synchronises anything. Every await that needs a wake-up runs
//! under `tokio::time::timeout`, so a lost wake-up fails the test instead of
//! hanging it; the OS threads wait on bounded `recv_timeout`s and give up when
//! the task is gone.

#![cfg(feature = "tokio")]

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use eventsig::tokio::AsyncReceiver;
use eventsig::{Delivery, Sender, Signal, SignalSet};
use futures_core::Stream;
use tokio::runtime::{Builder, Runtime};
use tokio::time::timeout;

/// Timeout of every await and every OS-thread hand-off: reaching it means a
/// wake-up was lost.
const LONG: Duration = Duration::from_secs(10);

/// Ping-pong rounds: each one sends the consumer to sleep (or racing towards
/// it) once more.
const ROUNDS: u64 = 2000;

/// How long a wait must stay pending to count as "not woken" (for a
/// blocked signal): a negative check, bounded; a wrong wake-up comes in
/// microseconds.
const SHORT: Duration = Duration::from_millis(50);

/// Every scenario runs on both runtime flavors, as a spawned task (which
/// also shows that the futures are `Send`).
macro_rules! on_both_runtimes {
    ($($scenario:ident),* $(,)?) => {
        mod current_thread {
            $(#[test]
            fn $scenario() {
                super::run(super::current_thread(), super::$scenario);
            })*
        }
        mod multi_thread {
            $(#[test]
            fn $scenario() {
                super::run(super::multi_thread(), super::$scenario);
            })*
        }
    };
}

on_both_runtimes!(
    events_arrive_in_order_and_close_ends_recv,
    gaps_are_delivered_in_place,
    flood_conserves_every_attempt,
    close_ends_the_stream,
    os_thread_wakes_a_blocked_task,
    ping_pong_recv,
    ping_pong_stream,
    ping_pong_wait_signals_and_events,
    pending_before_registration_after_a_passthrough,
    an_idle_poll_neither_spins_nor_wakes_itself,
    recv_does_not_spin_on_an_untaken_signal,
    blocked_signal_does_not_end_wait_until_unblocked,
    unblock_wakes_a_task_parked_in_poll_wait,
    values_and_counts_are_forwarded,
);

fn current_thread() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a multi-thread runtime")
}

fn run<Fut>(rt: Runtime, scenario: fn() -> Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    if let Err(e) = rt.block_on(async move { tokio::spawn(scenario()).await }) {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the scenario task failed: {e}"),
        }
    }
}

/// Awaits `fut` for at most [`LONG`]; running out is a lost wake-up.
async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(LONG, fut).await {
        Ok(out) => out,
        Err(_) => panic!("lost wake-up: {what} did not complete within {LONG:?}"),
    }
}

/// The stream's next item (there is no `StreamExt` among the dependencies).
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

/// Wraps a wait: its first poll must find nothing pending (`Pending`, with
/// the task's waker registered), and only then is `go` sent. Whatever the
/// peer does after `go` can reach the task only through a wake-up, because a
/// task is polled again only when woken.
struct PendingThenGo<F> {
    fut: F,
    go: Option<mpsc::Sender<()>>,
}

impl<F: Future + Unpin> Future for PendingThenGo<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = Pin::new(&mut self.fut).poll(cx);
        if let Some(go) = self.go.take() {
            assert!(out.is_pending(), "ready before anything was sent");
            // The peer may be gone if the test already failed elsewhere.
            let _ = go.send(());
        }
        out
    }
}

fn pending_then_go<F: Future + Unpin>(fut: F, go: &mpsc::Sender<()>) -> PendingThenGo<F> {
    PendingThenGo {
        fut,
        go: Some(go.clone()),
    }
}

fn sig(n: u64) -> Signal {
    Signal::new((n % 64) as u32).expect("n % 64 < 64")
}

/// Sends `value`, waiting (bounded, by yielding) for room: for tests that
/// want no gap.
fn send_with_room<T>(tx: &mut Sender<T>, value: T) {
    let deadline = Instant::now() + LONG;
    while tx.free_slots() == 0 {
        assert!(Instant::now() < deadline, "the consumer stopped draining");
        thread::yield_now();
    }
    tx.send(value)
        .expect("room was made and the receiver lives");
}

/// S3, S11: events sent before and after registration come out in order,
/// each once; once the sender is gone and all was delivered, `recv` says
/// `None`, and keeps saying it. The ring is small, so the task sleeps and is
/// woken many times.
async fn events_arrive_in_order_and_close_ends_recv() {
    const N: u64 = 20_000;
    let (mut tx, rx) = eventsig::channel::<u64>(8).unwrap();
    for i in 0..3 {
        tx.send(i).unwrap(); // before registration: no bell was rung for these
    }
    let mut rx = AsyncReceiver::new(rx).unwrap();
    let producer = thread::spawn(move || {
        for i in 3..N {
            send_with_room(&mut tx, i);
        }
    });
    for i in 0..N {
        assert_eq!(within("recv", rx.recv()).await, Some(Delivery::Event(i)));
    }
    assert_eq!(within("recv after close", rx.recv()).await, None);
    assert_eq!(within("recv after the end", rx.recv()).await, None);
    producer.join().unwrap();
    let stats = rx.stats();
    assert_eq!((stats.sent, stats.delivered, stats.dropped), (N, N, 0));
    assert!(rx.overflow().is_none());
}

/// S7, S8: a gap comes out exactly where it is, between the last event
/// accepted before the drops and the first after them; the overflow stays
/// set until acknowledged.
async fn gaps_are_delivered_in_place() {
    let (mut tx, rx) = eventsig::channel::<u64>(4).unwrap();
    for i in 0..10 {
        let _ = tx.send(i); // 0..4 accepted, 4..10 dropped
    }
    let mut rx = AsyncReceiver::new(rx).unwrap();
    for i in 0..4 {
        assert_eq!(within("recv", rx.recv()).await, Some(Delivery::Event(i)));
    }
    assert_eq!(
        within("recv the gap", rx.recv()).await,
        Some(Delivery::Lost { first: 4, count: 6 })
    );
    let ov = rx.overflow().expect("sticky after the drain");

    // Then a second gap, made while the task is blocked in `wait`: the task
    // looks only once the thread says it is done, so the ring is full.
    let (go_tx, go_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let producer = thread::spawn(move || {
        go_rx.recv_timeout(LONG).expect("the task went to sleep");
        for i in 10..16 {
            let _ = tx.send(i); // 10..14 accepted, 14 and 15 dropped
        }
        done_tx.send(()).unwrap();
    });
    within(
        "wait woken by the thread",
        pending_then_go(Box::pin(rx.wait()), &go_tx),
    )
    .await
    .unwrap();
    done_rx.recv_timeout(LONG).expect("the thread is done");
    for i in 10..14 {
        assert_eq!(within("recv", rx.recv()).await, Some(Delivery::Event(i)));
    }
    assert_eq!(
        within("recv the second gap", rx.recv()).await,
        Some(Delivery::Lost {
            first: 14,
            count: 2
        })
    );
    assert_eq!(within("recv after close", rx.recv()).await, None);
    producer.join().unwrap();

    rx.acknowledge(ov);
    assert_eq!(
        rx.overflow().map(|o| o.lost()),
        Some(2),
        "the later drops stay"
    );
    let ov = rx.overflow().unwrap();
    rx.acknowledge(ov);
    assert!(rx.overflow().is_none());
}

/// S6, S7: a producer flooding a small ring with no back-pressure; every
/// attempt comes out as an event or inside a gap, in sequence order.
async fn flood_conserves_every_attempt() {
    const N: u64 = 50_000;
    let (mut tx, rx) = eventsig::channel::<u64>(16).unwrap();
    let mut rx = AsyncReceiver::new(rx).unwrap();
    let producer = thread::spawn(move || {
        for i in 0..N {
            let _ = tx.send(i);
        }
    });
    let (mut next_seq, mut delivered, mut lost) = (0, 0, 0);
    while let Some(d) = within("recv in a flood", rx.recv()).await {
        match d {
            Delivery::Event(i) => {
                assert_eq!(i, next_seq, "an event out of place");
                next_seq += 1;
                delivered += 1;
            }
            Delivery::Lost { first, count } => {
                assert_eq!(first, next_seq, "a gap out of place");
                assert!(count > 0);
                next_seq += count;
                lost += count;
            }
        }
    }
    producer.join().unwrap();
    assert_eq!(next_seq, N);
    assert_eq!(delivered + lost, N);
    assert_eq!(rx.overflow().map_or(0, |o| o.lost()), lost);
}

/// S11 through the `Stream` impl: a task blocked in the stream is woken by
/// the close on another thread; what was sent before the close comes first;
/// a raiser alive keeps the channel open.
async fn close_ends_the_stream() {
    let (mut tx, rx) = eventsig::channel::<u32>(8).unwrap();
    let raiser = tx.raiser();
    let mut rx = AsyncReceiver::new(rx).unwrap();

    // Blocked, then an event and the sender's drop from a thread.
    let (go_tx, go_rx) = mpsc::channel();
    let producer = thread::spawn(move || {
        go_rx.recv_timeout(LONG).expect("the task went to sleep");
        tx.send(1).unwrap();
        tx.send(2).unwrap();
    });
    let first = within(
        "the stream woken by an event",
        pending_then_go(Box::pin(next(&mut rx)), &go_tx),
    )
    .await;
    assert_eq!(first, Some(Delivery::Event(1)));
    assert_eq!(
        within("the stream", next(&mut rx)).await,
        Some(Delivery::Event(2))
    );
    producer.join().unwrap();
    assert!(!rx.is_closed(), "the raiser still lives");

    // Blocked again: only the last producer handle's drop wakes it.
    let (go_tx, go_rx) = mpsc::channel();
    let closer = thread::spawn(move || {
        go_rx.recv_timeout(LONG).expect("the task went to sleep");
        drop(raiser);
    });
    let end = within(
        "the stream woken by the close",
        pending_then_go(Box::pin(next(&mut rx)), &go_tx),
    )
    .await;
    assert_eq!(end, None);
    assert_eq!(
        within("the stream after its end", next(&mut rx)).await,
        None
    );
    closer.join().unwrap();
}

/// S9 for each kind of news, one at a time, each reaching a task that is
/// known to be blocked (its wait returned `Pending` before the thread
/// acted): a signal wakes `wait` (100 times), an event wakes `wait` and
/// `recv`, and the close wakes `wait`. (A gap alone cannot wake a blocked
/// task: the ring is empty while it sleeps, so the first send is accepted;
/// `gaps_are_delivered_in_place` covers gaps made while it sleeps.)
async fn os_thread_wakes_a_blocked_task() {
    let (mut tx, rx) = eventsig::channel::<u64>(4).unwrap();
    let raiser = tx.raiser();
    let mut rx = AsyncReceiver::new(rx).unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (step_tx, step_rx) = mpsc::channel::<&'static str>();
    let producer = thread::spawn(move || {
        let go = || go_rx.recv_timeout(LONG).expect("the task went to sleep");
        let step = |s| step_tx.send(s).expect("the task is waiting for it");
        for round in 0..100 {
            go();
            raiser.raise(sig(round)).unwrap();
            step("signal");
        }
        go();
        tx.send(7).unwrap();
        step("event for wait");
        go();
        tx.send(8).unwrap();
        step("event for recv");
        go();
        drop((tx, raiser));
        step("close");
    });
    for round in 0..100 {
        within(
            "wait for a signal",
            pending_then_go(Box::pin(rx.wait()), &go_tx),
        )
        .await
        .unwrap();
        assert_eq!(step_rx.recv_timeout(LONG), Ok("signal"));
        assert!(rx.take_signals().contains(sig(round)));
    }

    within(
        "wait for an event",
        pending_then_go(Box::pin(rx.wait()), &go_tx),
    )
    .await
    .unwrap();
    assert_eq!(step_rx.recv_timeout(LONG), Ok("event for wait"));
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(7)));

    let got = within(
        "recv for an event",
        pending_then_go(Box::pin(rx.recv()), &go_tx),
    )
    .await;
    assert_eq!(step_rx.recv_timeout(LONG), Ok("event for recv"));
    assert_eq!(got, Some(Delivery::Event(8)));

    within(
        "wait for the close",
        pending_then_go(Box::pin(rx.wait()), &go_tx),
    )
    .await
    .unwrap();
    assert_eq!(step_rx.recv_timeout(LONG), Ok("close"));
    assert!(rx.is_closed());
    assert_eq!(within("recv after close", rx.recv()).await, None);
    producer.join().unwrap();
    assert!(
        rx.stats().doorbell_writes > 0,
        "the wake-ups went through the fd"
    );
}

/// The ping-pong tests' producer: a thread that sends round `n` once the
/// task has acknowledged round `n - 1` (and stops if the task is gone).
fn ping_pong_producer() -> (
    AsyncReceiver<u64>,
    mpsc::Sender<u64>,
    thread::JoinHandle<()>,
) {
    let (mut tx, rx) = eventsig::channel::<u64>(4).unwrap();
    let rx = AsyncReceiver::new(rx).unwrap();
    let (ack_tx, ack_rx) = mpsc::channel::<u64>();
    let producer = thread::spawn(move || {
        for round in 0..ROUNDS {
            tx.send(round).unwrap();
            if ack_rx.recv_timeout(LONG) != Ok(round) {
                return;
            }
        }
    });
    (rx, ack_tx, producer)
}

/// S9 under races: the thread sends the next event as soon as the task has
/// acknowledged the last one, while the task heads back to sleep in `recv`;
/// a wake-up lost in any round times the test out.
async fn ping_pong_recv() {
    let (mut rx, ack_tx, producer) = ping_pong_producer();
    for round in 0..ROUNDS {
        assert_eq!(
            within("recv (ping-pong)", rx.recv()).await,
            Some(Delivery::Event(round))
        );
        ack_tx.send(round).unwrap();
    }
    assert_eq!(within("recv after close", rx.recv()).await, None);
    producer.join().unwrap();
}

/// The same through the `Stream` impl.
async fn ping_pong_stream() {
    let (mut rx, ack_tx, producer) = ping_pong_producer();
    for round in 0..ROUNDS {
        assert_eq!(
            within("stream (ping-pong)", next(&mut rx)).await,
            Some(Delivery::Event(round))
        );
        ack_tx.send(round).unwrap();
    }
    assert_eq!(within("stream after close", next(&mut rx)).await, None);
    producer.join().unwrap();
}

/// S9 for `wait` under races, signals and events mixed: each round the
/// thread raises a signal (every round) and sends an event (every third
/// round); the task waits, takes the signals and drains, then acknowledges.
/// Signal-only rounds show that `wait` returns for a signal alone.
async fn ping_pong_wait_signals_and_events() {
    let (mut tx, rx) = eventsig::channel::<u64>(4).unwrap();
    let raiser = tx.raiser();
    let mut rx = AsyncReceiver::new(rx).unwrap();
    let (ack_tx, ack_rx) = mpsc::channel::<u64>();
    let producer = thread::spawn(move || {
        for round in 0..ROUNDS {
            raiser.raise(sig(round)).unwrap();
            if round % 3 == 0 {
                tx.send(round).unwrap();
            }
            if ack_rx.recv_timeout(LONG) != Ok(round) {
                return;
            }
        }
    });
    for round in 0..ROUNDS {
        // Until this round's news is all in (the signal and the event are
        // published one after the other, so `wait` may see only the first).
        let mut signals = SignalSet::default();
        let mut events = Vec::new();
        loop {
            within("wait (ping-pong)", rx.wait()).await.unwrap();
            signals |= rx.take_signals();
            events.extend(rx.drain());
            if signals.contains(sig(round)) && (round % 3 != 0 || !events.is_empty()) {
                break;
            }
        }
        assert_eq!(signals.len(), 1, "round {round}: {signals:?}");
        if round % 3 == 0 {
            assert_eq!(events, [Delivery::Event(round)]);
        } else {
            assert!(events.is_empty());
        }
        ack_tx.send(round).unwrap();
    }
    // The close wakes `wait` too, and then the channel is empty for good.
    within("wait for the close", rx.wait()).await.unwrap();
    producer.join().unwrap();
    assert!(rx.is_closed());
    assert!(rx.take_signals().is_empty());
    assert_eq!(rx.drain().count(), 0);
}

/// The first check before any await: events pending at registration rang
/// the fd once, and a `try_recv` before the first await read that write
/// away (on a current-thread runtime, before the reactor ever saw its edge).
/// `recv` and `wait` must still find the rest without a new wake-up.
async fn pending_before_registration_after_a_passthrough() {
    let (mut tx, rx) = eventsig::channel::<u64>(4).unwrap();
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    let mut rx = AsyncReceiver::new(rx).unwrap();
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(0)));
    assert_eq!(
        within("recv after a try_recv", rx.recv()).await,
        Some(Delivery::Event(1))
    );
    within("wait after a recv", rx.wait()).await.unwrap();
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(2)));
    drop(tx);
    assert_eq!(within("recv after close", rx.recv()).await, None);
}

/// Counts the wake-ups of a waker.
#[derive(Default)]
struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Relaxed: a counter read after the wake-up it counts was awaited.
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Readiness is cleared once a check finds nothing: with a stale readiness
/// (its write was for something already taken), a poll of `wait` or `recv`
/// returns `Pending` and does not wake its own task (a poll that kept the
/// stale readiness would loop until tokio's budget ran out and then have
/// itself woken: a busy loop). The waker it keeps is woken by the next send.
async fn an_idle_poll_neither_spins_nor_wakes_itself() {
    let (tx, rx) = eventsig::channel::<u64>(4).unwrap();
    let mut rx = AsyncReceiver::new(rx).unwrap();
    // One wake-up through the fd leaves tokio's readiness set...
    let (go_tx, go_rx) = mpsc::channel();
    let producer = thread::spawn(move || {
        let mut tx = tx;
        go_rx.recv_timeout(LONG).expect("the task went to sleep");
        tx.send(1).unwrap();
        tx
    });
    within(
        "wait woken by the thread",
        pending_then_go(Box::pin(rx.wait()), &go_tx),
    )
    .await
    .unwrap();
    let mut tx = producer.join().unwrap();
    // ...and taking the event makes it stale.
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(1)));

    let count = Arc::new(WakeCount::default());
    {
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        assert!(rx.poll_wait(&mut cx).is_pending());
        assert!(rx.poll_recv(&mut cx).is_pending());
    }
    // A poll that ran out of budget has its waker woken only when the
    // scheduler gets control back: give it back (nothing is sent meanwhile).
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        count.0.load(Ordering::Relaxed),
        0,
        "an idle poll woke its task"
    );

    tx.send(2).unwrap();
    within("the kept waker woken by a send", async {
        while count.0.load(Ordering::Relaxed) == 0 {
            tokio::task::yield_now().await; // lets the reactor run
        }
    })
    .await;
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(2)));
}

/// A signal left pending does not keep `recv` (which sees events only)
/// awake: its empty check parks for events, gaps and the close, so it does
/// not make the fd readable again for the signal (which would be a busy loop
/// through the reactor, one eventfd write per turn). An event still wakes it.
async fn recv_does_not_spin_on_an_untaken_signal() {
    let (mut tx, rx) = eventsig::channel::<u64>(4).unwrap();
    let mut rx = AsyncReceiver::new(rx).unwrap();
    tx.raise(sig(7)).unwrap();
    let count = Arc::new(WakeCount::default());
    let before = rx.stats();
    for _ in 0..3 {
        {
            let waker = Waker::from(Arc::clone(&count));
            let mut cx = Context::from_waker(&waker);
            assert!(rx.poll_recv(&mut cx).is_pending());
        }
        for _ in 0..3 {
            tokio::task::yield_now().await; // lets the reactor run
        }
    }
    let after = rx.stats();
    assert_eq!(
        (after.doorbell_writes, after.self_rings),
        (before.doorbell_writes, before.self_rings),
        "an empty recv rang the fd for the untaken signal"
    );
    assert_eq!(
        count.0.load(Ordering::Relaxed),
        0,
        "recv was woken for the signal"
    );
    tx.send(5).unwrap();
    let got = within("recv woken by a send", rx.recv()).await;
    assert_eq!(got, Some(Delivery::Event(5)));
    assert!(
        rx.take_signals().contains(sig(7)),
        "the signal is still there"
    );
}

/// The mask through the wrapper (`block`, `unblock`, `blocked`): a blocked
/// signal raised by an OS thread while the task waits does not end the wait
/// (and the takes leave it out); unblocked, the next `wait` returns for it
/// at once; an unblocked signal still wakes a wait while another stays
/// blocked.
async fn blocked_signal_does_not_end_wait_until_unblocked() {
    let (tick, stop) = (sig(1), sig(2));
    let (tx, rx) = eventsig::channel::<u64>(4).unwrap();
    let raiser = tx.raiser();
    let mut rx = AsyncReceiver::new(rx).unwrap();
    rx.block(SignalSet::from(tick));
    assert_eq!(rx.blocked(), SignalSet::from(tick));

    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (step_tx, step_rx) = mpsc::channel::<&'static str>();
    let producer = thread::spawn(move || {
        let go = || go_rx.recv_timeout(LONG).expect("the task went to sleep");
        go();
        raiser.raise(tick).unwrap();
        step_tx.send("blocked raise").unwrap();
        go();
        raiser.raise(tick).unwrap();
        raiser.raise(stop).unwrap();
        step_tx.send("unblocked raise").unwrap();
        drop(tx);
    });

    // The wait is pending when the thread raises the blocked signal, and
    // stays pending.
    let mut wait = Box::pin(rx.wait());
    let waited = timeout(SHORT, pending_then_go(&mut wait, &go_tx)).await;
    assert!(waited.is_err(), "wait returned for a blocked signal");
    assert_eq!(step_rx.recv_timeout(LONG), Ok("blocked raise"));
    // Raised before the wait below began: it must not return for it either.
    assert!(
        timeout(SHORT, &mut wait).await.is_err(),
        "wait returned for a blocked signal"
    );
    drop(wait);
    assert!(
        rx.pending_signals().is_empty(),
        "a blocked signal is hidden"
    );
    assert!(
        rx.take_signals().is_empty(),
        "a take reported a blocked signal"
    );

    // Unblocked: pending and visible, the next wait returns at once.
    rx.unblock(SignalSet::from(tick));
    assert!(rx.blocked().is_empty());
    within("wait after unblock", rx.wait()).await.unwrap();
    assert_eq!(rx.take_signals(), SignalSet::from(tick));

    // Blocked again: the unblocked `stop` wakes the wait; `tick` is left.
    rx.block(SignalSet::from(tick));
    within(
        "wait for an unblocked signal",
        pending_then_go(Box::pin(rx.wait()), &go_tx),
    )
    .await
    .unwrap();
    assert_eq!(step_rx.recv_timeout(LONG), Ok("unblocked raise"));
    producer.join().unwrap();
    assert_eq!(rx.take_signals(), SignalSet::from(stop));
    rx.unblock(SignalSet::ALL);
    assert_eq!(
        rx.take_signals(),
        SignalSet::from(tick),
        "kept while blocked"
    );
}

/// `unblock` between two polls of a hand-written future: the poll parked the
/// receiver and returned `Pending` with a blocked signal pending; the unblock
/// (`&mut self`, so no poll is running) makes the fd readable, so the waker
/// the poll left is woken without another poll.
async fn unblock_wakes_a_task_parked_in_poll_wait() {
    let tick = sig(9);
    let (tx, rx) = eventsig::channel::<u64>(4).unwrap();
    let mut rx = AsyncReceiver::new(rx).unwrap();
    rx.block(SignalSet::from(tick));
    tx.raise(tick).unwrap();
    let count = Arc::new(WakeCount::default());
    {
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        assert!(
            rx.poll_wait(&mut cx).is_pending(),
            "ready for a blocked signal"
        );
    }
    for _ in 0..3 {
        tokio::task::yield_now().await; // lets the reactor run
    }
    assert_eq!(
        count.0.load(Ordering::Relaxed),
        0,
        "woken for a blocked signal"
    );

    rx.unblock(SignalSet::from(tick));
    within("the kept waker woken by the unblock", async {
        while count.0.load(Ordering::Relaxed) == 0 {
            tokio::task::yield_now().await; // lets the reactor run
        }
    })
    .await;
    within("wait after unblock", rx.wait()).await.unwrap();
    assert_eq!(rx.take_signals(), SignalSet::from(tick));
    drop(tx);
}

/// `take_signals_with` and `take_signals_counted` through the wrapper: the
/// latest values of signals raised with values by an OS thread (entries of
/// signals not taken left alone), and the raise counts of a counting
/// channel, accumulated while the signal was blocked.
async fn values_and_counts_are_forwarded() {
    let (balloon, plain) = (sig(4), sig(5));
    let (tx, rx) = eventsig::channel::<u64>(4).unwrap();
    let mut rx = AsyncReceiver::new(rx).unwrap();
    let raiser = tx.raiser();
    thread::spawn(move || {
        raiser.raise_with(balloon, 768).unwrap();
        raiser.raise_with(balloon, 512).unwrap();
        raiser.raise(plain).unwrap();
    })
    .join()
    .unwrap();
    within("wait for the values", rx.wait()).await.unwrap();
    let mut values = [Some(7); 64];
    let taken = rx.take_signals_with(&mut values);
    assert_eq!(taken, SignalSet::from(balloon) | plain);
    assert_eq!(
        (values[4], values[5], values[6]),
        (Some(512), None, Some(7))
    );
    drop(tx);

    const N: u32 = 37;
    let tick = sig(11);
    let (tx, rx) = eventsig::builder()
        .overrun_counts(true)
        .build::<u64>()
        .unwrap();
    let mut rx = AsyncReceiver::new(rx).unwrap();
    rx.block(SignalSet::from(tick));
    let raiser = tx.raiser();
    thread::spawn(move || {
        for _ in 0..N {
            raiser.raise(tick).unwrap();
        }
    })
    .join()
    .unwrap();
    assert!(rx.take_signals_counted().is_empty(), "blocked: not taken");
    rx.unblock(SignalSet::from(tick));
    within("wait for the counted signal", rx.wait())
        .await
        .unwrap();
    let taken = rx.take_signals_counted();
    assert_eq!(taken.signals(), SignalSet::from(tick));
    assert_eq!((taken.count(tick), taken.overruns(tick)), (N, N - 1));
    tx.raise(tick).unwrap();
    assert_eq!(
        rx.take_signals_counted().count(tick),
        1,
        "reset by the take"
    );
}

/// `AsyncReceiver` is `Send` for a `Send` payload (it moves into tasks); a
/// compile-fail doctest shows it is not `Sync`.
#[test]
fn async_receiver_is_send() {
    fn send<T: Send>() {}
    send::<AsyncReceiver<String>>();
}

/// `into_inner` gives back a working receiver with what was pending, which
/// can be waited on without tokio.
#[test]
fn into_inner_keeps_what_is_pending() {
    let rt = current_thread();
    let (mut tx, rx) = eventsig::channel::<u32>(4).unwrap();
    let rx = rt.block_on(async { AsyncReceiver::new(rx).unwrap() });
    tx.send(1).unwrap();
    tx.raise(sig(5)).unwrap();
    let mut rx = rt.block_on(async { rx.into_inner() });
    drop(rt);
    assert!(rx.take_signals().contains(sig(5)));
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(1)));
    let producer = thread::spawn(move || tx.send(2).unwrap());
    assert!(rx.wait(Some(LONG)).unwrap(), "a wake-up was lost");
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(2)));
    producer.join().unwrap();
}
