//! The workloads of eventsig's comparisons, shared by the criterion benches
//! (`benches/throughput.rs`) and the quick report
//! (`examples/bench_report.rs`), so that both measure exactly the same code.
//!
//! Every cross-thread workload runs a producer (or the answering side) on
//! CPU 0 and the timed side on CPU 1, released together by a barrier, and
//! returns the timed side's wall time. Nothing here sleeps to synchronise:
//! spinning sides go through [`Stall`], which panics when the other side has
//! made no progress for [`WAIT_LIMIT`], and every blocking wait (eventfd,
//! epoll, mio, channel) has that timeout too, so a bug fails a run instead of
//! hanging it.
//!
//! Workloads (items are `u64`, rings hold [`CAPACITY`]):
//!
//! - `raise_*`: single-thread loops of `n` operations.
//! - `spsc_*`: `n` items from producer to consumer; the consumer busy-polls,
//!   the producer never overfills the ring (eventsig: `free_slots` credits or
//!   `send_iter`; the others retry a full push), so nothing is dropped and no
//!   syscall is made.
//! - `oldest_*`: the drop-oldest policy against the default (drop-newest)
//!   on the same workload: lossless single items as `spsc_*`; an
//!   overflowing flood (the producer never waits, the consumer drains until
//!   every attempt is accounted for); and pushes into a full ring with no
//!   consumer (refused vs evicting).
//! - `ping_pong_*`: `n` round trips between two threads that block between
//!   messages.
//! - `flood_*`: `n` events into a consumer that sleeps in epoll whenever it
//!   has caught up; returns the eventfd write count along with the time.

use std::hint::{black_box, spin_loop};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use eventsig::{Delivery, EventFd, Receiver, Sender, Signal, Stats, TryRecvError};
use mio::{Events, Interest, Poll, Token};

/// Ring capacity of every SPSC and flood case.
pub const CAPACITY: usize = 1024;
/// Longest any side waits for the other before the run fails.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// The signal every raise case raises.
pub fn signal() -> Signal {
    Signal::new(7).expect("7 < 64")
}

// ------------------------------------------------------------ threads, pins

/// Pins the calling thread to `cpu`; returns whether it worked (a machine
/// without that CPU leaves the thread unpinned: noisier figures, not wrong).
pub fn pin_to_cpu(cpu: usize) -> bool {
    let online = thread::available_parallelism().map_or(1, |n| n.get());
    if cpu >= online {
        return false;
    }
    // SAFETY: `cpu_set_t` is plain data for which all-zero is the empty set;
    // CPU_SET writes inside it (cpu < online <= CPU_SETSIZE here);
    // sched_setaffinity only reads it, and its return value is checked.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Run-queue wait of the workload threads of [`two_threads`], summed, in
/// nanoseconds: time a measured thread was ready to run while another task
/// had its CPU (on this shared machine, other people's builds and tests).
static WAITED_NS: AtomicU64 = AtomicU64::new(0);

/// Nanoseconds the calling thread has spent ready to run but waiting for a
/// CPU (the second field of `/proc/thread-self/schedstat`); 0 when the
/// kernel does not report it.
pub fn thread_runqueue_wait_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|f| f.parse().ok()))
        .unwrap_or(0)
}

/// How much of a run other tasks took: the run-queue wait of the calling
/// thread and of the threads [`two_threads`] ran for it, against the run's
/// wall time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stolen {
    /// Run-queue wait of the measured threads, summed.
    pub waited_ns: u64,
    /// Wall time of the run.
    pub wall_ns: u64,
}

impl Stolen {
    /// The run-queue wait as a share of the wall time (it can exceed 1:
    /// two threads can wait at once).
    pub fn share(&self) -> f64 {
        self.waited_ns as f64 / self.wall_ns.max(1) as f64
    }

    /// Whether other tasks took more than 5% of the run: a figure to
    /// distrust. On this machine, quiet, kernel threads and wake-up
    /// latencies take 1-3% of a spinning run (up to ~10% of a short
    /// blocking ping-pong); a busy one takes 30% and more.
    pub fn disturbed(&self) -> bool {
        self.share() > 0.05
    }
}

/// Runs `f` and measures how much of its time other tasks took.
pub fn stolen_during<T>(f: impl FnOnce() -> T) -> (T, Stolen) {
    let (all, own) = (WAITED_NS.load(Ordering::Relaxed), thread_runqueue_wait_ns());
    let t = Instant::now();
    let out = f();
    let wall_ns = t.elapsed().as_nanos() as u64;
    let waited_ns = WAITED_NS.load(Ordering::Relaxed) - all + thread_runqueue_wait_ns() - own;
    (out, Stolen { waited_ns, wall_ns })
}

