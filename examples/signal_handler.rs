//! `signal_handler`: POSIX signals into an eventsig channel, raised from the
//! signal handler itself: a self-pipe, but coalescing.
//!
//! The classic self-pipe trick writes a byte to a pipe in the handler and
//! lets the event loop read it; a burst of signals fills the pipe with bytes
//! the loop must read one by one, and a full pipe drops them. Here the
//! handler calls [`Raiser::raise`], which is async-signal-safe (no lock, no
//! allocation, at most one `write(2)`, `errno` preserved): a burst of
//! signals becomes one pending bit, reported once by the next
//! `take_signals`, and never lost however long the consumer is away.
//!
//! The program installs handlers for `SIGUSR1` ("reload") and `SIGTERM`
//! ("shut down") with `sigaction(2)` and `SA_RESTART`. Each handler run
//! raises eventsig signal *n* for POSIX signal *n* on a [`Raiser`] kept in a
//! `static OnceLock` (reading an initialised `OnceLock` is one atomic load:
//! no lock), and counts itself. The main thread is the consumer, blocked in
//! [`Receiver::wait`] (without its spin phase, as a daemon would), and takes
//! ~100 µs to "reload" on each `SIGUSR1` it reports: signals that come
//! meanwhile merge into one pending reload. A second thread sends `SIGUSR1`
//! in bursts, each burst by one of three routes:
//!
//! - `raise(3)`: to itself; the handler runs on the sending thread before
//!   `raise` returns;
//! - `kill(getpid(), SIGUSR1)`: to the process; the handler runs on any
//!   thread that does not block it, often the consumer;
//! - `pthread_kill(consumer, SIGUSR1)`: to the consumer thread, blocked in
//!   `poll(2)` inside `wait`: the handler interrupts it (`EINTR`), rings the
//!   eventfd, and `wait` carries on and returns with the signal pending.
//!
//! The sender waits for each handler run to finish before the next signal
//! (so the kernel, which merges a pending standard signal too, runs the
//! handler once per signal). After each burst it raises a third eventsig
//! signal, `PING`, from plain code: a take that reports `PING` comes after
//! every raise of the burst, so by then the consumer must have reported
//! `SIGUSR1` at least once for the burst (S1), and no more often than the
//! handler ran (S2). The consumer acknowledges, and the next burst starts.
//! At the end the sender sends `SIGTERM`, and the consumer shuts down.
//!
//! The run exits with status 1 if a burst was never reported (S1), if a
//! signal was reported more often than its handler ran (S2), or if the
//! consumer's `wait` timed out while a signal was pending (a missed wake-up).
//!
//! ```text
//! cargo run --release --example signal_handler
//! cargo run --release --example signal_handler -- --bursts 10000
//! ```

use std::process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use eventsig::{Raiser, Signal};

/// The handlers' raiser, set once before they are installed.
static RAISER: OnceLock<Raiser> = OnceLock::new();
/// Handler runs that have raised, counted after the raise.
static HANDLER_RUNS: AtomicU64 = AtomicU64::new(0);
/// The burst the sender's latest `PING` asks about (from 1), and the
/// latest burst the consumer has acknowledged.
static REQUEST: AtomicU64 = AtomicU64::new(0);
static ACK: AtomicU64 = AtomicU64::new(0);

/// eventsig signal *n* stands for POSIX signal *n*.
const RELOAD: Signal = signal(libc::SIGUSR1);
const SHUTDOWN: Signal = signal(libc::SIGTERM);
/// Raised by the sender (not by a handler) after each burst.
const PING: Signal = signal(0);

/// What the consumer's (pretend) configuration reload costs.
const RELOAD_TAKES: Duration = Duration::from_micros(100);

/// Longer than any pause of the sender: a `wait` this long while a signal
/// is pending is a missed wake-up.
const WAIT_TIMEOUT: Duration = Duration::from_secs(2);

const fn signal(signo: libc::c_int) -> Signal {
    match Signal::new(signo as u32) {
        Ok(s) => s,
        Err(_) => panic!("POSIX signal numbers used here are below 64"),
    }
}

