//! Bounded stress tests: real threads, real eventfds, random timing.
//!
//! Every test runs, for each ring capacity in [`CAPACITIES`], one channel
//! with:
//!
//! - a **producer** thread owning the `Sender`: random bursts of `send` (and
//!   sometimes `send_iter`) whose payload is the attempt's sequence number,
//!   at a pace that changes every few dozen bursts (floods, trickles, and
//!   between), with random pauses (bounded spins / `yield_now`, never a
//!   sleep). Now and then it stops until the consumer has accounted for
//!   every attempt so far — with nothing else going on, only the doorbell
//!   rung for that last event or gap can wake a sleeping consumer (S7, S9) —
//!   and then sometimes holds a quiet phase in which only the raisers act.
//!   It closes the channel in one of three orders: its last burst right
//!   before the close (events and a gap pending at the close), the close
//!   after the consumer caught up and went to sleep, or a raiser's drop last;
//! - [`RAISERS`] **raiser** threads raising random signals (a few hot ones
//!   that merge often, and all 64), each raise stamped with the number of
//!   takes the consumer had completed before it ([`Board::need`]); in a quiet
//!   phase, and now and then otherwise, a raiser stops until a take has
//!   reported its raise (S1, and S9 for a signal alone);
//! - a **consumer** on the test thread, of one of four kinds: `wait` with a
//!   deadline (its spin phase on or off at random), mio (`epoll`,
//!   edge-triggered, the `Receiver` registered), raw `epoll` level-triggered
//!   on `as_raw_fd`, or a busy poller that never blocks. It stalls (also in
//!   the middle of a drain), takes signals, drains fully or partially, calls
//!   `try_recv`, reads and acknowledges the overflow, and sleeps, in random
//!   order. An epoll consumer sleeps only where the receiver parks (after a
//!   drain, an empty `try_recv` or a `wait` that timed out, see
//!   `src/channel.rs`), and an edge-triggered one not once it knows the
//!   channel is closed (the close gives one edge; the fd stays readable but
//!   gets no new one).
//!
//! Checks (each names the rule it would catch broken):
//!
//! - S9: every blocking sleep has a deadline ([`LONG`]); a sleep that lasts
//!   it is a lost wake-up (producers never pause anywhere near that long);
//! - S3/S7: each delivery starts exactly where the previous one ended: an
//!   event's payload is the next sequence number, a `Lost { first, count }`
//!   starts there (`first == previous payload + 1` or the previous gap's end)
//!   and the next payload is `first + count`;
//! - S3/S6: the set of delivered payloads is the set the producer saw
//!   accepted (counts and a 64-bit fingerprint), so the gaps are exactly its
//!   drops; delivered + sum of `Lost.count` == the producer's own attempt
//!   count; `stats()` agrees;
//! - S7/S8: whatever `overflow()` counts is reached by the next complete
//!   drain; its total never goes down; acknowledged + final un-acknowledged
//!   == total dropped == `stats().dropped` (acknowledgements are sometimes
//!   delayed until after more drops, so a clear-too-much shows);
//! - S1: every signal raised is reported by a take numbered above the takes
//!   its raiser had seen completed (see [`Board::need`]); S2: a signal is
//!   reported no more often than it was raised, never when it was not;
//! - S11: `TryRecvError::Closed` comes only after every attempt was accounted
//!   for, and stays; `wait` reports it ready; a level-triggered fd stays
//!   readable after it;
//! - S10: `doorbell_writes <= parks` (see [`assert_writes_within_parks`]); a
//!   consumer that never hands out its fd and never waits costs 0 writes;
//! - `free_slots() > 0` means the next `send` is accepted; a drain ends
//!   within `2 * capacity + 1` deliveries even while the producer sends.
//!
//! Size: `EVENTSIG_STRESS_EVENTS` send attempts per test (default
//! [`DEFAULT_EVENTS`], far fewer under Miri), split over the capacities;
//! `EVENTSIG_STRESS_SEED` fixes the seed of every choice (otherwise it is
//! time-based; it is printed, and named in every failure; the interleaving
//! itself is up to the scheduler). Soak, in release mode (one test, or all):
//!
//! ```sh
//! EVENTSIG_STRESS_EVENTS=1000000000 cargo test --release --test stress -- --test-threads 1
//! ```
//!
//! prints progress every 10^8 events and a final line per test (events/s,
//! lost, doorbell writes per event) straight to stderr.
//!
//! No sleep synchronises anything: threads meet through atomics, every wait
//! has a deadline, every loop is bounded (by a count or a deadline).

use std::fmt;
use std::hint::spin_loop;
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use eventsig::{
    Delivery, Overflow, Raiser, Receiver, SendError, Sender, Signal, Stats, TryRecvError,
};
use mio::{Events, Interest, Poll, Token};

mod common;
use common::{epoll_watching, xorshift64_star};

/// Deadline of every blocking wait or poll of the consumer: reaching it
/// while anything is outstanding is a lost wake-up.
const LONG: Duration = Duration::from_secs(10);

/// Deadline of a producer or raiser waiting for the consumer; longer than
/// [`LONG`], so a lost wake-up is reported by the sleeping consumer.
const CATCH_UP: Duration = Duration::from_secs(30);

/// Send attempts per test unless `EVENTSIG_STRESS_EVENTS` says otherwise.
const DEFAULT_EVENTS: u64 = if cfg!(miri) { 600 } else { 1_000_000 };

/// Ring capacities each test runs through, sharing its attempts equally:
/// from "almost every attempt is dropped" to "drops are rare".
const CAPACITIES: &[usize] = if cfg!(miri) {
    &[1, 5]
} else {
    &[1, 3, 16, 256, 4096]
};

/// Raiser threads per channel.
const RAISERS: usize = if cfg!(miri) { 1 } else { 2 };

/// Progress is printed every this many events (accounted-for attempts).
const PROGRESS_EVERY: u64 = 100_000_000;

const RX: Token = Token(0);

// ---------------------------------------------------------------------------
// Randomness, configuration, helpers
// ---------------------------------------------------------------------------