/// Runs `f` up to `tries` times until a run is not disturbed by other tasks
/// ([`Stolen::disturbed`]); returns that run, or the least disturbed one,
/// with its [`Stolen`] and the number of runs made. On a quiet machine this
/// is one run.
pub fn least_disturbed<T>(tries: u32, mut f: impl FnMut() -> T) -> (T, Stolen, u32) {
    let (mut best, mut best_s) = stolen_during(&mut f);
    let mut runs = 1;
    while best_s.disturbed() && runs < tries {
        let (out, s) = stolen_during(&mut f);
        runs += 1;
        if s.share() < best_s.share() {
            (best, best_s) = (out, s);
        }
    }
    (best, best_s, runs)
}

/// Runs `background` on CPU 0 and `timed` on CPU 1, released together by a
/// barrier; returns how long `timed` took, and what it returned. Both
/// threads add their run-queue wait to [`stolen_during`]'s count.
pub fn two_threads<R: Send>(
    background: impl FnOnce() + Send,
    timed: impl FnOnce() -> R + Send,
) -> (Duration, R) {
    let start = Barrier::new(2);
    thread::scope(|s| {
        s.spawn(|| {
            pin_to_cpu(0);
            start.wait();
            let w = thread_runqueue_wait_ns();
            background();
            WAITED_NS.fetch_add(thread_runqueue_wait_ns() - w, Ordering::Relaxed);
        });
        let timed = s.spawn(|| {
            pin_to_cpu(1);
            start.wait();
            let w = thread_runqueue_wait_ns();
            let t = Instant::now();
            let r = timed();
            let elapsed = t.elapsed();
            WAITED_NS.fetch_add(thread_runqueue_wait_ns() - w, Ordering::Relaxed);
            (elapsed, r)
        });
        timed.join().expect("timed thread")
    })
}

/// A spinning side's watchdog: [`Stall::idle`] is one busy-wait step; every
/// 65536 steps it looks at the clock and panics if `progress` has not moved
/// for [`WAIT_LIMIT`]. It costs the hot path nothing but a counter.
pub struct Stall {
    what: &'static str,
    idle: u32,
    seen: u64,
    since: Option<Instant>,
}

impl Stall {
    /// A watchdog for the side named `what`.
    pub fn new(what: &'static str) -> Stall {
        Stall {
            what,
            idle: 0,
            seen: 0,
            since: None,
        }
    }

    /// One busy-wait step; `progress` is anything that moves when the other
    /// side does its part (items received, items sent).
    #[inline(always)]
    pub fn idle(&mut self, progress: u64) {
        spin_loop();
        self.idle = self.idle.wrapping_add(1);
        if self.idle & 0xFFFF == 0 {
            self.check(progress);
        }
    }

    #[cold]
    #[inline(never)]
    fn check(&mut self, progress: u64) {
        let now = Instant::now();
        match self.since {
            Some(t) if progress == self.seen => assert!(
                now.duration_since(t) < WAIT_LIMIT,
                "{}: no progress for {WAIT_LIMIT:?} (stuck at {progress})",
                self.what
            ),
            _ => {
                self.since = Some(now);
                self.seen = progress;
            }
        }
    }
}

/// Checks that a consumer got `0..n` (by their sum) and hides the sum from
/// the optimiser.
pub fn check_sum(sum: u64, n: u64) {
    // 0 + 1 + ... + (n - 1), modulo 2^64 like the consumers' wrapping sums.
    let expected = (u128::from(n) * u128::from(n.saturating_sub(1)) / 2) as u64;
    assert_eq!(black_box(sum), expected, "items lost or duplicated");
}

// ----------------------------------------------------- the workloads' loops
//
// The loops every SPSC side repeats, generic over the one operation that
// differs. They are `#[inline(always)]` and take the operation as an
// `impl FnMut`, so each use compiles to the loop it replaces, with the
// operation inlined into it (no dynamic call).

/// Pushes `0..n` through `push`, which hands an item back when the ring is
/// full; the item is retried after a [`Stall::idle`] step.
#[inline(always)]
pub fn produce_retrying(n: u64, what: &'static str, mut push: impl FnMut(u64) -> Result<(), u64>) {
    let mut stall = Stall::new(what);
    for i in 0..n {
        let mut v = i;
        while let Err(back) = push(v) {
            v = back;
            stall.idle(i);
        }
    }
}

/// Pushes `0..n` in batches: `push_from` pushes what fits from the items
/// left and returns how many it pushed (0: a [`Stall::idle`] step).
#[inline(always)]
pub fn produce_batches(
    n: u64,
    what: &'static str,
    mut push_from: impl FnMut(&mut std::ops::Range<u64>) -> usize,
) {
    let mut items = 0..n;
    let mut stall = Stall::new(what);
    while items.start < n {
        if push_from(&mut items) == 0 {
            stall.idle(items.start);
        }
    }
}

/// Sends `0..n` through `tx`, never more than it has room for: `free_slots`
/// gives the credits (an item sent after it said `k > 0` is accepted, as only
/// this side fills the ring), `send` sends one item.
#[inline(always)]
pub fn produce_with_credits<S>(
    n: u64,
    what: &'static str,
    tx: &mut S,
    mut free_slots: impl FnMut(&mut S) -> usize,
    mut send: impl FnMut(&mut S, u64),
) {
    let mut credit = 0;
    let mut stall = Stall::new(what);
    for i in 0..n {
        while credit == 0 {
            credit = free_slots(tx);
            if credit == 0 {
                stall.idle(i);
            }
        }
        send(tx, i);
        credit -= 1;
    }
}