/// The signal handler: a raise (async-signal-safe), then a count for this
/// demo's bookkeeping (an atomic add is async-signal-safe too).
extern "C" fn on_signal(signo: libc::c_int) {
    if let (Some(raiser), Ok(signal)) = (RAISER.get(), Signal::new(signo as u32)) {
        // Err only once the receiver is gone; nothing to do about it here.
        let _ = raiser.raise(signal);
        // Release: pairs with the Acquire loads of the consumer and sender.
        HANDLER_RUNS.fetch_add(1, Ordering::Release);
    }
}

/// Installs [`on_signal`] for `signo` with `SA_RESTART`.
fn install(signo: libc::c_int) -> std::io::Result<()> {
    // SAFETY: a zeroed `sigaction` is a valid value (empty mask, no flags);
    // the handler only calls async-signal-safe code; the result is checked.
    let r = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigaction(signo, &action, std::ptr::null_mut())
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// How the sender delivers one signal.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// `raise(3)`: to the sending thread itself.
    Raise,
    /// `kill(2)` to the process: any thread may run the handler.
    Kill,
    /// `pthread_kill(3)` to the consumer, blocked in `wait`.
    ToConsumer,
}

const ROUTES: [Route; 3] = [Route::Raise, Route::Kill, Route::ToConsumer];

/// Waits (bounded) until `counter` reaches `target`; false on timeout.
fn until_at_least(counter: &AtomicU64, target: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    // Acquire: pairs with the Release store or add of the counter.
    while counter.load(Ordering::Acquire) < target {
        if Instant::now() >= deadline {
            return false;
        }
        thread::yield_now();
    }
    true
}

/// Sends one signal by `route` and waits until its handler run finished.
fn send(signo: libc::c_int, route: Route, consumer: libc::pthread_t) -> Result<(), String> {
    let before = HANDLER_RUNS.load(Ordering::Acquire);
    // SAFETY: plain integer arguments; `consumer` is the main thread, alive
    // until this thread is joined; the results are checked.
    let r = unsafe {
        match route {
            Route::Raise => libc::raise(signo),
            Route::Kill => libc::kill(libc::getpid(), signo),
            Route::ToConsumer => libc::pthread_kill(consumer, signo),
        }
    };
    if r != 0 {
        return Err(format!("{route:?} failed: {r}"));
    }
    if !until_at_least(&HANDLER_RUNS, before + 1, WAIT_TIMEOUT) {
        return Err(format!("{route:?}: the handler never ran"));
    }
    Ok(())
}

/// The sender thread: `bursts` bursts of `SIGUSR1`, each followed by a
/// `PING` and the consumer's acknowledgement, then `SIGTERM`. Returns the
/// number of signals sent per route.
fn sender(bursts: u64, ping: Raiser, consumer: libc::pthread_t) -> Result<[u64; 3], String> {
    let mut sent = [0u64; 3];
    for burst in 1..=bursts {
        // One route per burst. `raise` bursts are quick (the handler runs
        // on this thread), so they merge the most.
        let r = (burst % 3) as usize;
        let size = match ROUTES[r] {
            Route::Raise => 1 + burst % 32,
            Route::Kill | Route::ToConsumer => 1 + burst % 8,
        };
        for _ in 0..size {
            send(libc::SIGUSR1, ROUTES[r], consumer)?;
            sent[r] += 1;
        }
        // Release: the consumer that takes `PING` (Acquire) sees the request.
        REQUEST.store(burst, Ordering::Release);
        ping.raise(PING).map_err(|e| e.to_string())?;
        if !until_at_least(&ACK, burst, WAIT_TIMEOUT) {
            return Err(format!(
                "burst {burst}: no acknowledgement (missed wake-up?)"
            ));
        }
    }
    send(libc::SIGTERM, Route::Kill, consumer)?;
    Ok(sent)
}