/// splitmix64's finaliser: a bijective 64-bit mix (seeds, fingerprints).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// xorshift64*: a tiny PRNG for burst sizes, pauses and choices.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(mix(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        xorshift64_star(&mut self.0)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True once in `n` times on average.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// A bounded random pause: nothing, a spin, or a few yields. Never a
    /// sleep.
    fn pause(&mut self) {
        match self.below(8) {
            0..=2 => {}
            3 | 4 => self.spin(256),
            5 => self.spin(2048),
            _ => {
                for _ in 0..1 + self.below(3) {
                    thread::yield_now();
                }
            }
        }
    }

    /// A longer bounded pause: up to `max` yields (each returns at once
    /// when no other thread wants the CPU, so this is tens of microseconds
    /// at most on an idle core).
    fn idle(&mut self, max: u64) {
        for _ in 0..1 + self.below(scaled(max)) {
            thread::yield_now();
        }
    }

    fn spin(&mut self, max: u64) {
        for _ in 0..self.below(scaled(max)) {
            spin_loop();
        }
    }
}

/// A thread's pace, redrawn every few dozen bursts, so each run mixes
/// floods (the ring overflows), trickles (the consumer often finds nothing
/// and sleeps) and everything between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    Flood,
    Normal,
    Trickle,
}

impl Pace {
    fn draw(rng: &mut Rng) -> (Pace, u64) {
        let pace = match rng.below(4) {
            0 => Pace::Flood,
            1 => Pace::Trickle,
            _ => Pace::Normal,
        };
        (pace, 1 + rng.below(64))
    }
}

/// A pause length, shorter under Miri (~1000x slower).
fn scaled(max: u64) -> u64 {
    if cfg!(miri) {
        (max / 16).max(1)
    } else {
        max
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim().replace('_', "");
    Some(
        v.parse()
            .unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}")),
    )
}

fn events_per_test() -> u64 {
    env_u64("EVENTSIG_STRESS_EVENTS").unwrap_or(DEFAULT_EVENTS)
}

fn base_seed() -> u64 {
    env_u64("EVENTSIG_STRESS_SEED").unwrap_or_else(|| {
        if cfg!(miri) {
            // No wall clock under Miri's isolation.
            return 0x5EED;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        mix(now ^ u64::from(std::process::id()))
    })
}

fn sig(n: usize) -> Signal {
    Signal::new(n as u32).expect("n < 64")
}

/// Names the run in every failure message, with what reproduces its choices.
#[derive(Debug, Clone)]
struct Ctx {
    test: &'static str,
    seed: u64,
    capacity: usize,
    events: u64,
}

impl fmt::Display for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{} EVENTSIG_STRESS_SEED={} capacity {} events {}]",
            self.test, self.seed, self.capacity, self.events
        )
    }
}

/// What the threads of one channel share, besides the channel.
struct Board {
    /// Takes (`take_signals` calls) the consumer has completed; stored with
    /// Release right after each take.
    takes: AtomicU64,
    /// Per signal, the "last raise" record: the largest `takes + 1` any
    /// raiser read (Acquire) right before raising it; 0: never raised.
    ///
    /// Why this makes the S1 check sound: a raiser that read `takes == t`
    /// raised after take number `t` returned (the Release store follows the
    /// take, the Acquire load precedes the raise), so that raise comes after
    /// take `t` in the pending word's modification order, and the first take
    /// after it — which S1 says reports the signal — is numbered `t + 1` or
    /// more. Hence the last take that reported the signal must be numbered
    /// `need` or more; and the final take (after the close, which comes after
    /// every raise) exists, so a correct channel always passes. The check
    /// cannot credit a take that came before a raise with that raise.
    need: [AtomicU64; 64],
    /// Per signal, raise calls made.
    raise_calls: [AtomicU64; 64],
    /// Per signal, the number of the last take that reported it (for
    /// raisers waiting for their raise to be seen).
    reported: [AtomicU64; 64],
    /// The consumer's next expected sequence number: every attempt below it
    /// was delivered or reported lost.
    consumed: AtomicU64,
    /// Producer's attempts so far (diagnostics only).
    attempted: AtomicU64,
    /// Raisers stop when this is set.
    stop_raising: AtomicBool,
    /// Raisers that have dropped their handle and stopped.
    raisers_done: AtomicU64,
    /// Quiet phases the producer has started ...
    quiet_epoch: AtomicU64,
    /// ... and the raisers' acknowledgements of them (one per raiser each).
    quiet_acks: AtomicU64,
    /// The consumer is in (or just before or after) a blocking sleep: a hint
    /// for threads that want to publish while it sleeps.
    sleeping: AtomicBool,
    /// The producer made its last attempt (diagnostics only).
    producer_done: AtomicBool,
    /// Set by a failing thread so the others stop instead of waiting out
    /// their deadlines.
    abort: AtomicBool,
}

impl Board {
    fn new() -> Board {
        Board {
            takes: AtomicU64::new(0),
            need: std::array::from_fn(|_| AtomicU64::new(0)),
            raise_calls: std::array::from_fn(|_| AtomicU64::new(0)),
            reported: std::array::from_fn(|_| AtomicU64::new(0)),
            consumed: AtomicU64::new(0),
            attempted: AtomicU64::new(0),
            stop_raising: AtomicBool::new(false),
            raisers_done: AtomicU64::new(0),
            quiet_epoch: AtomicU64::new(0),
            quiet_acks: AtomicU64::new(0),
            sleeping: AtomicBool::new(false),
            producer_done: AtomicBool::new(false),
            abort: AtomicBool::new(false),
        }
    }

    fn aborted(&self) -> bool {
        // Relaxed: only a hint to stop early.
        self.abort.load(Ordering::Relaxed)
    }
}

/// Sets [`Board::abort`] when the thread holding it panics.
struct AbortOnPanic<'a>(&'a Board);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.abort.store(true, Ordering::Relaxed);
        }
    }
}