/// Takes `n` items one at a time: `pop` returns the next one, or `None`
/// when none is ready (a [`Stall::idle`] step); checks their sum.
#[inline(always)]
pub fn consume_each(n: u64, what: &'static str, mut pop: impl FnMut() -> Option<u64>) {
    let (mut got, mut sum) = (0, 0u64);
    let mut stall = Stall::new(what);
    while got < n {
        match pop() {
            Some(v) => {
                sum = sum.wrapping_add(v);
                got += 1;
            }
            None => stall.idle(got),
        }
    }
    check_sum(sum, n);
}

/// Takes batches until `n` items are in: `take` takes what is ready, adds
/// it to the sum it is given, and returns how many it took (0: a
/// [`Stall::idle`] step). Returns the sum.
#[inline(always)]
pub fn consume_batches(n: u64, what: &'static str, mut take: impl FnMut(&mut u64) -> u64) -> u64 {
    let (mut got, mut sum) = (0, 0u64);
    let mut stall = Stall::new(what);
    while got < n {
        let took = take(&mut sum);
        got += took;
        if took == 0 {
            stall.idle(got);
        }
    }
    sum
}

// ------------------------------------------------------------------- raise

/// Times `n` calls of `op` (given the call's index) on this thread.
/// `#[inline(always)]`, with `op` an `impl FnMut`: each use compiles to the
/// loop it replaces, `op` inlined.
#[inline(always)]
pub fn time_n(n: u64, mut op: impl FnMut(u64)) -> Duration {
    let t = Instant::now();
    for i in 0..n {
        op(i);
    }
    t.elapsed()
}

/// `n` raises of a pending signal on a receiver that never parks.
pub fn raise_eventsig(n: u64) -> Duration {
    let (tx, _rx) = eventsig::channel::<()>(1).expect("channel");
    let s = signal();
    time_n(n, |_| {
        let _ = black_box(tx.raise(black_box(s)));
    })
}

/// `n` bare `fetch_or`s, the floor of a raise.
pub fn raise_fetch_or(n: u64) -> Duration {
    let word = AtomicU64::new(0);
    time_n(n, |_| {
        black_box(word.fetch_or(black_box(1 << 7), Ordering::Release));
    })
}

/// `n` eventfd writes through eventsig's own `EventFd`.
pub fn raise_eventfd_notify(n: u64) -> Duration {
    let efd = EventFd::new().expect("eventfd");
    time_n(n, |_| {
        let _ = black_box(efd.notify());
    })
}

/// `n` `mio::Waker::wake` calls (an eventfd write on Linux).
pub fn raise_mio_wake(n: u64) -> Duration {
    let poll = Poll::new().expect("mio poll");
    let waker = mio::Waker::new(poll.registry(), Token(1)).expect("mio waker");
    time_n(n, |_| {
        let _ = black_box(waker.wake());
    })
}

/// `n` pairs of take + raise: each raise makes the signal newly pending, the
/// path that also checks the park flag.
pub fn take_raise_eventsig(n: u64) -> Duration {
    let (tx, mut rx) = eventsig::channel::<()>(1).expect("channel");
    let s = signal();
    time_n(n, |_| {
        black_box(rx.take_signals());
        let _ = black_box(tx.raise(black_box(s)));
    })
}

/// `n` pairs of `swap(0)` + `fetch_or`, the floor of take + raise.
pub fn take_raise_atomic(n: u64) -> Duration {
    let word = AtomicU64::new(0);
    time_n(n, |_| {
        black_box(word.swap(0, Ordering::Acquire));
        black_box(word.fetch_or(black_box(1 << 7), Ordering::Release));
    })
}

