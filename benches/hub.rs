//! The hub's send cost against the number of senders (1, 4, 16, 64), and a
//! plain channel's send in the same run (`cargo bench --bench hub`, about a
//! minute).
//!
//! - `hub_send_st`: one thread owns every sender and sends round-robin over
//!   them, one item per sender in turn, with a receiver that is awake (it
//!   never parks); only the sends are timed: the same thread drains the
//!   hub between timed batches, each of which fills every ring at most half,
//!   so nothing is dropped. After each drain every ring is inactive again,
//!   so each batch's first send to a ring pays the announcement (a flag
//!   store and a `fetch_or`), one send in 512. `channel` is the same loop on
//!   one channel's `Sender`, `channels_64` on 64 channels round-robin (the
//!   memory footprint of 64 rings without the hub: the control for what the
//!   round-robin itself costs).
//! - `hub_spsc`: one producer thread on CPU 0 owns every sender and sends
//!   round-robin in bursts of [`BURST`] items per ring (as vCPU threads fill
//!   their own rings; one item per ring in turn would have the receiver
//!   visit each ring for a fraction of an item, a cache-line ping-pong per
//!   item that no real sender pattern has), a send only when its ring has
//!   room (`free_slots` credits); the hub's receiver busy-drains on CPU 1
//!   (timed, until every item is in); the channel case drains its
//!   `Receiver` the same way. Throughput of the pair, so the receiver's pass
//!   (one ready word, the rings with work) is in it too.
//!
//! One iteration is [`CHUNK`] items. Figures from a shared machine: read the
//! ratios between cases of one run, not the absolute values.

#[path = "common/mod.rs"]
#[allow(dead_code)] // shared with the other includers; each uses a part
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use eventsig::hub::HubDelivery;
use eventsig::{Delivery, Sender};

use common::{
    check_sum, consume_batches, least_disturbed, pin_to_cpu, produce_with_credits, two_threads,
    Stall, CAPACITY,
};

/// Items per iteration.
const CHUNK: u64 = 1_000_000;
/// Sender counts.
const SENDERS: [usize; 4] = [1, 4, 16, 64];
/// Items the `hub_spsc` producer sends to one ring before the next.
const BURST: usize = 32;

/// Sums doorbell writes over the `hub_spsc` runs: the receiver never parks,
/// so this must stay 0 (S10).
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Runs `run` until a run is not disturbed by other tasks (up to 3 tries).
fn clean(run: impl Fn(u64) -> Duration) -> impl FnMut(u64) -> Duration {
    move |iters| least_disturbed(3, || run(iters * CHUNK)).0
}

// ------------------------------------------------------- one thread, sends

/// `n` sends of `0..n` round-robin over the senders `txs`, in batches that
/// fill every ring at most half; only the sends are timed, and `drain`
/// empties every ring between batches. `#[inline(always)]`, with `send` as
/// an `impl FnMut`: each case compiles to its own loop, the send inlined.
#[inline(always)]
fn send_round_robin<S>(
    txs: &mut [S],
    n: u64,
    mut send: impl FnMut(&mut S, u64),
    mut drain: impl FnMut(),
) -> Duration {
    let senders = txs.len();
    let per_batch = (CAPACITY / 2 * senders) as u64;
    let (mut timed, mut i, mut k) = (Duration::ZERO, 0, 0);
    while i < n {
        let end = (i + per_batch).min(n);
        let t = Instant::now();
        while i < end {
            send(&mut txs[k], i);
            k += 1;
            if k == senders {
                k = 0;
            }
            i += 1;
        }
        timed += t.elapsed();
        drain();
    }
    timed
}

/// `n` hub sends round-robin over `senders` rings; only the sends are timed.
fn hub_send_st(senders: usize, n: u64) -> Duration {
    pin_to_cpu(1);
    let (hub, mut rx) = eventsig::hub::builder()
        .capacity(CAPACITY)
        .max_senders(64)
        .build::<u64>()
        .expect("hub");
    let mut txs: Vec<_> = (0..senders)
        .map(|_| hub.add_sender().expect("a slot"))
        .collect();
    let timed = send_round_robin(
        &mut txs,
        n,
        |tx, i| {
            let _ = black_box(tx.send(black_box(i)));
        },
        || while rx.drain().count() > 0 {},
    );
    assert_eq!(rx.stats().dropped, 0);
    timed
}

