//! eventsig against its peers, measured in the same run (`cargo bench`).
//!
//! The workloads live in `benches/common/mod.rs`, shared with
//! `examples/bench_report.rs` (the same comparisons in a minute, as one
//! table). Cross-thread cases use `iter_custom` with a producer pinned to
//! CPU 0 and the timed consumer pinned to CPU 1.
//!
//! - `raise`: raising a pending signal on a receiver that never parks
//!   against a bare `AtomicU64::fetch_or`, an eventfd write
//!   (`EventFd::notify`) and `mio::Waker::wake`.
//! - `raise_after_take`: take + raise (the raise makes the signal newly
//!   pending, the path that checks the park flag) against `swap(0)` +
//!   `fetch_or`.
//! - `spsc_single` / `spsc_batch`: `u64` items through a ring of 1024, the
//!   consumer busy-polling, nothing dropped; one iteration is a million
//!   items. Single items: eventsig `send`/`try_recv` against rtrb
//!   `push`/`pop`, crossbeam `ArrayQueue`, crossbeam-channel `bounded(1024)`
//!   and std `sync_channel(1024)`. Batches: eventsig `send_iter`/`drain`
//!   against rtrb `write_chunk_uninit`/`read_chunk` and ringbuf
//!   `push_iter`/`as_slices`+`skip`.
//! - `ping_pong`: one round trip per iteration between two threads that
//!   block between messages: eventsig `wait`, crossbeam-channel
//!   `bounded(1)`, a raw eventfd + epoll pair, eventsig through mio `Poll`,
//!   and eventsig's plain fd in a raw epoll.
//! - `flood`: a lossless flood into a mio consumer that sleeps in epoll
//!   whenever it has caught up; eventsig (doorbell only for a parked
//!   receiver; the consumer drains until a drain comes back empty, or
//!   `try_recv`s until `Empty`) against the naive design (an eventfd write
//!   per event). One iteration is 100 000 events; the eventfd writes per
//!   event, and those made while the consumer was awake, are printed after
//!   the group.
//! - `drop_oldest`: the drop-oldest policy against the default on the same
//!   workloads: single items, lossless (`send` with credits / `try_recv`,
//!   one iteration is a million items); an overflowing flood (the consumer
//!   drains until every attempt is delivered or reported lost, a million
//!   attempts per iteration); one push into a full ring with no consumer
//!   (evicting against refused).
//! - `park`: an empty drain of a receiver whose fd was handed out (it
//!   parks: the consumer side of the asymmetric barrier) against one whose
//!   fd never was.
//!
//! This machine is shared: a sample during which other tasks took more than
//! 5% of the run (the measured threads' run-queue wait, from
//! `/proc/thread-self/schedstat`) is run again, up to 3 runs, and the least
//! disturbed run is kept; how often that happened is printed after each
//! group.
//!
//! The fence cost: eventsig picks its barrier once per process, so run
//! `EVENTSIG_NO_MEMBARRIER=1 cargo bench --bench throughput -- spsc_single/eventsig`
//! separately; the case is then named `eventsig_send_try_recv_fence_fallback`.

#[path = "common/mod.rs"]
#[allow(dead_code)] // shared with the other includer; each uses a part
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};

use common::*;

// ----------------------------------------------------------- disturbance

/// Extra runs made because other tasks disturbed a run.
static REPEATED: AtomicU64 = AtomicU64::new(0);
/// Samples kept although disturbed (every try was).
static KEPT_DISTURBED: AtomicU64 = AtomicU64::new(0);
/// Samples in all.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// Runs `run` up to 3 times until other tasks (this machine is shared) took
/// at most 5% of a run, and keeps the least disturbed one.
fn least_disturbed_run<T>(run: impl FnMut() -> T) -> T {
    let (out, stolen, runs) = least_disturbed(3, run);
    RUNS.fetch_add(1, Ordering::Relaxed);
    REPEATED.fetch_add(u64::from(runs - 1), Ordering::Relaxed);
    KEPT_DISTURBED.fetch_add(u64::from(stolen.disturbed()), Ordering::Relaxed);
    out
}

/// `run` for criterion's `iter_custom`, through [`least_disturbed_run`].
fn clean(run: impl Fn(u64) -> Duration) -> impl FnMut(u64) -> Duration {
    move |iters| least_disturbed_run(|| run(iters))
}

/// Prints how disturbed the runs of `group` were (since the last call).
fn disturbance(group: &str) {
    let runs = RUNS.swap(0, Ordering::Relaxed);
    let repeated = REPEATED.swap(0, Ordering::Relaxed);
    let kept = KEPT_DISTURBED.swap(0, Ordering::Relaxed);
    if runs > 0 {
        eprintln!(
            "{group}: {runs} samples; {repeated} extra runs because other tasks took more \
             than 5% of a run; {kept} samples kept although disturbed in all 3 runs"
        );
    }
}