/// Gives the consumer a moment to go to sleep: yields until it says it is
/// about to (a hint, at most a few thousand yields, no failure if it does
/// not), then spins a random while, so what comes next lands at random
/// points of its way into the sleep.
fn until_asleep(board: &Board, rng: &mut Rng) {
    for _ in 0..scaled(4096) {
        // Relaxed: a hint.
        if board.sleeping.load(Ordering::Relaxed) || board.aborted() {
            break;
        }
        thread::yield_now();
    }
    rng.spin(4096);
}

/// Spins, then yields, until `cond` holds; panics after [`CATCH_UP`].
/// Returns early (false) if another thread failed.
fn await_cond(board: &Board, ctx: &Ctx, what: &dyn Fn() -> String, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + CATCH_UP;
    // Bounded by the deadline.
    for i in 0u64.. {
        if cond() || board.aborted() {
            return;
        }
        if i < 128 {
            spin_loop();
            continue;
        }
        thread::yield_now();
        if i % 128 == 0 && Instant::now() > deadline {
            board.abort.store(true, Ordering::Relaxed);
            panic!(
                "{ctx}: waited {CATCH_UP:?} for {} (a consumer that was never woken?)",
                what()
            );
        }
    }
}

/// The exact S10 bound, read off `doorbell.rs` and `channel.rs`: the park
/// flag is set only in `Doorbell::park`, called only by `Receiver::park`,
/// which counts `parks` (in `wait`, and in `arm` at the end of a drain, on an
/// empty `try_recv` and on the fd's first hand-out). Every eventfd write goes
/// through `Doorbell::ring`, called only after winning a `swap(true ->
/// false)` of that flag: by a producer (`ring_if_parked` ->
/// `claim_and_ring`, after a send, a drop, a raise or the close) or by the
/// receiver's own epoll self-ring (`ring_self`, when the re-check after
/// parking finds something pending, or the close). Each `false -> true`
/// store is won back at most once, so `doorbell_writes <= parks`: the "+1"
/// one might allow for the close is not needed, the close write claims a
/// park like any other.
#[track_caller]
fn assert_writes_within_parks(ctx: &Ctx, stats: Stats) {
    assert!(
        stats.doorbell_writes <= stats.parks,
        "{ctx}: S10: more eventfd writes than parks: {stats}"
    );
}

// ---------------------------------------------------------------------------
// Producer and raisers
// ---------------------------------------------------------------------------

/// The producer's own account, returned from its thread.
#[derive(Debug, Default, Clone, Copy)]
struct Produced {
    /// Send attempts (= sequence numbers used).
    attempts: u64,
    accepted: u64,
    dropped: u64,
    /// Sum of `mix(seq)` over the accepted attempts.
    fingerprint: u64,
    /// Times it stopped to let the consumer catch up.
    catch_ups: u64,
}

fn produce(mut tx: Sender<u64>, board: &Board, ctx: &Ctx, mut rng: Rng) -> Produced {
    let _abort = AbortOnPanic(board);
    let cap = tx.capacity() as u64;
    let mut p = Produced::default();
    // The last attempts, made just before the sender is dropped (see the
    // close orders below).
    let last_burst = (1 + rng.below(2 * cap + 2)).min(ctx.events);
    let (mut pace, mut pace_left) = Pace::draw(&mut rng);
    // Bounded: every iteration makes at least one attempt or stops.
    while p.attempts < ctx.events - last_burst && !board.aborted() {
        if pace_left == 0 {
            (pace, pace_left) = Pace::draw(&mut rng);
        }
        pace_left -= 1;
        let left = ctx.events - last_burst - p.attempts;
        let burst = match (pace, rng.below(4)) {
            (Pace::Trickle, _) | (_, 0) => 1 + rng.below(4),
            (_, 1) => 1 + rng.below(cap + 1),
            (_, 2) => 1 + rng.below(2 * cap + 2),
            (Pace::Flood, _) => 1 + rng.below((4 * cap).max(1024)),
            _ => 1 + rng.below(256),
        }
        .min(left);
        if rng.one_in(16) {
            // `send_iter`: accepts while there is room; the rest are not
            // attempts and keep their sequence numbers for later.
            let mut items = p.attempts..p.attempts + burst;
            let sent = tx.send_iter(&mut items) as u64;
            assert!(sent <= burst, "{ctx}: send_iter sent more than offered");
            assert_eq!(
                items.next(),
                (sent < burst).then_some(p.attempts + sent),
                "{ctx}: send_iter took items it did not send"
            );
            for seq in p.attempts..p.attempts + sent {
                p.fingerprint = p.fingerprint.wrapping_add(mix(seq));
            }
            p.accepted += sent;
            p.attempts += sent;
            if sent == 0 {
                // The ring is full: one ordinary attempt, so the loop moves.
                send_one(&mut tx, &mut p, false, ctx);
            }
        } else {
            let careful = rng.one_in(8);
            for _ in 0..burst {
                let room = careful && tx.free_slots() > 0;
                send_one(&mut tx, &mut p, room, ctx);
            }
        }
        // Relaxed: diagnostics.
        board.attempted.store(p.attempts, Ordering::Relaxed);
        if rng.one_in(16) {
            catch_up(board, ctx, &mut p);
            if rng.one_in(2) {
                quiet_phase(board, ctx);
            } else if rng.one_in(2) {
                until_asleep(board, &mut rng);
            }
        } else {
            match pace {
                Pace::Flood => {}
                Pace::Normal => rng.pause(),
                Pace::Trickle => rng.idle(16),
            }
        }
    }
    // The close, in one of three orders (the first twice as often).
    let close = rng.below(4).saturating_sub(1);
    if close < 2 {
        // The raisers drop their handles first; then the last burst, and the
        // close (`tx` is dropped on return): right after it (0), with events
        // and maybe a gap still pending, or once the consumer has caught up
        // and may be asleep (1).
        board.stop_raising.store(true, Ordering::Release);
        await_cond(
            board,
            ctx,
            &|| "the raisers to finish".to_string(),
            // Acquire: pairs with the raisers' Release increment.
            || board.raisers_done.load(Ordering::Acquire) == RAISERS as u64,
        );
    }
    while p.attempts < ctx.events && !board.aborted() {
        send_one(&mut tx, &mut p, false, ctx);
    }
    if close > 0 {
        catch_up(board, ctx, &mut p);
        until_asleep(board, &mut rng);
    }
    if close == 2 {
        // The sender goes first; the last raiser to stop closes the channel.
        board.stop_raising.store(true, Ordering::Release);
    }
    board.attempted.store(p.attempts, Ordering::Relaxed);
    board.producer_done.store(true, Ordering::Relaxed);
    p
}