/// `n` sends round-robin over `channels` plain channels, the same loop:
/// the same memory footprint as a hub of that many rings, without the hub
/// (the control for what the round-robin itself costs).
fn channel_send_st(channels: usize, n: u64) -> Duration {
    pin_to_cpu(1);
    let (mut txs, mut rxs): (Vec<_>, Vec<_>) = (0..channels)
        .map(|_| eventsig::channel::<u64>(CAPACITY).expect("channel"))
        .unzip();
    let timed = send_round_robin(
        &mut txs,
        n,
        |tx, i| {
            let _ = black_box(tx.send(black_box(i)));
        },
        || {
            for rx in &mut rxs {
                while rx.drain().count() > 0 {}
            }
        },
    );
    assert!(rxs.iter().all(|rx| rx.stats().dropped == 0));
    timed
}

// -------------------------------------------------- two threads, throughput

/// `n` items from one producer thread into `senders` rings, [`BURST`] at a
/// time per ring; the timed receiver drains until it has them all.
fn hub_spsc(senders: usize, n: u64) -> Duration {
    let (hub, mut rx) = eventsig::hub::builder()
        .capacity(CAPACITY)
        .max_senders(64)
        .build::<u64>()
        .expect("hub");
    let txs: Vec<_> = (0..senders)
        .map(|_| hub.add_sender().expect("a slot"))
        .collect();
    drop(hub);
    let (elapsed, writes) = two_threads(
        move || {
            let mut txs = txs;
            let mut credit = vec![0usize; senders];
            let mut stall = Stall::new("hub producer");
            let (mut k, mut burst) = (0, 0);
            for i in 0..n {
                while credit[k] == 0 {
                    credit[k] = txs[k].free_slots();
                    if credit[k] == 0 {
                        stall.idle(i);
                    }
                }
                txs[k].send(i).expect("room was checked");
                credit[k] -= 1;
                burst += 1;
                if burst == BURST {
                    burst = 0;
                    k += 1;
                    if k == senders {
                        k = 0;
                    }
                }
            }
        },
        move || {
            let sum = consume_batches(n, "hub receiver", |sum| {
                let mut got = 0;
                for (_, d) in rx.drain() {
                    if let HubDelivery::Event(v) = d {
                        *sum = sum.wrapping_add(v);
                        got += 1;
                    }
                }
                got
            });
            check_sum(sum, n);
            rx.stats().doorbell_writes
        },
    );
    WRITES.fetch_add(writes, Ordering::Relaxed);
    elapsed
}

/// The same with a channel: `send` with credits, `drain`.
fn channel_spsc(n: u64) -> Duration {
    let (mut tx, mut rx) = eventsig::channel::<u64>(CAPACITY).expect("channel");
    let (elapsed, ()) = two_threads(
        move || {
            produce_with_credits(
                n,
                "channel producer",
                &mut tx,
                Sender::free_slots,
                |tx, i| tx.send(i).expect("room was checked"),
            )
        },
        move || {
            let sum = consume_batches(n, "channel receiver", |sum| {
                let mut got = 0;
                for d in rx.drain() {
                    if let Delivery::Event(v) = d {
                        *sum = sum.wrapping_add(v);
                        got += 1;
                    }
                }
                got
            });
            check_sum(sum, n);
        },
    );
    elapsed
}

/// A group of [`CHUNK`] items per iteration, 10 flat samples measured
/// over `time` after a 300 ms warm-up.
fn flat_group<'a>(
    c: &'a mut Criterion,
    name: &str,
    time: Duration,
) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .throughput(Throughput::Elements(CHUNK))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(time);
    group
}

fn benches(c: &mut Criterion) {
    let mut group = flat_group(c, "hub_send_st", Duration::from_secs(1));
    group.bench_function("channel", |b| {
        b.iter_custom(clean(|n| channel_send_st(1, n)))
    });
    group.bench_function("channels_64", |b| {
        b.iter_custom(clean(|n| channel_send_st(64, n)))
    });
    for senders in SENDERS {
        group.bench_function(format!("hub_{senders}"), |b| {
            b.iter_custom(clean(move |n| hub_send_st(senders, n)))
        });
    }
    group.finish();

    let mut group = flat_group(c, "hub_spsc", Duration::from_millis(1500));
    group.bench_function("channel", |b| b.iter_custom(clean(channel_spsc)));
    for senders in SENDERS {
        group.bench_function(format!("hub_{senders}"), |b| {
            b.iter_custom(clean(move |n| hub_spsc(senders, n)))
        });
    }
    group.finish();
    eprintln!(
        "hub_spsc: {} eventfd writes in all (the receiver never parks: must be 0)",
        WRITES.load(Ordering::Relaxed)
    );
}

criterion_group!(hub, benches);
criterion_main!(hub);