/// `n` empty drains of a receiver; with `exposed`, its fd was handed out,
/// so each drain ends by parking (the heavy barrier of the wake-up
/// protocol: `membarrier(2)`, or a fence in the fallback mode). The other
/// CPU runs a spinning thread of this process meanwhile, as a producer
/// would, so that `membarrier` has a running thread to interrupt.
pub fn empty_drain(n: u64, exposed: bool) -> Duration {
    let (_tx, mut rx) = eventsig::channel::<u64>(CAPACITY).expect("channel");
    if exposed {
        black_box(rx.as_raw_fd());
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let (elapsed, ()) = two_threads(
        || {
            let mut stall = Stall::new("empty_drain spinner");
            while !done.load(Ordering::Relaxed) {
                stall.idle(0);
                // The timed side ends within a bounded number of drains;
                // the watchdog is for a panic there.
            }
        },
        || {
            for _ in 0..n {
                black_box(rx.drain().count());
            }
            done.store(true, Ordering::Relaxed);
        },
    );
    elapsed
}

// -------------------------------------------------------------------- SPSC

/// The result of an eventsig SPSC run: time, and the channel's counters.
pub type EventsigRun = (Duration, Stats);

/// Sends `0..n`, never more than the ring has room for: a send after
/// `free_slots() > 0` is accepted, and only this sender fills the ring.
pub fn eventsig_produce(tx: &mut Sender<u64>, n: u64) {
    produce_with_credits(n, "eventsig producer", tx, Sender::free_slots, |tx, i| {
        tx.send(i).expect("room was checked")
    });
}

/// eventsig single items: `send` (with credits) / `try_recv`.
pub fn spsc_eventsig_single(n: u64) -> EventsigRun {
    let (tx, mut rx) = eventsig::channel::<u64>(CAPACITY).expect("channel");
    two_threads(
        move || {
            let mut tx = tx;
            eventsig_produce(&mut tx, n);
        },
        move || {
            consume_each(n, "eventsig try_recv consumer", || match rx.try_recv() {
                Ok(Delivery::Event(v)) => Some(v),
                Err(TryRecvError::Empty) => None,
                other => panic!("unexpected {other:?}"),
            });
            rx.stats()
        },
    )
}

/// eventsig batches: `send_iter` / `drain`.
pub fn spsc_eventsig_batch(n: u64) -> EventsigRun {
    let (mut tx, mut rx) = eventsig::channel::<u64>(CAPACITY).expect("channel");
    two_threads(
        move || {
            produce_batches(n, "eventsig send_iter producer", |items| {
                tx.send_iter(items)
            })
        },
        move || {
            let sum = consume_batches(n, "eventsig drain consumer", |sum| {
                let mut got = 0;
                let mut drain = rx.drain();
                while let Some(run) = drain.next_run() {
                    match run {
                        eventsig::Run::Events(events) => {
                            got += events.len() as u64;
                            *sum = events.iter().fold(*sum, |s, &v| s.wrapping_add(v));
                        }
                        eventsig::Run::Lost { .. } => panic!("send_iter never drops"),
                    }
                }
                got
            });
            check_sum(sum, n);
            rx.stats()
        },
    )
}

fn rtrb_produce(mut tx: rtrb::Producer<u64>, n: u64) {
    produce_retrying(n, "rtrb producer", |v| {
        tx.push(v).map_err(|rtrb::PushError::Full(back)| back)
    });
}

/// rtrb single items: `push` / `pop`.
pub fn spsc_rtrb_single(n: u64) -> Duration {
    let (tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY);
    two_threads(
        move || rtrb_produce(tx, n),
        move || consume_each(n, "rtrb consumer", || rx.pop().ok()),
    )
    .0
}

/// rtrb chunks: `write_chunk_uninit` + `fill_from_iter` / `read_chunk`.
pub fn spsc_rtrb_chunk(n: u64) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY);
    two_threads(
        move || {
            produce_batches(n, "rtrb chunk producer", |items| {
                let room = tx.slots().min((n - items.start) as usize);
                if room == 0 {
                    return 0;
                }
                let chunk = tx.write_chunk_uninit(room).expect("room slots free");
                chunk.fill_from_iter(items)
            })
        },
        move || {
            let sum = consume_batches(n, "rtrb chunk consumer", |sum| {
                let ready = rx.slots();
                if ready == 0 {
                    return 0;
                }
                let chunk = rx.read_chunk(ready).expect("ready slots readable");
                let (a, b) = chunk.as_slices();
                *sum = a.iter().chain(b).fold(*sum, |s, &v| s.wrapping_add(v));
                chunk.commit_all();
                ready as u64
            });
            check_sum(sum, n);
        },
    )
    .0
}

/// ringbuf batches: `push_iter` / `as_slices` + `skip`.
pub fn spsc_ringbuf_batch(n: u64) -> Duration {
    use ringbuf::traits::{Consumer as _, Observer as _, Producer as _, Split as _};
    let (mut tx, mut rx) = ringbuf::HeapRb::<u64>::new(CAPACITY).split();
    two_threads(
        move || produce_batches(n, "ringbuf producer", |items| tx.push_iter(items)),
        move || {
            let sum = consume_batches(n, "ringbuf consumer", |sum| {
                let (a, b) = rx.as_slices();
                let ready = a.len() + b.len();
                if ready == 0 {
                    return 0;
                }
                *sum = a.iter().chain(b).fold(*sum, |s, &v| s.wrapping_add(v));
                rx.skip(ready);
                ready as u64
            });
            debug_assert!(rx.is_empty());
            check_sum(sum, n);
        },
    )
    .0
}

/// crossbeam-queue `ArrayQueue` (MPMC, fixed capacity): `push` / `pop`.
pub fn spsc_array_queue(n: u64) -> Duration {
    let q = crossbeam_queue::ArrayQueue::<u64>::new(CAPACITY);
    let q = &q;
    two_threads(
        move || produce_retrying(n, "ArrayQueue producer", |v| q.push(v)),
        move || consume_each(n, "ArrayQueue consumer", || q.pop()),
    )
    .0
}