/// Stops until the consumer has accounted for every attempt: if it sleeps,
/// only the doorbell for our last event or gap (S7: even while the ring
/// stays full) can wake it.
fn catch_up(board: &Board, ctx: &Ctx, p: &mut Produced) {
    p.catch_ups += 1;
    let target = p.attempts;
    await_cond(
        board,
        ctx,
        &|| {
            format!(
                "the consumer to account for attempts 0..{target} (it is at {})",
                board.consumed.load(Ordering::Relaxed)
            )
        },
        // Acquire: a hint; exactness comes from the consumer's checks.
        || board.consumed.load(Ordering::Acquire) >= target,
    );
}

/// With the consumer caught up, lets every raiser raise one signal and wait
/// for its report while we send nothing: only the raise's doorbell can wake
/// a sleeping consumer (S1, S9 for signals).
fn quiet_phase(board: &Board, ctx: &Ctx) {
    let epoch = board.quiet_epoch.fetch_add(1, Ordering::AcqRel) + 1;
    await_cond(
        board,
        ctx,
        &|| format!("every raiser to see its raise of quiet phase {epoch} reported"),
        // Acquire: pairs with the raisers' Release increment.
        || board.quiet_acks.load(Ordering::Acquire) >= epoch * RAISERS as u64,
    );
}

fn send_one(tx: &mut Sender<u64>, p: &mut Produced, room: bool, ctx: &Ctx) {
    let seq = p.attempts;
    match tx.send(seq) {
        Ok(()) => {
            p.accepted += 1;
            p.fingerprint = p.fingerprint.wrapping_add(mix(seq));
        }
        Err(SendError::Full(v)) => {
            assert_eq!(v, seq, "{ctx}: S5: Full handed back another value");
            assert!(
                !room,
                "{ctx}: free_slots() > 0, yet send({seq}) was dropped"
            );
            p.dropped += 1;
        }
        Err(SendError::Closed(_)) => {
            panic!("{ctx}: send({seq}) returned Closed while the receiver is alive")
        }
    }
    p.attempts += 1;
}

/// Raises random signals until the producer says stop (or the run's time
/// budget is spent); returns the raise calls made.
fn raise_loop(raiser: Raiser, board: &Board, ctx: &Ctx, mut rng: Rng, budget: Instant) -> u64 {
    let abort = AbortOnPanic(board);
    let mut calls = 0u64;
    let mut epoch = 0;
    let (mut pace, mut pace_left) = Pace::draw(&mut rng);
    // Bounded by the time budget.
    while !board.stop_raising.load(Ordering::Acquire) && !board.aborted() && Instant::now() < budget
    {
        // Acquire: pairs with the producer's increment.
        let quiet = board.quiet_epoch.load(Ordering::Acquire);
        if quiet > epoch {
            // The producer waits and the consumer has caught up: our raise
            // alone must wake it.
            if rng.one_in(2) {
                until_asleep(board, &mut rng);
            }
            let n = rng.below(64) as usize;
            let need = tracked_raise(&raiser, board, ctx, n);
            calls += 1;
            await_report(board, ctx, n, need);
            epoch = quiet;
            // Release: pairs with the producer's Acquire load.
            board.quiet_acks.fetch_add(1, Ordering::Release);
            continue;
        }
        if pace_left == 0 {
            (pace, pace_left) = Pace::draw(&mut rng);
        }
        pace_left -= 1;
        let mut last = (0, 0);
        for _ in 0..1 + rng.below(8) {
            let n = if rng.one_in(2) {
                rng.below(4)
            } else {
                rng.below(64)
            } as usize;
            last = (n, tracked_raise(&raiser, board, ctx, n));
            calls += 1;
        }
        if rng.one_in(32) {
            await_report(board, ctx, last.0, last.1);
        } else {
            match pace {
                Pace::Flood => rng.pause(),
                Pace::Normal => rng.idle(8),
                // Quiet stretches: the consumer gets to sleep.
                Pace::Trickle => rng.idle(256),
            }
        }
    }
    // The handle goes before we say we are done: the `Sender` is then the
    // last one, and the close comes right after the producer's last burst.
    drop(raiser);
    drop(abort);
    // Release: pairs with the producer's Acquire load.
    board.raisers_done.fetch_add(1, Ordering::Release);
    calls
}

/// Raises signal `n`, recording the "last raise" stamp; returns the number
/// a take reporting this raise must have at least (see [`Board::need`]).
fn tracked_raise(raiser: &Raiser, board: &Board, ctx: &Ctx, n: usize) -> u64 {
    // Acquire: pairs with the consumer's Release store after a take, so that
    // take happened before this raise (see `Board::need`).
    let seen = board.takes.load(Ordering::Acquire);
    raiser
        .raise(sig(n))
        .unwrap_or_else(|e| panic!("{ctx}: raise while the receiver is alive: {e}"));
    // Relaxed: read after the join.
    board.need[n].fetch_max(seen + 1, Ordering::Relaxed);
    board.raise_calls[n].fetch_add(1, Ordering::Relaxed);
    seen + 1
}

/// Stops until a take numbered `need` or later has reported signal `n`.
fn await_report(board: &Board, ctx: &Ctx, n: usize, need: u64) {
    await_cond(
        board,
        ctx,
        &|| format!("a take numbered >= {need} to report signal {n}"),
        // Acquire: a hint; the final S1 check is exact.
        || board.reported[n].load(Ordering::Acquire) >= need,
    );
}

// ---------------------------------------------------------------------------
// Consumer
// ---------------------------------------------------------------------------

/// How the consumer sleeps.
enum Sleeper {
    /// `Receiver::wait(Some(deadline))`; the fd is never handed out.
    Wait,
    /// mio (epoll, edge-triggered) with the receiver registered.
    Mio { poll: Poll, events: Events },
    /// Raw epoll, level-triggered, on `as_raw_fd()`.
    Level { epoll: OwnedFd },
    /// Never blocks: spins and yields instead; never hands out the fd.
    Busy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wait,
    Mio,
    Level,
    Busy,
}