/// `bench_function` for an `iter_custom` routine.
trait CustomCase {
    /// Adds the case `name`, timed by `routine` through `iter_custom`. The
    /// routine is an `impl FnMut`, called by reference: no dynamic call
    /// between criterion and the workload.
    fn case(&mut self, name: &str, routine: impl FnMut(u64) -> Duration) -> &mut Self;
}

impl CustomCase for BenchmarkGroup<'_, WallTime> {
    fn case(&mut self, name: &str, mut routine: impl FnMut(u64) -> Duration) -> &mut Self {
        self.bench_function(name, |b| b.iter_custom(&mut routine))
    }
}

/// A group of `items` per iteration, 10 flat samples of 4 s: the setting
/// of the throughput groups.
fn flat_group<'a>(c: &'a mut Criterion, name: &str, items: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .throughput(Throughput::Elements(items))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    group
}

/// A group of one operation per iteration, criterion's default sampling:
/// the setting of the single-thread groups.
fn op_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    group
}

/// Items per iteration of the SPSC groups.
const SPSC_CHUNK: u64 = 1_000_000;
/// Events per iteration of the flood group.
const FLOOD_CHUNK: u64 = 100_000;

// ------------------------------------------------------------------ raise

fn raise(c: &mut Criterion) {
    let mut group = op_group(c, "raise");
    group.case("eventsig_raise", clean(raise_eventsig));
    group.case("atomic_fetch_or", clean(raise_fetch_or));
    group.case("eventfd_notify", clean(raise_eventfd_notify));
    group.case("mio_waker_wake", clean(raise_mio_wake));
    group.finish();
    disturbance("raise");

    let mut group = op_group(c, "raise_after_take");
    group.case("eventsig_take_then_raise", clean(take_raise_eventsig));
    group.case("atomic_swap_then_fetch_or", clean(take_raise_atomic));
    group.finish();
    disturbance("raise_after_take");
}

// ------------------------------------------------------------------- SPSC

/// Sums eventfd writes over the eventsig SPSC runs: the receiver busy-polls
/// and never hands out its fd, so this must stay 0 (S10).
static SPSC_WRITES: AtomicU64 = AtomicU64::new(0);
/// Items sent over the eventsig SPSC runs (0 when a filter skipped them).
static SPSC_ITEMS: AtomicU64 = AtomicU64::new(0);

fn eventsig_chunks(run: fn(u64) -> EventsigRun) -> impl FnMut(u64) -> Duration {
    move |iters| {
        let (d, stats) = least_disturbed_run(|| run(iters * SPSC_CHUNK));
        SPSC_WRITES.fetch_add(stats.doorbell_writes, Ordering::Relaxed);
        SPSC_ITEMS.fetch_add(stats.sent, Ordering::Relaxed);
        d
    }
}

fn chunks(run: fn(u64) -> Duration) -> impl FnMut(u64) -> Duration {
    clean(move |iters| run(iters * SPSC_CHUNK))
}

/// The name of the eventsig single-item case, which tells the barrier mode.
fn eventsig_single_name() -> &'static str {
    if std::env::var_os("EVENTSIG_NO_MEMBARRIER").is_some_and(|v| v == "1") {
        "eventsig_send_try_recv_fence_fallback"
    } else {
        "eventsig_send_try_recv"
    }
}

fn spsc(c: &mut Criterion) {
    let mut group = flat_group(c, "spsc_single", SPSC_CHUNK);
    group.case(
        eventsig_single_name(),
        eventsig_chunks(spsc_eventsig_single),
    );
    group.case("rtrb_push_pop", chunks(spsc_rtrb_single));
    group.case("crossbeam_array_queue", chunks(spsc_array_queue));
    // The channels are an order slower: more time, so that a sample still
    // holds about 20M items.
    group.measurement_time(Duration::from_secs(15));
    group.case("crossbeam_channel_bounded", chunks(spsc_crossbeam));
    group.case("std_sync_channel", chunks(spsc_std_sync_channel));
    group.finish();
    disturbance("spsc_single");

    let mut group = flat_group(c, "spsc_batch", SPSC_CHUNK);
    group.case(
        "eventsig_send_iter_drain",
        eventsig_chunks(spsc_eventsig_batch),
    );
    group.case("rtrb_chunks", chunks(spsc_rtrb_chunk));
    group.case("ringbuf_push_iter_skip", chunks(spsc_ringbuf_batch));
    group.finish();
    disturbance("spsc_batch");

    let (writes, items) = (
        SPSC_WRITES.load(Ordering::Relaxed),
        SPSC_ITEMS.load(Ordering::Relaxed),
    );
    if items > 0 {
        eprintln!(
            "spsc: {writes} eventfd writes over {items} items sent through eventsig \
             to a busy-polling receiver (S10: must be 0)"
        );
    }
    assert_eq!(writes, 0, "S10: no syscall while the receiver is awake");
}