/// crossbeam-channel `bounded(CAPACITY)`: `try_send` / `try_recv`, both
/// sides busy-polling like eventsig's.
pub fn spsc_crossbeam(n: u64) -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(CAPACITY);
    two_threads(
        move || {
            produce_retrying(n, "crossbeam producer", |v| match tx.try_send(v) {
                Ok(()) => Ok(()),
                Err(crossbeam_channel::TrySendError::Full(back)) => Err(back),
                Err(e) => panic!("crossbeam producer: {e}"),
            })
        },
        move || consume_each(n, "crossbeam consumer", || rx.try_recv().ok()),
    )
    .0
}

/// std `sync_channel(CAPACITY)`: `try_send` / `try_recv`, both sides
/// busy-polling.
pub fn spsc_std_sync_channel(n: u64) -> Duration {
    let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(CAPACITY);
    two_threads(
        move || {
            produce_retrying(n, "sync_channel producer", |v| match tx.try_send(v) {
                Ok(()) => Ok(()),
                Err(std::sync::mpsc::TrySendError::Full(back)) => Err(back),
                Err(e) => panic!("sync_channel producer: {e}"),
            })
        },
        move || consume_each(n, "sync_channel consumer", || rx.try_recv().ok()),
    )
    .0
}

// ------------------------------------------------------------ drop-oldest

/// The item of the drop-oldest workloads: a `u64` of its own type, so that
/// these workloads instantiate the channel's methods apart from the `u64`
/// ones of the `spsc_*` workloads (a second caller of `Receiver::<u64>::
/// try_recv` would change how the compiler inlines it there).
#[derive(Debug, Clone, Copy)]
pub struct Seq(pub u64);

/// A channel of [`CAPACITY`] with the given overflow policy.
fn channel_with(policy: eventsig::OverflowPolicy) -> (Sender<Seq>, Receiver<Seq>) {
    eventsig::builder()
        .capacity(CAPACITY)
        .overflow_policy(policy)
        .build()
        .expect("channel")
}

/// `spsc_eventsig_single` on a channel with `policy`: `send` with credits
/// (so nothing is dropped) / `try_recv`.
pub fn oldest_single(n: u64, policy: eventsig::OverflowPolicy) -> EventsigRun {
    let (tx, mut rx) = channel_with(policy);
    two_threads(
        move || {
            let mut tx = tx;
            produce_with_credits(
                n,
                "eventsig producer",
                &mut tx,
                Sender::free_slots,
                |tx, i| tx.send(Seq(i)).expect("room was checked"),
            );
        },
        move || {
            consume_each(n, "eventsig try_recv consumer", || match rx.try_recv() {
                Ok(Delivery::Event(Seq(v))) => Some(v),
                Err(TryRecvError::Empty) => None,
                other => panic!("unexpected {other:?}"),
            });
            rx.stats()
        },
    )
}

/// An overflowing flood on a channel with `policy`: the producer sends
/// `0..n` as fast as it can (drops allowed), the consumer drains (by runs)
/// until every attempt is delivered or reported lost. Returns the
/// consumer's time and the channel's counters.
pub fn oldest_flood(n: u64, policy: eventsig::OverflowPolicy) -> EventsigRun {
    let (tx, mut rx) = channel_with(policy);
    two_threads(
        move || {
            let mut tx = tx;
            for i in 0..n {
                let _ = black_box(tx.send(Seq(i)));
            }
        },
        move || {
            // Counts attempts (delivered or reported lost); no sum.
            consume_batches(n, "eventsig flood consumer", |_| {
                let mut accounted = 0;
                let mut drain = rx.drain();
                while let Some(run) = drain.next_run() {
                    match run {
                        eventsig::Run::Events(events) => {
                            black_box(&*events);
                            accounted += events.len() as u64;
                        }
                        eventsig::Run::Lost { count, .. } => accounted += count,
                    }
                }
                accounted
            });
            let s = rx.stats();
            assert_eq!(s.delivered + s.dropped, n, "S6");
            s
        },
    )
}

/// `n` pushes into a full default ring with no consumer: each is refused
/// and counted.
pub fn oldest_full_push_refused(n: u64) -> Duration {
    let (mut tx, _rx) = eventsig::ring::ring::<u64>(CAPACITY).expect("ring");
    for i in 0..CAPACITY as u64 {
        tx.push(i).expect("room");
    }
    time_n(n, |i| {
        let _ = black_box(tx.push(black_box(i)));
    })
}

/// `n` pushes into a full drop-oldest ring with no consumer: each evicts
/// the oldest event (a compare-and-swap) and hands it back.
pub fn oldest_full_push_evicting(n: u64) -> Duration {
    let (mut tx, _rx) = eventsig::overwrite::ring::<u64>(CAPACITY).expect("ring");
    for i in 0..CAPACITY as u64 {
        tx.push(i);
    }
    time_n(n, |i| {
        black_box(tx.push(black_box(i)));
    })
}

// ------------------------------------------------------------ raw eventfd

/// A nonblocking eventfd made with plain libc, for the raw baselines.
pub struct RawEventFd(OwnedFd);