impl Sleeper {
    fn new(kind: Kind, rx: &mut Receiver<u64>) -> Sleeper {
        match kind {
            Kind::Wait => Sleeper::Wait,
            Kind::Busy => Sleeper::Busy,
            Kind::Mio => {
                let poll = Poll::new().expect("epoll_create1");
                // Registering hands out the fd: the receiver parks right away.
                poll.registry()
                    .register(rx, RX, Interest::READABLE)
                    .expect("register the receiver");
                Sleeper::Mio {
                    poll,
                    events: Events::with_capacity(4),
                }
            }
            Kind::Level => {
                // `as_raw_fd` hands out the fd: the receiver parks right away.
                let fd = rx.as_raw_fd();
                let epoll = epoll_watching(fd, libc::EPOLLIN, RX.0 as u64);
                Sleeper::Level { epoll }
            }
        }
    }

    /// Blocks until the receiver is ready or `timeout` passes; whether it
    /// was woken.
    fn sleep(&mut self, rx: &mut Receiver<u64>, timeout: Duration) -> bool {
        match self {
            Sleeper::Wait => rx.wait(Some(timeout)).expect("wait"),
            Sleeper::Busy => {
                thread::yield_now();
                true
            }
            Sleeper::Mio { poll, events } => {
                let deadline = Instant::now() + timeout;
                // Bounded by the deadline (mio rounds a timeout up to 1 ms).
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match poll.poll(events, Some(left)) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => panic!("epoll_wait: {e}"),
                    }
                    if !events.is_empty() {
                        assert!(
                            events.iter().all(|e| e.token() == RX && e.is_readable()),
                            "mio reported something other than the receiver readable"
                        );
                        return true;
                    }
                    if left.is_zero() {
                        return false;
                    }
                }
            }
            Sleeper::Level { epoll } => epoll_ready(epoll, timeout),
        }
    }
}

/// Waits for the level-triggered epoll instance to report the receiver's
/// fd readable, `timeout` at most.
fn epoll_ready(epoll: &OwnedFd, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // Bounded by the deadline.
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis() + u128::from(left.subsec_nanos() % 1_000_000 != 0);
        let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
        // SAFETY: `evs` is a valid buffer of 4 events for the call's duration.
        let n = unsafe { libc::epoll_wait(epoll.as_raw_fd(), evs.as_mut_ptr(), 4, ms) };
        if n > 0 {
            let ev = evs[0];
            let (events, data) = (ev.events, ev.u64);
            assert_eq!(n, 1, "one fd registered, {n} events");
            assert_eq!(data, RX.0 as u64, "epoll reported another fd");
            assert!(
                events & libc::EPOLLIN as u32 != 0,
                "not readable: {events:#x}"
            );
            return true;
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "epoll_wait: {e}");
            continue;
        }
        if left.is_zero() {
            return false;
        }
    }
}

/// How a `try_recv` loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Empty,
    Closed,
    Budget,
}

/// Cumulative figures of one test, for progress and the final line.
struct Progress {
    start: Instant,
    /// Attempts accounted for in the finished runs.
    events: u64,
    delivered: u64,
    lost: u64,
    writes: u64,
    parks: u64,
    next_mark: u64,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            start: Instant::now(),
            events: 0,
            delivered: 0,
            lost: 0,
            writes: 0,
            parks: 0,
            next_mark: PROGRESS_EVERY,
        }
    }
}

/// The consumer's state and its checks.
struct Consumer<'a> {
    board: &'a Board,
    ctx: &'a Ctx,
    kind: Kind,
    rng: Rng,
    capacity: u64,
    /// Sequence number the next delivery must start at.
    next: u64,
    delivered: u64,
    /// Sum of `Lost.count`.
    lost: u64,
    gaps: u64,
    /// Sum of `mix(payload)` over the delivered events.
    fingerprint: u64,
    /// Sum of `lost()` of the acknowledged overflows.
    acked: u64,
    /// Largest `acked + overflow().lost()` seen: never goes down (S8).
    ov_total: u64,
    /// An overflow total read before the current drain: the next complete
    /// drain must have reported at least that many lost (S7).
    ov_check: Option<u64>,
    /// An overflow read earlier, to be acknowledged later (after more drops
    /// may have happened: it must clear only what it saw).
    pending_ack: Option<Overflow>,
    takes: u64,
    /// Per signal: takes that reported it, and the number of the last one.
    reports: [u64; 64],
    last_report: [u64; 64],
    closed: bool,
    sleeps: u64,
    progress: &'a mut Progress,
}

