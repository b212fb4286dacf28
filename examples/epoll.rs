//! `epoll`: an eventsig consumer on raw `epoll(7)`, level-triggered and
//! edge-triggered.
//!
//! The receiver's fd (`as_raw_fd`) goes into an epoll instance. One thread
//! sends numbered events (with back-pressure: it sends only when
//! `free_slots() > 0`, so nothing is dropped), in bursts with short pauses
//! so that the consumer keeps falling asleep; two threads raise signals,
//! each after bumping a generation counter, the state the signal tells the
//! consumer to look at. The consumer sleeps in `epoll_wait` and, on each
//! readiness, empties the channel:
//!
//! - **level-triggered** (`EPOLLIN`): `is_closed()`, `take_signals()`, then
//!   one `drain()`. A drain that yielded something leaves the fd readable
//!   (the receiver writes it itself), so the loop comes back once more; a
//!   drain that found nothing parks the receiver, and the fd is not readable
//!   after it while nothing is pending (the loop does not spin). One drain
//!   per readiness is enough.
//! - **edge-triggered** (`EPOLLIN | EPOLLET`): `try_recv()` until
//!   `Err(Empty)` (the receiver parks there) or `Err(Closed)`, then
//!   `take_signals()`. An edge comes only for what becomes pending after
//!   the channel was seen empty, so never sleep before seeing `Empty`.
//!
//! Both styles work with both modes (`tests/epoll.rs` runs all four); the
//! point is the rule: sleep only after the channel was seen empty, and read
//! `is_closed()` *before* the last drain (every send comes before the close).
//!
//! The run exits with status 1 if anything was lost or a wake-up was missed:
//! an event missing, duplicated or out of order, a drop, a signal whose last
//! raise was never reported (the generation the consumer saw on its last
//! take is not the final one), or an `epoll_wait` that timed out while
//! producers were still working (they never pause anywhere near that long).
//!
//! ```text
//! cargo run --release --example epoll                  # both modes
//! cargo run --release --example epoll -- --mode et --events 1000000
//! cargo run --release --example epoll -- --help
//! ```

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use eventsig::{Delivery, Raiser, Receiver, Sender, Signal, TryRecvError};

/// "The configuration changed: re-read it."
const CONFIG: Signal = signal(1);
/// "Statistics were refreshed": raised often, so raises merge.
const STATS: Signal = signal(2);
/// The signals and how often each raiser raises its own.
const RAISERS: [(Signal, u64); 2] = [(CONFIG, 300), (STATS, 3000)];

const CAPACITY: usize = 256;
/// Events per burst before the sender pauses (and the consumer may sleep).
const BURST: u64 = 64;
/// Longer than any pause of a producer: an `epoll_wait` this long while
/// they work is a missed wake-up.
const WAIT_TIMEOUT: Duration = Duration::from_secs(1);

const fn signal(n: u32) -> Signal {
    match Signal::new(n) {
        Ok(s) => s,
        Err(_) => panic!("signal numbers are below 64"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Level,
    Edge,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Level => "level-triggered",
            Mode::Edge => "edge-triggered",
        }
    }
}

struct Options {
    modes: Vec<Mode>,
    events: u64,
}

const USAGE: &str = "usage: epoll [--mode lt|et|both] [--events N]\n\
    \n\
    Runs an eventsig consumer on raw epoll, level-triggered (lt), edge-triggered\n\
    (et) or both (default), with N events (default 100000) and two raiser\n\
    threads. Exits 1 if anything was lost or a wake-up was missed.";