impl RawEventFd {
    /// `eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)`.
    pub fn new() -> RawEventFd {
        // SAFETY: eventfd takes no pointer; the result is checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        assert!(fd >= 0, "eventfd: {}", io::Error::last_os_error());
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        RawEventFd(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Adds 1 to the counter (`write(2)`).
    #[inline]
    pub fn write(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: the buffer is 8 valid bytes, as eventfd requires; the fd
        // is owned by `self`; the result is checked below.
        let n = unsafe { libc::write(self.0.as_raw_fd(), one.as_ptr().cast(), 8) };
        // EAGAIN (counter full) cannot happen in these runs.
        assert_eq!(n, 8, "eventfd write: {}", io::Error::last_os_error());
    }

    /// Reads and resets the counter (`read(2)`); 0 when it was 0.
    #[inline]
    pub fn read(&self) -> u64 {
        let mut buf = [0u8; 8];
        // SAFETY: the buffer is 8 writable bytes; the fd is owned by `self`;
        // the result is checked below.
        let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        if n == 8 {
            return u64::from_ne_bytes(buf);
        }
        let e = io::Error::last_os_error();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "eventfd read: {e}");
        0
    }

    /// The descriptor, to register with epoll.
    pub fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl Default for RawEventFd {
    fn default() -> RawEventFd {
        RawEventFd::new()
    }
}

/// An epoll instance made with plain libc, level-triggered.
pub struct Epoll(OwnedFd);

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)` with `fd` registered for `EPOLLIN`.
    pub fn watching(fd: RawFd) -> Epoll {
        // SAFETY: epoll_create1 takes no pointer; the result is checked.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(ep >= 0, "epoll_create1: {}", io::Error::last_os_error());
        // SAFETY: `ep` is a fresh descriptor that nothing else owns.
        let ep = Epoll(unsafe { OwnedFd::from_raw_fd(ep) });
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 0,
        };
        // SAFETY: both fds are open; `ev` is a valid epoll_event that the
        // kernel only reads; the result is checked.
        let r = unsafe { libc::epoll_ctl(ep.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        assert_eq!(r, 0, "epoll_ctl: {}", io::Error::last_os_error());
        ep
    }

    /// Blocks until the fd is readable; panics after [`WAIT_LIMIT`].
    #[inline]
    pub fn wait(&self) {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        let ms = WAIT_LIMIT.as_millis() as libc::c_int;
        loop {
            // SAFETY: `ev` has room for the one event asked for; the fd is
            // open; the result is checked.
            let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), &mut ev, 1, ms) };
            if n > 0 {
                return;
            }
            let e = io::Error::last_os_error();
            assert!(n < 0, "epoll_wait: nothing within {WAIT_LIMIT:?}");
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "epoll_wait: {e}");
        }
    }
}

// --------------------------------------------------------------- ping-pong

/// The next event, blocking in `Receiver::wait` while there is none.
fn recv_wait(rx: &mut Receiver<u64>) -> u64 {
    loop {
        match rx.try_recv() {
            Ok(Delivery::Event(v)) => return v,
            Err(TryRecvError::Empty) => {
                let ready = rx.wait(Some(WAIT_LIMIT)).expect("poll(2)");
                assert!(ready, "no wake-up within {WAIT_LIMIT:?}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Runs a ping-pong of `n` round trips: `answer` on CPU 0 echoes what
/// `ask` on CPU 1 sends; returns the time of the `ask` side.
fn ping_pong<A, B>(n: u64, mut answer: A, mut ask: B) -> Duration
where
    A: FnMut() + Send,
    B: FnMut(u64) + Send,
{
    two_threads(
        move || (0..n).for_each(|_| answer()),
        move || (0..n).for_each(&mut ask),
    )
    .0
}

/// eventsig: two channels of capacity 1, `Receiver::wait` between messages
/// (it spins briefly, then parks on the eventfd).
pub fn ping_pong_eventsig_wait(n: u64) -> Duration {
    let (mut ping_tx, mut ping_rx) = eventsig::channel::<u64>(1).expect("channel");
    let (mut pong_tx, mut pong_rx) = eventsig::channel::<u64>(1).expect("channel");
    ping_pong(
        n,
        move || {
            let v = recv_wait(&mut ping_rx);
            pong_tx.send(v).expect("one message in flight");
        },
        move |i| {
            ping_tx.send(i).expect("one message in flight");
            assert_eq!(recv_wait(&mut pong_rx), i);
        },
    )
}

/// crossbeam-channel: two `bounded(1)` channels, `recv_timeout` between
/// messages (it spins, then parks on a futex).
pub fn ping_pong_crossbeam(n: u64) -> Duration {
    let (ping_tx, ping_rx) = crossbeam_channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded::<u64>(1);
    ping_pong(
        n,
        move || {
            let v = ping_rx.recv_timeout(WAIT_LIMIT).expect("ping");
            pong_tx.send_timeout(v, WAIT_LIMIT).expect("pong");
        },
        move |i| {
            ping_tx.send_timeout(i, WAIT_LIMIT).expect("ping");
            assert_eq!(pong_rx.recv_timeout(WAIT_LIMIT).expect("pong"), i);
        },
    )
}

/// The floor of an epoll wake-up: two eventfds, each side sleeping in its
/// own epoll (level-triggered) and answering with a `write(2)`. Per message:
/// one `write`, one `epoll_wait`, one `read`.
pub fn ping_pong_raw_epoll(n: u64) -> Duration {
    let (ping, pong) = (RawEventFd::new(), RawEventFd::new());
    let (ping_ep, pong_ep) = (Epoll::watching(ping.raw()), Epoll::watching(pong.raw()));
    let (ping, pong) = (&ping, &pong);
    ping_pong(
        n,
        move || {
            loop {
                ping_ep.wait();
                if ping.read() > 0 {
                    break;
                }
            }
            pong.write();
        },
        move |_| {
            ping.write();
            loop {
                pong_ep.wait();
                if pong.read() > 0 {
                    break;
                }
            }
        },
    )
}

/// The next event of a ping-pong (capacity 1: at most one is pending):
/// drain; if the drain came back empty, `sleep` until the fd is readable,
/// and drain again. `#[inline(always)]`, with `sleep` an `impl FnMut`: each
/// use compiles to its own loop.
#[inline(always)]
fn recv_draining(rx: &mut Receiver<u64>, mut sleep: impl FnMut()) -> u64 {
    loop {
        let mut got = None;
        for d in rx.drain() {
            match d {
                Delivery::Event(v) => got = Some(v),
                Delivery::Lost { .. } => panic!("a ping-pong never drops"),
            }
        }
        if let Some(v) = got {
            return v;
        }
        sleep();
    }
}

/// Sleeps in `poll` until a registered fd is readable.
fn poll_readable(poll: &mut Poll, events: &mut Events) {
    poll.poll(events, Some(WAIT_LIMIT)).expect("mio poll");
    assert!(!events.is_empty(), "no readiness within {WAIT_LIMIT:?}");
}

/// An eventsig receiver served from a mio `Poll`, the documented way:
/// registered, drained once before the first sleep, then "after readiness,
/// drain until a drain comes back empty".
pub struct MioReceiver {
    rx: Receiver<u64>,
    poll: Poll,
    events: Events,
}

impl MioReceiver {
    /// Registers `rx` and drains it once (which parks it).
    pub fn new(mut rx: Receiver<u64>) -> MioReceiver {
        let poll = Poll::new().expect("mio poll");
        poll.registry()
            .register(&mut rx, Token(0), Interest::READABLE)
            .expect("register");
        rx.drain().for_each(drop);
        MioReceiver {
            rx,
            poll,
            events: Events::with_capacity(4),
        }
    }