impl Consumer<'_> {
    fn see(&mut self, d: Delivery<u64>) {
        let ctx = self.ctx;
        match d {
            Delivery::Event(p) => {
                if p != self.next {
                    if p > self.next {
                        panic!(
                            "{ctx}: S6/S7: event {p} delivered where {} was due, with no Lost marker for {}..{p}",
                            self.next, self.next
                        );
                    }
                    panic!(
                        "{ctx}: S3: event {p} delivered after {} was accounted for (duplicate, reordered, or covered by a Lost marker)",
                        self.next - 1
                    );
                }
                self.next = p + 1;
                self.delivered += 1;
                self.fingerprint = self.fingerprint.wrapping_add(mix(p));
            }
            Delivery::Lost { first, count } => {
                assert_eq!(
                    first, self.next,
                    "{ctx}: S7: Lost {{ first: {first}, count: {count} }} does not start where the stream is (next due {})",
                    self.next
                );
                assert!(count > 0, "{ctx}: Lost {{ first: {first}, count: 0 }}");
                self.next = first + count;
                self.lost += count;
                self.gaps += 1;
            }
        }
    }

    /// Everything the last overflow read counted has been reported in the
    /// stream: called once a drain or `try_recv` that started after that read
    /// has seen everything pending.
    fn saw_everything(&mut self) {
        if let Some(total) = self.ov_check.take() {
            assert!(
                self.lost >= total,
                "{}: S7/S8: overflow() counted {total} drops, but a complete drain after it reported only {} lost",
                self.ctx,
                self.lost
            );
        }
    }

    fn publish(&self) {
        // Release: a hint for the producer's catch-up.
        self.board.consumed.store(self.next, Ordering::Release);
    }

    fn take(&mut self, rx: &mut Receiver<u64>) {
        let set = rx.take_signals();
        self.takes += 1;
        let k = self.takes;
        for s in set.iter() {
            let n = s.number() as usize;
            self.reports[n] += 1;
            self.last_report[n] = k;
            // Release: a hint for a raiser waiting for this report.
            self.board.reported[n].store(k, Ordering::Release);
        }
        // Release: pairs with the raisers' Acquire load (see `Board::need`).
        self.board.takes.store(k, Ordering::Release);
    }

    /// Drains at most `limit` deliveries; whether the drain ran to its end.
    fn drain(&mut self, rx: &mut Receiver<u64>, limit: u64) -> bool {
        // A drain covers what was pending when it started: at most
        // `capacity` events, each after at most one gap, and one trailing gap.
        let bound = 2 * self.capacity + 1;
        let mut n = 0u64;
        let mut it = rx.drain();
        // Bounded by `bound` (asserted) and `limit`.
        let complete = loop {
            if n == limit {
                break false;
            }
            match it.next() {
                Some(d) => {
                    n += 1;
                    assert!(
                        n <= bound,
                        "{}: a drain yielded more than 2 * capacity + 1 deliveries: it does not end",
                        self.ctx
                    );
                    self.see(d);
                    if self.rng.one_in(64) {
                        // Stall inside the drain: the producer keeps
                        // sending, the drain must still end.
                        self.rng.pause();
                    }
                }
                None => break true,
            }
        };
        drop(it);
        if complete {
            self.saw_everything();
        }
        self.publish();
        complete
    }

    fn try_recv(&mut self, rx: &mut Receiver<u64>, budget: u64) -> Stop {
        let mut stop = Stop::Budget;
        for _ in 0..budget {
            match rx.try_recv() {
                Ok(d) => self.see(d),
                Err(TryRecvError::Empty) => {
                    self.saw_everything();
                    stop = Stop::Empty;
                    break;
                }
                Err(TryRecvError::Closed) => {
                    assert!(
                        rx.is_closed(),
                        "{}: try_recv said Closed, is_closed() says not",
                        self.ctx
                    );
                    self.saw_everything();
                    self.closed = true;
                    stop = Stop::Closed;
                    break;
                }
            }
        }
        self.publish();
        stop
    }

    fn overflow(&mut self, rx: &mut Receiver<u64>) {
        if let Some(ov) = self.pending_ack.take() {
            rx.acknowledge(ov);
            self.acked += ov.lost();
        }
        let ov = rx.overflow();
        let total = self.acked + ov.map_or(0, |o| o.lost());
        assert!(
            total >= self.ov_total,
            "{}: S8: the overflow total went down from {} to {total} (acknowledged {})",
            self.ctx,
            self.ov_total,
            self.acked
        );
        self.ov_total = total;
        self.ov_check = Some(total);
        if let Some(ov) = ov {
            assert!(
                ov.lost() > 0,
                "{}: Some(Overflow) with lost() == 0",
                self.ctx
            );
            match self.rng.below(3) {
                0 => {
                    rx.acknowledge(ov);
                    self.acked += ov.lost();
                }
                1 => self.pending_ack = Some(ov),
                _ => {}
            }
        }
    }

    fn lost_wake_up(&mut self, rx: &mut Receiver<u64>) -> ! {
        self.board.abort.store(true, Ordering::Relaxed);
        let pending = rx.pending_signals();
        let closed = rx.is_closed();
        let stats = rx.stats();
        let now = rx.try_recv();
        panic!(
            "{}: lost wake-up: the {:?} consumer slept for its whole deadline ({LONG:?}). \
             Then: pending signals {pending:?}, closed {closed}, try_recv {now:?}; \
             consumer at {} ({} sleeps, {} takes); producer at {} (done: {}); {stats}",
            self.ctx,
            self.kind,
            self.next,
            self.sleeps,
            self.takes,
            self.board.attempted.load(Ordering::Relaxed),
            self.board.producer_done.load(Ordering::Relaxed),
        );
    }

    /// One random operation other than sleeping.
    fn random_op(&mut self, rx: &mut Receiver<u64>) {
        let partial = 1 + self.rng.below(2 * self.capacity + 2);
        match self.rng.below(8) {
            0 | 1 => self.take(rx),
            2 => {
                self.drain(rx, u64::MAX);
            }
            3 => {
                self.drain(rx, partial);
            }
            4 => {
                self.try_recv(rx, partial);
            }
            5 => self.overflow(rx),
            _ => self.rng.pause(),
        }
    }

    /// The last operation of a round; whether the consumer may then sleep.
    /// Once its fd is handed out, the receiver parks at the end of every
    /// drain, on an empty `try_recv` and when `wait` returns `false`
    /// (`src/channel.rs`), so an epoll consumer sleeps only after one of
    /// those. An edge-triggered one also must not sleep once it knows the
    /// channel is closed: the fd stays readable but gets no new edge.
    fn final_op(&mut self, rx: &mut Receiver<u64>) -> bool {
        let partial = 1 + self.rng.below(2 * self.capacity + 2);
        let armed = match self.rng.below(4) {
            0 => {
                self.drain(rx, u64::MAX);
                true
            }
            1 => {
                self.drain(rx, partial);
                true
            }
            2 => self.try_recv(rx, partial) == Stop::Empty,
            _ => {
                // A short `wait`; `false` parks an exposed receiver. (The
                // busy consumer must not park: a zero timeout never does.)
                let t = if self.kind == Kind::Busy {
                    Duration::ZERO
                } else {
                    Duration::from_micros(self.rng.below(2) * self.rng.below(20))
                };
                !rx.wait(Some(t)).expect("wait")
            }
        };
        match self.kind {
            Kind::Wait | Kind::Busy => true,
            Kind::Level => armed,
            Kind::Mio => armed && !rx.is_closed(),
        }
    }

    fn progress(&mut self, rx: &Receiver<u64>) {
        let done = self.progress.events + self.next;
        if done < self.progress.next_mark {
            return;
        }
        let p = &mut *self.progress;
        p.next_mark = (done / PROGRESS_EVERY + 1) * PROGRESS_EVERY;
        let st = rx.stats();
        let secs = p.start.elapsed().as_secs_f64();
        // Straight to stderr: shown even when the test harness captures.
        let _ = writeln!(
            io::stderr(),
            "stress {}: {done} events in {secs:.1} s ({:.2} M/s), lost {}, doorbell writes {}, parks {}",
            self.ctx.test,
            done as f64 / secs / 1e6,
            p.lost + self.lost,
            p.writes + st.doorbell_writes,
            p.parks + st.parks,
        );
    }

    /// Rounds of: maybe sleep, random operations, a final drain or
    /// `try_recv`; until `Closed`.
    fn run(&mut self, rx: &mut Receiver<u64>, sleeper: &mut Sleeper, budget: Instant) {
        let mut may_sleep = true; // the fd hand-out parked an epoll consumer
        let max_rounds = 64 * self.ctx.events + 1_000_000;
        for round in 0..max_rounds {
            if self.closed {
                return;
            }
            if round % 1024 == 0 {
                self.progress(rx);
                assert!(
                    Instant::now() < budget,
                    "{}: time budget exhausted at {} of {} events",
                    self.ctx,
                    self.next,
                    self.ctx.events
                );
            }
            if may_sleep && self.rng.one_in(2) {
                self.sleeps += 1;
                if self.kind == Kind::Wait {
                    // With the spin phase off, `wait` parks whenever nothing
                    // is pending.
                    rx.set_wait_spin(self.rng.one_in(2));
                }
                // Relaxed (both): a hint for threads that want to act while
                // the consumer sleeps.
                self.board.sleeping.store(true, Ordering::Relaxed);
                let slept = Instant::now();
                let woke = sleeper.sleep(rx, LONG);
                self.board.sleeping.store(false, Ordering::Relaxed);
                // `wait` re-checks after its timeout and then reports what
                // became pending meanwhile: a sleep that lasted the whole
                // deadline was not woken either.
                if !woke || slept.elapsed() >= LONG {
                    self.lost_wake_up(rx);
                }
            } else if self.rng.one_in(8) {
                // A zero or tiny timeout: its result is not checked; it
                // parks and unparks in races with the producers.
                let t = Duration::from_micros(self.rng.below(3) * self.rng.below(40));
                let _ = sleeper.sleep(rx, t);
            }
            if self.rng.one_in(8) {
                self.rng.pause();
            }
            for _ in 0..self.rng.below(4) {
                self.random_op(rx);
                if self.closed {
                    return;
                }
            }
            may_sleep = self.final_op(rx);
        }
        panic!(
            "{}: {max_rounds} consumer rounds without the close ({} of {} events)",
            self.ctx, self.next, self.ctx.events
        );
    }
}

