//! eventsig against its peers, measured in the same run (`cargo bench`).
//!
//! - `raise_awake`: raising a signal on a receiver that never parks (so the
//!   raise never writes the eventfd) against a bare `AtomicU64::fetch_or` and
//!   an eventfd write. The signal stays pending, so every raise after the
//!   first takes the coalesced path.
//! - `raise_after_take`: a take followed by a raise (the raise makes the
//!   signal newly pending, the path that checks the park flag) against
//!   `swap(0)` followed by `fetch_or`.
//! - `spsc_single` / `spsc_batch`: `u64` items from a producer thread to a
//!   consumer thread through a ring of 1024; the consumer busy-polls and never
//!   hands out its fd, so no syscall is made. The producer never overfills
//!   the ring (eventsig: credits from `free_slots`; rtrb: retry on `Full`;
//!   crossbeam: blocking `send`), so nothing is dropped. Time is for `iters`
//!   items.
//! - `ping_pong`: one round trip per iteration between two threads that block
//!   between messages (eventsig: two channels and `Receiver::wait`;
//!   crossbeam: two `bounded(1)` channels and `recv`).
//!
//! Threads are pinned to CPUs 0 and 1 when the machine has them.

use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eventsig::{Delivery, EventFd, Receiver, Sender, Signal, TryRecvError};

/// Ring capacity of every SPSC case.
const CAPACITY: usize = 1024;
/// Longest a ping-pong side waits for a message before the bench fails.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

fn signal() -> Signal {
    Signal::new(7).expect("7 < 64")
}

// ------------------------------------------------------------------ raise

fn raise_awake(c: &mut Criterion) {
    let mut group = c.benchmark_group("raise_awake");
    let s = signal();

    let (tx, _rx) = eventsig::channel::<()>(1).expect("channel");
    group.bench_function("eventsig_raise", |b| {
        b.iter(|| tx.raise(black_box(s)));
    });

    let word = AtomicU64::new(0);
    group.bench_function("atomic_fetch_or", |b| {
        b.iter(|| word.fetch_or(black_box(1 << 7), Ordering::Release));
    });

    let efd = EventFd::new().expect("eventfd");
    group.bench_function("eventfd_notify", |b| {
        b.iter(|| efd.notify());
    });
    group.finish();
}

fn raise_after_take(c: &mut Criterion) {
    let mut group = c.benchmark_group("raise_after_take");
    let s = signal();

    let (tx, mut rx) = eventsig::channel::<()>(1).expect("channel");
    group.bench_function("eventsig_take_then_raise", |b| {
        b.iter(|| {
            black_box(rx.take_signals());
            tx.raise(black_box(s))
        });
    });

    let word = AtomicU64::new(0);
    group.bench_function("atomic_swap_then_fetch_or", |b| {
        b.iter(|| {
            black_box(word.swap(0, Ordering::Acquire));
            word.fetch_or(black_box(1 << 7), Ordering::Release)
        });
    });
    group.finish();
}

// ------------------------------------------------------- two-thread harness