    /// Sleeps in `Poll::poll` until the receiver's fd is readable.
    pub fn sleep(&mut self) {
        poll_readable(&mut self.poll, &mut self.events);
    }

    /// The next event of a ping-pong (capacity 1: at most one is pending).
    pub fn recv(&mut self) -> u64 {
        let (poll, events) = (&mut self.poll, &mut self.events);
        recv_draining(&mut self.rx, || poll_readable(poll, events))
    }

    /// The receiver.
    pub fn rx(&mut self) -> &mut Receiver<u64> {
        &mut self.rx
    }
}

/// eventsig through mio: each side's receiver registered with its own
/// `Poll`, drained after readiness.
pub fn ping_pong_eventsig_mio(n: u64) -> Duration {
    let (mut ping_tx, ping_rx) = eventsig::channel::<u64>(1).expect("channel");
    let (mut pong_tx, pong_rx) = eventsig::channel::<u64>(1).expect("channel");
    let (mut ping_rx, mut pong_rx) = (MioReceiver::new(ping_rx), MioReceiver::new(pong_rx));
    ping_pong(
        n,
        move || {
            let v = ping_rx.recv();
            pong_tx.send(v).expect("one message in flight");
        },
        move |i| {
            ping_tx.send(i).expect("one message in flight");
            assert_eq!(pong_rx.recv(), i);
        },
    )
}

/// The next event from a receiver whose plain fd sleeps in a raw epoll:
/// drain; if it came back empty, `epoll_wait`.
fn recv_epoll(rx: &mut Receiver<u64>, ep: &Epoll) -> u64 {
    recv_draining(rx, || ep.wait())
}

/// eventsig's plain fd in a raw libc epoll (level-triggered), the same
/// loop as through mio without mio.
pub fn ping_pong_eventsig_epoll(n: u64) -> Duration {
    let (mut ping_tx, mut ping_rx) = eventsig::channel::<u64>(1).expect("channel");
    let (mut pong_tx, mut pong_rx) = eventsig::channel::<u64>(1).expect("channel");
    let ping_ep = Epoll::watching(ping_rx.as_raw_fd());
    let pong_ep = Epoll::watching(pong_rx.as_raw_fd());
    ping_rx.drain().for_each(drop);
    pong_rx.drain().for_each(drop);
    ping_pong(
        n,
        move || {
            let v = recv_epoll(&mut ping_rx, &ping_ep);
            pong_tx.send(v).expect("one message in flight");
        },
        move |i| {
            ping_tx.send(i).expect("one message in flight");
            assert_eq!(recv_epoll(&mut pong_rx, &pong_ep), i);
        },
    )
}

// ------------------------------------------------------------------- flood

/// The outcome of a flood run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flood {
    /// Time of the consumer, from the start to the last event.
    pub elapsed: Duration,
    /// Send attempts.
    pub sent: u64,
    /// Events delivered.
    pub delivered: u64,
    /// Attempts dropped (ring full).
    pub dropped: u64,
    /// eventfd writes.
    pub writes: u64,
    /// Times the receiver parked (eventsig only).
    pub parks: u64,
    /// Times the consumer slept in epoll.
    pub sleeps: u64,
}