fn main() {
    const USAGE: &str = "usage: signal_handler [--bursts N]\n\n\
        Raises eventsig signals from SIGUSR1/SIGTERM handlers; exits 1 if\n\
        a signal was lost or a wake-up missed.";
    let mut bursts = 300u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            "--bursts" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => bursts = n,
                None => {
                    eprintln!("--bursts: expected a number\n{USAGE}");
                    process::exit(2);
                }
            },
            other => {
                eprintln!("unknown argument {other:?}\n{USAGE}");
                process::exit(2);
            }
        }
    }

    let (tx, mut rx) = match eventsig::channel::<()>(1) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("signal_handler: {e}");
            process::exit(1);
        }
    };
    // Set before the handlers are installed, so they always find it.
    if RAISER.set(tx.raiser()).is_err() {
        unreachable!("set once");
    }
    let ping = tx.raiser();
    drop(tx);
    // A daemon waits long: no spin phase, park in `poll(2)` at once (where
    // the signals sent to this thread interrupt it).
    rx.set_wait_spin(false);
    for signo in [libc::SIGUSR1, libc::SIGTERM] {
        if let Err(e) = install(signo) {
            eprintln!("signal_handler: sigaction({signo}): {e}");
            process::exit(1);
        }
    }

    // SAFETY: no argument; returns this thread's id.
    let consumer = unsafe { libc::pthread_self() };
    let t0 = Instant::now();
    let sending = thread::spawn(move || sender(bursts, ping, consumer));

    // The consumer: take, then sleep until the doorbell rings.
    let (mut reports, mut in_burst, mut failure) = (0u64, 0u64, None);
    let mut shut_down = false;
    loop {
        let taken = rx.take_signals();
        if taken.contains(RELOAD) {
            reports += 1;
            in_burst += 1;
            // Reloading takes a while; signals that come meanwhile merge
            // into one pending reload, as the kernel's pending set would.
            thread::sleep(RELOAD_TAKES);
        }
        if taken.contains(PING) {
            // Every raise of the burst came before the PING this take
            // reports, so each was reported by this take or an earlier one.
            // Acquire: pairs with the sender's Release store.
            let burst = REQUEST.load(Ordering::Acquire);
            if in_burst == 0 {
                failure = Some(format!("S1: burst {burst} was never reported"));
                break;
            }
            in_burst = 0;
            // Release: pairs with the sender's Acquire load.
            ACK.store(burst, Ordering::Release);
        }
        if taken.contains(SHUTDOWN) {
            shut_down = true;
            break;
        }
        match rx.wait(Some(WAIT_TIMEOUT)) {
            Ok(true) => {}
            Ok(false) => {
                failure = Some(format!(
                    "wait timed out after {WAIT_TIMEOUT:?}: missed wake-up? {:?}",
                    rx.stats()
                ));
                break;
            }
            Err(e) => {
                failure = Some(format!("wait: {e}"));
                break;
            }
        }
    }
    let sent = match sending.join() {
        Ok(Ok(sent)) => sent,
        Ok(Err(e)) => {
            failure.get_or_insert(e);
            [0; 3]
        }
        Err(_) => {
            failure.get_or_insert("the sender panicked".into());
            [0; 3]
        }
    };

    let runs = HANDLER_RUNS.load(Ordering::Acquire);
    let usr1 = sent.iter().sum::<u64>();
    println!(
        "{usr1} SIGUSR1 in {bursts} bursts ({} by raise, {} by kill, {} to the waiting consumer), then SIGTERM",
        sent[0], sent[1], sent[2]
    );
    println!(
        "{runs} handler runs; the consumer reported SIGUSR1 {reports} times (merged), \
         SIGTERM {}; {} eventfd writes; {:.3} s",
        if shut_down { "once" } else { "never" },
        rx.stats().doorbell_writes,
        t0.elapsed().as_secs_f64()
    );
    if failure.is_none() && reports > usr1 {
        failure = Some(format!("S2: {reports} reports of {usr1} signals"));
    }
    if failure.is_none() && reports < bursts {
        failure = Some(format!("S1: {reports} reports for {bursts} bursts"));
    }
    if let Some(f) = failure {
        println!("FAILED: {f}");
        process::exit(1);
    }
    println!("ok: every burst reported, merged, no wake-up missed");
}