/// Pins the calling thread to `cpu`, if the machine has it (otherwise the
/// thread stays unpinned: the figures get noisier, not wrong).
fn pin_to_cpu(cpu: usize) {
    let online = thread::available_parallelism().map_or(1, |n| n.get());
    if cpu >= online {
        return;
    }
    // SAFETY: `cpu_set_t` is plain data for which all-zero is the empty set;
    // CPU_SET writes inside it (cpu < CPU_SETSIZE); sched_setaffinity only
    // reads it, and its failure leaves the thread unpinned, which is fine.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Runs `background` on CPU 0 and `timed` on CPU 1, released together by a
/// barrier; returns how long `timed` took.
fn two_threads(background: impl FnOnce() + Send, timed: impl FnOnce() + Send) -> Duration {
    let start = Barrier::new(2);
    thread::scope(|s| {
        s.spawn(|| {
            pin_to_cpu(0);
            start.wait();
            background();
        });
        let timed = s.spawn(|| {
            pin_to_cpu(1);
            start.wait();
            let t = Instant::now();
            timed();
            t.elapsed()
        });
        timed.join().expect("timed thread")
    })
}

// ------------------------------------------------------------------- SPSC

/// Sends `0..iters`, never more than the ring has room for: a send after
/// `free_slots() > 0` is accepted, and only this sender fills the ring.
fn eventsig_produce(mut tx: Sender<u64>, iters: u64) {
    let mut credit = 0;
    for i in 0..iters {
        while credit == 0 {
            credit = tx.free_slots();
            if credit == 0 {
                spin_loop();
            }
        }
        tx.send(i).expect("room was checked");
        credit -= 1;
    }
}

fn eventsig_single(iters: u64) -> Duration {
    let (tx, mut rx) = eventsig::channel::<u64>(CAPACITY).expect("channel");
    two_threads(
        move || eventsig_produce(tx, iters),
        move || {
            let (mut got, mut sum) = (0, 0u64);
            while got < iters {
                match rx.try_recv() {
                    Ok(Delivery::Event(v)) => {
                        sum = sum.wrapping_add(v);
                        got += 1;
                    }
                    Err(TryRecvError::Empty) => spin_loop(),
                    other => panic!("unexpected {other:?}"),
                }
            }
            black_box(sum);
        },
    )
}

fn eventsig_batch(iters: u64) -> Duration {
    let (tx, mut rx) = eventsig::channel::<u64>(CAPACITY).expect("channel");
    two_threads(
        move || eventsig_produce(tx, iters),
        move || {
            let (mut got, mut sum) = (0, 0u64);
            while got < iters {
                let before = got;
                for d in rx.drain() {
                    match d {
                        Delivery::Event(v) => sum = sum.wrapping_add(v),
                        Delivery::Lost { .. } => panic!("credits should prevent drops"),
                    }
                    got += 1;
                }
                if got == before {
                    spin_loop();
                }
            }
            black_box(sum);
        },
    )
}

fn rtrb_produce(mut tx: rtrb::Producer<u64>, iters: u64) {
    for i in 0..iters {
        let mut v = i;
        while let Err(rtrb::PushError::Full(back)) = tx.push(v) {
            v = back;
            spin_loop();
        }
    }
}

fn rtrb_single(iters: u64) -> Duration {
    let (tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY);
    two_threads(
        move || rtrb_produce(tx, iters),
        move || {
            let (mut got, mut sum) = (0, 0u64);
            while got < iters {
                match rx.pop() {
                    Ok(v) => {
                        sum = sum.wrapping_add(v);
                        got += 1;
                    }
                    Err(_) => spin_loop(),
                }
            }
            black_box(sum);
        },
    )
}

fn rtrb_chunk(iters: u64) -> Duration {
    let (tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY);
    two_threads(
        move || rtrb_produce(tx, iters),
        move || {
            let (mut got, mut sum) = (0, 0u64);
            while got < iters {
                let n = rx.slots();
                if n == 0 {
                    spin_loop();
                    continue;
                }
                let chunk = rx.read_chunk(n).expect("n slots are readable");
                let (a, b) = chunk.as_slices();
                sum = a.iter().chain(b).fold(sum, |s, &v| s.wrapping_add(v));
                chunk.commit_all();
                got += n as u64;
            }
            black_box(sum);
        },
    )
}

fn crossbeam_single(iters: u64) -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(CAPACITY);
    two_threads(
        move || {
            for i in 0..iters {
                tx.send(i).expect("receiver alive");
            }
        },
        move || {
            let (mut got, mut sum) = (0, 0u64);
            while got < iters {
                match rx.try_recv() {
                    Ok(v) => {
                        sum = sum.wrapping_add(v);
                        got += 1;
                    }
                    Err(_) => spin_loop(),
                }
            }
            black_box(sum);
        },
    )
}

fn spsc_single(c: &mut Criterion) {
    let mut group = c.benchmark_group("spsc_single");
    group.throughput(Throughput::Elements(1));
    group.bench_function("eventsig_send_try_recv", |b| b.iter_custom(eventsig_single));
    group.bench_function("rtrb_push_pop", |b| b.iter_custom(rtrb_single));
    group.bench_function("crossbeam_bounded_send_try_recv", |b| {
        b.iter_custom(crossbeam_single)
    });
    group.finish();
}

fn spsc_batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("spsc_batch");
    group.throughput(Throughput::Elements(1));
    group.bench_function("eventsig_send_drain", |b| b.iter_custom(eventsig_batch));
    group.bench_function("rtrb_push_read_chunk", |b| b.iter_custom(rtrb_chunk));
    group.finish();
}

// -------------------------------------------------------------- ping-pong

/// The next event, blocking in `Receiver::wait` while there is none.
fn recv_blocking(rx: &mut Receiver<u64>) -> u64 {
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

fn eventsig_ping_pong(iters: u64) -> Duration {
    let (mut ping_tx, mut ping_rx) = eventsig::channel::<u64>(1).expect("channel");
    let (mut pong_tx, mut pong_rx) = eventsig::channel::<u64>(1).expect("channel");
    two_threads(
        move || {
            for _ in 0..iters {
                let v = recv_blocking(&mut ping_rx);
                pong_tx.send(v).expect("one message in flight");
            }
        },
        move || {
            for i in 0..iters {
                ping_tx.send(i).expect("one message in flight");
                assert_eq!(recv_blocking(&mut pong_rx), i);
            }
        },
    )
}

fn crossbeam_ping_pong(iters: u64) -> Duration {
    let (ping_tx, ping_rx) = crossbeam_channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded::<u64>(1);
    two_threads(
        move || {
            for _ in 0..iters {
                let v = ping_rx.recv_timeout(WAIT_LIMIT).expect("ping");
                pong_tx.send(v).expect("pong");
            }
        },
        move || {
            for i in 0..iters {
                ping_tx.send(i).expect("ping");
                assert_eq!(pong_rx.recv_timeout(WAIT_LIMIT).expect("pong"), i);
            }
        },
    )
}

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_pong");
    group.bench_function("eventsig_wait", |b| b.iter_custom(eventsig_ping_pong));
    group.bench_function("crossbeam_bounded1_recv", |b| {
        b.iter_custom(crossbeam_ping_pong)
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = raise_awake, raise_after_take, spsc_single, spsc_batch, ping_pong
}
criterion_main!(benches);