// ---------------------------------------------------------------------------
// One channel, one test
// ---------------------------------------------------------------------------

fn run_channel(kind: Kind, ctx: &Ctx, progress: &mut Progress) {
    let (tx, mut rx) = eventsig::channel::<u64>(ctx.capacity).expect("channel");
    let board = Arc::new(Board::new());
    let budget = Instant::now()
        + Duration::from_secs(120)
        + Duration::from_micros(ctx.events.saturating_mul(50));
    let raisers: Vec<_> = (0..RAISERS)
        .map(|i| {
            let r = tx.raiser();
            let board = Arc::clone(&board);
            let ctx = ctx.clone();
            let rng = Rng::new(ctx.seed ^ mix(100 + i as u64));
            thread::Builder::new()
                .name(format!("raiser {i}"))
                .spawn(move || raise_loop(r, &board, &ctx, rng, budget))
                .expect("spawn a raiser")
        })
        .collect();
    let mut sleeper = Sleeper::new(kind, &mut rx);
    let producer = {
        let board = Arc::clone(&board);
        let ctx = ctx.clone();
        let rng = Rng::new(ctx.seed ^ mix(1));
        thread::Builder::new()
            .name("producer".into())
            .spawn(move || produce(tx, &board, &ctx, rng))
            .expect("spawn the producer")
    };

    let mut c = Consumer {
        board: &board,
        ctx,
        kind,
        rng: Rng::new(ctx.seed ^ mix(2)),
        capacity: ctx.capacity as u64,
        next: 0,
        delivered: 0,
        lost: 0,
        gaps: 0,
        fingerprint: 0,
        acked: 0,
        ov_total: 0,
        ov_check: None,
        pending_ack: None,
        takes: 0,
        reports: [0; 64],
        last_report: [0; 64],
        closed: false,
        sleeps: 0,
        progress,
    };
    {
        let _abort = AbortOnPanic(&board);
        c.run(&mut rx, &mut sleeper, budget);
    }

    // Closed was seen: S11 says it is final.
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Closed),
        "{ctx}: S11: Closed did not stay"
    );
    assert!(
        rx.drain().next().is_none(),
        "{ctx}: S11: a delivery after Closed"
    );
    assert!(
        rx.wait(Some(Duration::ZERO)).expect("wait"),
        "{ctx}: S11: wait() after the close says nothing is ready"
    );

    let produced = producer.join().expect("the producer panicked");
    let raise_calls: u64 = raisers
        .into_iter()
        .map(|r| r.join().expect("a raiser panicked"))
        .sum();
    // Every handle is gone and its threads joined: any close write landed.
    if let Sleeper::Level { epoll } = &sleeper {
        assert!(
            epoll_ready(epoll, Duration::ZERO),
            "{ctx}: S11: after the close the fd is not readable (level-triggered epoll)"
        );
    }

    // S11: Closed came only after every attempt was accounted for.
    assert_eq!(
        c.next, produced.attempts,
        "{ctx}: S11: Closed was reported with attempts {}..{} unaccounted for",
        c.next, produced.attempts
    );
    // S6: conservation, and the gaps are exactly the drops.
    assert_eq!(
        c.delivered + c.lost,
        produced.attempts,
        "{ctx}: S6: delivered {} + lost {} != attempted {}",
        c.delivered,
        c.lost,
        produced.attempts
    );
    assert_eq!(
        c.delivered, produced.accepted,
        "{ctx}: delivered != accepted"
    );
    assert_eq!(
        c.lost, produced.dropped,
        "{ctx}: sum of Lost.count != drops"
    );
    assert_eq!(
        c.fingerprint, produced.fingerprint,
        "{ctx}: S3: the delivered payloads are not the accepted ones"
    );

    let st = rx.stats();
    assert_eq!(st.sent, produced.attempts, "{ctx}: stats().sent: {st}");
    assert_eq!(st.dropped, produced.dropped, "{ctx}: stats().dropped: {st}");
    assert_eq!(st.delivered, c.delivered, "{ctx}: stats().delivered: {st}");

    // S8: acknowledged + un-acknowledged == dropped.
    if let Some(ov) = c.pending_ack.take() {
        rx.acknowledge(ov);
        c.acked += ov.lost();
    }
    let unacked = rx.overflow().map_or(0, |o| o.lost());
    assert_eq!(
        c.acked + unacked,
        st.dropped,
        "{ctx}: S8: acknowledged {} + un-acknowledged {unacked} != dropped {}",
        c.acked,
        st.dropped
    );
    if let Some(ov) = rx.overflow() {
        rx.acknowledge(ov);
    }
    assert!(
        rx.overflow().is_none(),
        "{ctx}: S8: acknowledging everything left an overflow"
    );

    // S1, S2: the final take comes after every raise (the close came after
    // every raiser was dropped).
    c.take(&mut rx);
    let mut raised_signals = 0;
    for n in 0..64 {
        let calls = board.raise_calls[n].load(Ordering::Relaxed);
        let need = board.need[n].load(Ordering::Relaxed);
        if calls == 0 {
            assert_eq!(
                c.reports[n], 0,
                "{ctx}: signal {n} was reported but never raised"
            );
            continue;
        }
        raised_signals += 1;
        assert!(
            c.last_report[n] >= need,
            "{ctx}: S1: signal {n} was raised after take #{} completed, but the last take that reported it is #{} (of {})",
            need - 1,
            c.last_report[n],
            c.takes
        );
        assert!(
            c.reports[n] <= calls,
            "{ctx}: S2: signal {n} reported {} times for {calls} raises",
            c.reports[n]
        );
    }
    assert!(
        rx.take_signals().is_empty(),
        "{ctx}: a signal after the final take"
    );
    let st = rx.stats();
    let reported: u64 = c.reports.iter().sum();
    assert_eq!(
        st.raised, reported,
        "{ctx}: stats().raised != signals reported: {st}"
    );
    assert!(
        st.raised <= raise_calls,
        "{ctx}: more signals raised than raise calls: {st}"
    );

    // S10.
    assert_writes_within_parks(ctx, st);
    if kind == Kind::Busy {
        assert_eq!(
            (st.doorbell_writes, st.parks),
            (0, 0),
            "{ctx}: S10: a receiver that never hands out its fd nor waits must never park nor be rung: {st}"
        );
    }

    eprintln!(
        "{ctx}: {} delivered, {} lost in {} gaps, {} acked; {} takes of {raised_signals} signals from {raise_calls} raises; {} sleeps, {} catch-ups; {st}",
        c.delivered, c.lost, c.gaps, c.acked, c.takes, c.sleeps, produced.catch_ups
    );
    c.progress.events += produced.attempts;
    c.progress.delivered += c.delivered;
    c.progress.lost += c.lost;
    c.progress.writes += st.doorbell_writes;
    c.progress.parks += st.parks;
}

