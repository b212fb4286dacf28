//! The hub receiver's drain cost against the number of senders that have no
//! work (`cargo bench --bench hub_drain`, about half a minute): issue 7 asks
//! that it grow only with the rings that have work (the ready set), not with
//! every ring registered.
//!
//! One thread owns the hub, one busy sender and `idle` more senders; each
//! idle sender sent one event that was drained before the measurement, so it
//! is registered, has its ring allocated and went back to inactive.
//!
//! - `hub_drain_busy/{1,4,16,64}`: per iteration the busy sender sends
//!   [`BATCH`] events and the receiver drains them (one `drain()` pass, all
//!   counted). `channel` is the same loop on a plain channel, the control.
//! - `hub_drain_empty/{1,4,16,64}`: a `drain()` that finds nothing, the fd
//!   never handed out (so it does not park): the cost of looking.
//!
//! Flat figures across the sender counts mean the drain does not scan idle
//! rings. Read the ratios between cases of one run: the machine is shared.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Events the busy sender sends per iteration.
const BATCH: u64 = 64;
/// Senders in all (one busy, the rest idle).
const SENDERS: [usize; 4] = [1, 4, 16, 64];
/// Each ring's capacity.
const CAPACITY: usize = 1024;

/// A hub with `senders` senders; all but the first sent one event each,
/// drained since. Returns the busy sender, the receiver and the idle
/// senders (kept alive: a dropped sender's slot is removed).
fn hub_with_idle(
    senders: usize,
) -> (
    eventsig::hub::HubSender<u64>,
    eventsig::hub::HubReceiver<u64>,
    Vec<eventsig::hub::HubSender<u64>>,
) {
    let (hub, mut rx) = eventsig::hub::builder()
        .capacity(CAPACITY)
        .max_senders(64)
        .build::<u64>()
        .expect("hub");
    let busy = hub.add_sender().expect("a slot");
    let mut idle: Vec<_> = (1..senders)
        .map(|_| hub.add_sender().expect("a slot"))
        .collect();
    for tx in &mut idle {
        tx.send(0).expect("room");
    }
    let mut got = 0;
    // A few passes: an idle pass deactivates every ring.
    for _ in 0..8 {
        got += rx.drain().count();
    }
    assert_eq!(got, senders - 1, "every idle sender's event drained");
    (busy, rx, idle)
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("hub_drain_busy");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("channel", |b| {
        let (mut tx, mut rx) = eventsig::channel::<u64>(CAPACITY).expect("channel");
        b.iter(|| {
            for i in 0..BATCH {
                let _ = tx.send(black_box(i));
            }
            let n = rx.drain().count() as u64;
            assert_eq!(black_box(n), BATCH);
        });
    });
    for senders in SENDERS {
        group.bench_with_input(BenchmarkId::from_parameter(senders), &senders, |b, &s| {
            let (mut tx, mut rx, _idle) = hub_with_idle(s);
            b.iter(|| {
                for i in 0..BATCH {
                    let _ = tx.send(black_box(i));
                }
                let n = rx.drain().count() as u64;
                assert_eq!(black_box(n), BATCH);
            });
            assert_eq!(rx.stats().dropped, 0);
        });
    }
    group.finish();

    let mut group = c.benchmark_group("hub_drain_empty");
    for senders in SENDERS {
        group.bench_with_input(BenchmarkId::from_parameter(senders), &senders, |b, &s| {
            let (_tx, mut rx, _idle) = hub_with_idle(s);
            b.iter(|| black_box(rx.drain().count()));
        });
    }
    group.finish();
}

criterion_group!(hub_drain, benches);
criterion_main!(hub_drain);