// -------------------------------------------------------------- ping-pong

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_pong");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    group.case("eventsig_wait", clean(ping_pong_eventsig_wait));
    group.case("crossbeam_bounded1", clean(ping_pong_crossbeam));
    group.case("raw_eventfd_epoll", clean(ping_pong_raw_epoll));
    group.case("eventsig_mio_drain", clean(ping_pong_eventsig_mio));
    group.case(
        "eventsig_fd_raw_epoll_drain",
        clean(ping_pong_eventsig_epoll),
    );
    group.finish();
    disturbance("ping_pong");
}

// ------------------------------------------------------------------ flood

/// Totals of one flood case's runs: eventfd writes, send attempts, and
/// eventfd writes made while the consumer was awake (beyond one per epoll
/// sleep).
struct FloodTotals([AtomicU64; 3]);

impl FloodTotals {
    const fn new() -> FloodTotals {
        FloodTotals([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)])
    }

    fn add(&self, f: Flood) -> Duration {
        self.0[0].fetch_add(f.writes, Ordering::Relaxed);
        self.0[1].fetch_add(f.sent, Ordering::Relaxed);
        self.0[2].fetch_add(f.writes_while_awake(), Ordering::Relaxed);
        f.elapsed
    }

    fn report(&self, name: &str) {
        let [w, s, a] = [0, 1, 2].map(|i| self.0[i].load(Ordering::Relaxed));
        if s == 0 {
            return; // filtered out
        }
        eprintln!(
            "flood {name}: {w} eventfd writes for {s} events = {:.5} per event; \
             {a} of them while the consumer was awake",
            w as f64 / s.max(1) as f64
        );
    }
}

static FLOOD_DRAIN: FloodTotals = FloodTotals::new();
static FLOOD_TRY_RECV: FloodTotals = FloodTotals::new();
static FLOOD_NAIVE: FloodTotals = FloodTotals::new();

fn flood(c: &mut Criterion) {
    let mut group = flat_group(c, "flood", FLOOD_CHUNK);
    group.case("eventsig_mio_drain", |iters| {
        FLOOD_DRAIN.add(least_disturbed_run(|| {
            flood_eventsig(iters * FLOOD_CHUNK, true, Consume::Drain)
        }))
    });
    group.case("eventsig_mio_try_recv", |iters| {
        FLOOD_TRY_RECV.add(least_disturbed_run(|| {
            flood_eventsig(iters * FLOOD_CHUNK, true, Consume::TryRecv)
        }))
    });
    group.case("naive_write_per_event", |iters| {
        FLOOD_NAIVE.add(least_disturbed_run(|| flood_naive(iters * FLOOD_CHUNK)))
    });
    group.finish();
    disturbance("flood");

    FLOOD_DRAIN.report("eventsig_mio_drain (target <= 0.01 per event, 0 while awake)");
    FLOOD_TRY_RECV.report("eventsig_mio_try_recv");
    FLOOD_NAIVE.report("naive_write_per_event");
}

// ------------------------------------------------------------------- park

fn park(c: &mut Criterion) {
    let mut group = c.benchmark_group("park");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2));
    group.case(
        "empty_drain_fd_handed_out",
        clean(|iters| empty_drain(iters, true)),
    );
    group.case(
        "empty_drain_fd_private",
        clean(|iters| empty_drain(iters, false)),
    );
    group.finish();
    disturbance("park");
}

// ------------------------------------------------------------ drop-oldest

fn drop_oldest(c: &mut Criterion) {
    use eventsig::OverflowPolicy::{DropNewest, DropOldest};
    let mut group = flat_group(c, "drop_oldest", SPSC_CHUNK);
    let policies = [("drop_newest", DropNewest), ("drop_oldest", DropOldest)];
    for (name, policy) in policies {
        let run = move |iters| oldest_single(iters * SPSC_CHUNK, policy).0;
        group.case(&format!("single_lossless_{name}"), clean(run));
    }
    for (name, policy) in policies {
        let run = move |iters| oldest_flood(iters * SPSC_CHUNK, policy).0;
        group.case(&format!("flood_{name}"), clean(run));
    }
    group.finish();

    let mut group = op_group(c, "full_ring_push");
    group.case("refused_drop_newest", clean(oldest_full_push_refused));
    group.case("evicting_drop_oldest", clean(oldest_full_push_evicting));
    group.finish();
    disturbance("drop_oldest");
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
    targets = raise, spsc, ping_pong, flood, park, drop_oldest
}
criterion_main!(benches);