impl Flood {
    /// eventfd writes per send attempt.
    pub fn writes_per_event(&self) -> f64 {
        self.writes as f64 / self.sent.max(1) as f64
    }

    /// eventfd writes beyond one per epoll sleep of the consumer: writes
    /// made while it was awake (S10 allows one write per sleep).
    pub fn writes_while_awake(&self) -> u64 {
        self.writes.saturating_sub(self.sleeps)
    }
}

/// How a flooded eventsig consumer takes events after readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consume {
    /// `drain` until a drain comes back empty. A drain that yielded
    /// something keeps the fd readable itself (no park); the empty one parks.
    Drain,
    /// `try_recv` until `Empty`; the receiver parks only on `Empty`.
    TryRecv,
}

/// eventsig flooding a mio consumer: the producer sends `n` events as fast
/// as it can, either `lossless` (with `free_slots` credits) or not (plain
/// `send`, drops counted); the consumer takes what is pending the `consume`
/// way and sleeps in mio whenever it has caught up.
pub fn flood_eventsig(n: u64, lossless: bool, consume: Consume) -> Flood {
    let (tx, rx) = eventsig::channel::<u64>(CAPACITY).expect("channel");
    let mut consumer = MioReceiver::new(rx);
    // The sender is dropped only once the consumer has read its counters:
    // the close's own write (S11) is not part of the flood.
    let counted = &Barrier::new(2);
    let (elapsed, mut flood) = two_threads(
        move || {
            let mut tx = tx;
            if lossless {
                eventsig_produce(&mut tx, n);
            } else {
                for i in 0..n {
                    let _ = tx.send(i);
                }
            }
            counted.wait();
        },
        move || {
            // (events delivered, attempts reported lost)
            let mut seen = (0, 0);
            let mut sleeps = 0;
            let take = |seen: &mut (u64, u64), d: Delivery<u64>| match d {
                Delivery::Event(_) => seen.0 += 1,
                Delivery::Lost { count, .. } => seen.1 += count,
            };
            loop {
                match consume {
                    Consume::Drain => loop {
                        let mut any = false;
                        for d in consumer.rx().drain() {
                            any = true;
                            take(&mut seen, d);
                        }
                        if !any {
                            break;
                        }
                    },
                    Consume::TryRecv => {
                        // Ends on `Empty` (or `Closed`), which parks.
                        while let Ok(d) = consumer.rx().try_recv() {
                            take(&mut seen, d);
                        }
                    }
                }
                if seen.0 + seen.1 == n {
                    break;
                }
                consumer.sleep();
                sleeps += 1;
            }
            let (delivered, lost) = seen;
            let s = consumer.rx().stats();
            counted.wait();
            assert_eq!((s.delivered, s.dropped), (delivered, lost), "S6");
            Flood {
                sent: s.sent,
                delivered,
                dropped: lost,
                writes: s.doorbell_writes,
                parks: s.parks,
                sleeps,
                ..Flood::default()
            }
        },
    );
    flood.elapsed = elapsed;
    assert_eq!(flood.sent, n);
    if lossless {
        assert_eq!(flood.dropped, 0);
    }
    flood
}

/// The naive design: an rtrb ring and an eventfd `write(2)` on every send;
/// the consumer sleeps in a raw epoll whenever the ring is empty, then reads
/// the eventfd and pops everything. Lossless (the producer retries a full
/// push), like `flood_eventsig(n, true)`.
pub fn flood_naive(n: u64) -> Flood {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY);
    let efd = RawEventFd::new();
    let ep = Epoll::watching(efd.raw());
    let efd = &efd;
    let (elapsed, (delivered, sleeps)) = two_threads(
        move || {
            produce_retrying(n, "naive flood producer", |v| {
                tx.push(v).map_err(|rtrb::PushError::Full(back)| back)?;
                efd.write();
                Ok(())
            })
        },
        move || {
            let (mut delivered, mut sleeps) = (0u64, 0u64);
            while delivered < n {
                ep.wait();
                sleeps += 1;
                efd.read();
                while rx.pop().is_ok() {
                    delivered += 1;
                }
            }
            (delivered, sleeps)
        },
    );
    Flood {
        elapsed,
        sent: n,
        delivered,
        dropped: 0,
        writes: n,
        parks: 0,
        sleeps,
    }
}