fn stress(test: &'static str, kind: Kind) {
    let events = events_per_test();
    let seed = base_seed();
    eprintln!("{test}: EVENTSIG_STRESS_SEED={seed} EVENTSIG_STRESS_EVENTS={events}");
    let mut progress = Progress::new();
    let per = (events / CAPACITIES.len() as u64).max(1);
    for (i, &capacity) in CAPACITIES.iter().enumerate() {
        let ctx = Ctx {
            test,
            seed: seed ^ mix(i as u64),
            capacity,
            events: per,
        };
        run_channel(kind, &ctx, &mut progress);
    }
    let secs = progress.start.elapsed().as_secs_f64();
    let line = format!(
        "stress {test}: {} events in {secs:.2} s: {:.0} events/s, delivered {}, lost {} ({:.1}%), doorbell writes {} ({:.5} per event), parks {}",
        progress.events,
        progress.events as f64 / secs,
        progress.delivered,
        progress.lost,
        100.0 * progress.lost as f64 / progress.events.max(1) as f64,
        progress.writes,
        progress.writes as f64 / progress.events.max(1) as f64,
        progress.parks,
    );
    if events >= PROGRESS_EVERY {
        let _ = writeln!(io::stderr(), "{line}");
    } else {
        eprintln!("{line}");
    }
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// A consumer that blocks in `wait(Some(10 s))`.
#[test]
fn stress_wait_consumer() {
    stress("stress_wait_consumer", Kind::Wait);
}

/// A consumer registered with mio (edge-triggered epoll), polling with a
/// 10 s deadline after a drain or an empty `try_recv`.
#[test]
fn stress_mio_consumer() {
    stress("stress_mio_consumer", Kind::Mio);
}

/// A consumer on raw level-triggered epoll over `as_raw_fd()`, sleeping
/// after any drain (partial ones included) or empty `try_recv`.
#[test]
#[cfg_attr(miri, ignore = "Miri emulates edge-triggered epoll only")]
fn stress_epoll_level_triggered_consumer() {
    stress("stress_epoll_level_triggered_consumer", Kind::Level);
}

/// A consumer that never blocks and never hands out its fd: same checks,
/// and not one eventfd write (S10).
#[test]
fn stress_busy_consumer_never_rings() {
    stress("stress_busy_consumer_never_rings", Kind::Busy);
}