fn parse_args() -> Result<Option<Options>, String> {
    let mut options = Options {
        modes: vec![Mode::Level, Mode::Edge],
        events: 100_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--mode" => {
                options.modes = match args.next().as_deref() {
                    Some("lt") => vec![Mode::Level],
                    Some("et") => vec![Mode::Edge],
                    Some("both") => vec![Mode::Level, Mode::Edge],
                    other => return Err(format!("--mode: expected lt, et or both, got {other:?}")),
                }
            }
            "--events" => {
                options.events = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--events: expected a number")?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(options))
}

// ---------------------------------------------------------------- epoll

/// An epoll instance (`epoll_create1(2)`) watching one fd.
struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: no pointer argument; the result is checked.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh fd that nothing else owns.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    /// `EPOLL_CTL_ADD` for readability, edge-triggered or not.
    fn add(&self, fd: RawFd, mode: Mode) -> io::Result<()> {
        let mut flags = libc::EPOLLIN;
        if mode == Mode::Edge {
            flags |= libc::EPOLLET;
        }
        let mut event = libc::epoll_event {
            events: flags as u32,
            u64: fd as u64,
        };
        // SAFETY: valid fds and a valid event for the duration of the call;
        // the result is checked.
        if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) } < 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `epoll_wait(2)` for at most `timeout`, retried on `EINTR`. Returns
    /// whether the fd is ready (`false`: timed out).
    fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 1];
        loop {
            // SAFETY: room for one event, as the count says; checked.
            let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), 1, ms) };
            if n >= 0 {
                return Ok(n > 0);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

// ---------------------------------------------------------------- producers

/// Sends `0..events` in bursts, never dropping: it sends only when the ring
/// has room (`free_slots() > 0` means the next send is accepted). Stops
/// early if the consumer gave up.
fn sender(mut tx: Sender<u64>, events: u64, gave_up: &AtomicBool) {
    for i in 0..events {
        while tx.free_slots() == 0 {
            // The send that filled the ring rang the consumer's doorbell if
            // it was asleep: room comes soon, unless the consumer failed.
            // Relaxed: a flag with no data behind it.
            if gave_up.load(Ordering::Relaxed) {
                return;
            }
            thread::yield_now();
        }
        if tx.send(i).is_err() {
            return; // the consumer gave up
        }
        if i % BURST == BURST - 1 {
            // Pacing, so that the consumer keeps falling asleep in epoll.
            thread::sleep(Duration::from_micros(20));
        }
    }
}

/// Raises `signal` `raises` times, each time after bumping `generation`.
fn raiser(raiser: Raiser, signal: Signal, raises: u64, generation: &AtomicU64) {
    for i in 0..raises {
        // Release: the consumer that sees the signal (Acquire in the
        // channel) and then loads this counter sees this value or a later one.
        generation.fetch_add(1, Ordering::Release);
        if raiser.raise(signal).is_err() {
            return;
        }
        if i % 8 == 7 {
            thread::sleep(Duration::from_micros(50));
        }
    }
}

// ---------------------------------------------------------------- consumer

/// What the consumer saw.
#[derive(Default)]
struct Seen {
    delivered: u64,
    lost: u64,
    /// Set on the first event out of order.
    disorder: Option<String>,
    /// Per raiser: takes that reported its signal, and the generation read
    /// on the last of them.
    reports: [u64; RAISERS.len()],
    last_generation: [u64; RAISERS.len()],
    wakeups: u64,
    missed: Option<String>,
}

impl Seen {
    fn deliver(&mut self, d: Delivery<u64>) {
        match d {
            Delivery::Event(v) => {
                if v != self.delivered && self.disorder.is_none() {
                    self.disorder = Some(format!("event {v} where {} was due", self.delivered));
                }
                self.delivered += 1;
            }
            Delivery::Lost { count, .. } => self.lost += count,
        }
    }

    /// Looks at the state each reported signal stands for.
    fn signals(&mut self, taken: eventsig::SignalSet, generations: &[AtomicU64]) {
        for (k, (signal, _)) in RAISERS.iter().enumerate() {
            if taken.contains(*signal) {
                self.reports[k] += 1;
                // Acquire: pairs with the raiser's Release increment.
                self.last_generation[k] = generations[k].load(Ordering::Acquire);
            }
        }
    }
}

/// Runs the consumer on `rx` until the channel is closed and empty, or a
/// wake-up is missed.
fn consume(rx: &mut Receiver<u64>, mode: Mode, generations: &[AtomicU64]) -> io::Result<Seen> {
    let epoll = Epoll::new()?;
    // Handing out the fd parks the receiver: we may sleep right away.
    epoll.add(rx.as_raw_fd(), mode)?;
    let mut seen = Seen::default();
    loop {
        let closed = match mode {
            Mode::Level => {
                // The close first: everything sent before it is in the ring
                // for the drain below.
                let closed = rx.is_closed();
                let taken = rx.take_signals();
                seen.signals(taken, generations);
                for d in rx.drain() {
                    seen.deliver(d);
                }
                closed
            }
            Mode::Edge => {
                let closed = loop {
                    match rx.try_recv() {
                        Ok(d) => seen.deliver(d),
                        Err(TryRecvError::Empty) => break false,
                        Err(TryRecvError::Closed) => break true,
                    }
                };
                let taken = rx.take_signals();
                seen.signals(taken, generations);
                closed
            }
        };
        if let Some(ov) = rx.overflow() {
            // Not expected here (the sender uses back-pressure); a real
            // consumer would re-poll the state the events described.
            rx.acknowledge(ov);
        }
        if closed {
            return Ok(seen);
        }
        // Seen empty: the receiver is parked, the fd will become readable
        // for whatever comes next.
        if !epoll.wait(WAIT_TIMEOUT)? {
            seen.missed = Some(format!(
                "epoll_wait timed out after {WAIT_TIMEOUT:?} with producers still running: {:?}",
                rx.stats()
            ));
            return Ok(seen);
        }
        seen.wakeups += 1;
    }
}

/// One run in `mode`; returns whether everything arrived.
fn run(mode: Mode, events: u64) -> io::Result<bool> {
    let (tx, mut rx) =
        eventsig::channel::<u64>(CAPACITY).map_err(|e| io::Error::new(io::ErrorKind::Other, e))?;
    let generations: Vec<AtomicU64> = RAISERS.iter().map(|_| AtomicU64::new(0)).collect();
    let gave_up = AtomicBool::new(false);
    let t0 = Instant::now();
    let seen = thread::scope(|s| {
        for (k, (signal, raises)) in RAISERS.iter().enumerate() {
            let r = tx.raiser();
            let generation = &generations[k];
            s.spawn(move || raiser(r, *signal, *raises, generation));
        }
        let gave_up = &gave_up;
        s.spawn(move || sender(tx, events, gave_up));
        let seen = consume(&mut rx, mode, &generations);
        // Relaxed: see `sender`. Set in every case; only a consumer that
        // stopped early leaves the sender waiting for room.
        gave_up.store(true, Ordering::Relaxed);
        seen
    })?;
    let elapsed = t0.elapsed();
    let stats = rx.stats();

    let mut failures = Vec::new();
    if let Some(m) = &seen.missed {
        failures.push(format!("missed wake-up: {m}"));
    }
    if let Some(d) = &seen.disorder {
        failures.push(format!("out of order: {d}"));
    }
    if seen.delivered != events || seen.lost != 0 || stats.dropped != 0 {
        failures.push(format!(
            "events: {} delivered, {} lost, of {events} sent",
            seen.delivered, seen.lost
        ));
    }
    println!(
        "{}: {} events in {:.3} s, {} lost; {} epoll wake-ups, {} eventfd writes ({:.4} per event), {} parks",
        mode.name(),
        seen.delivered,
        elapsed.as_secs_f64(),
        seen.lost,
        seen.wakeups,
        stats.doorbell_writes,
        stats.doorbell_writes as f64 / events.max(1) as f64,
        stats.parks
    );
    for (k, (signal, raises)) in RAISERS.iter().enumerate() {
        // Acquire: pairs with the raiser's Release increment (the raisers
        // are joined anyway).
        let last = generations[k].load(Ordering::Acquire);
        println!(
            "  {signal}: raised {raises} times, reported {} times (merged), last generation seen {} of {last}",
            seen.reports[k], seen.last_generation[k]
        );
        if seen.last_generation[k] != last || seen.reports[k] == 0 || seen.reports[k] > *raises {
            failures.push(format!("{signal}: the last raise was never reported"));
        }
    }
    for f in &failures {
        println!("  FAILED: {f}");
    }
    Ok(failures.is_empty())
}

fn main() {
    let options = match parse_args() {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("epoll: {e}\n{USAGE}");
            process::exit(2);
        }
    };
    let mut ok = true;
    for mode in options.modes {
        match run(mode, options.events) {
            Ok(true) => {}
            Ok(false) => ok = false,
            Err(e) => {
                eprintln!("epoll: {}: {e}", mode.name());
                process::exit(1);
            }
        }
    }
    if !ok {
        process::exit(1);
    }
    println!("ok: nothing lost, no wake-up missed");
}
