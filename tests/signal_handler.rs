//! Raising from a POSIX signal handler (`Raiser::raise` is async-signal-safe).
//!
//! Real signals go to this process: `raise(3)`, `kill(getpid(), SIGUSR1)`
//! from another thread, and `pthread_kill(3)` to the consumer thread while
//! it is blocked in `Receiver::wait` (its `poll(2)` returns `EINTR`). The
//! `SIGUSR1` handler raises eventsig signal 10 on a `Raiser` kept in a
//! `static OnceLock`; the `SIGUSR2` handler only counts, so it interrupts a
//! `wait` without making anything pending.
//!
//! Signal dispositions belong to the whole process, so everything runs as
//! phases of one `#[test]`, in order:
//!
//! 1. S2: handler runs merge. Ten `raise(SIGUSR1)` on the consumer's own
//!    thread (each handler run finishes before `raise` returns) are reported
//!    by one take.
//! 2. S1, S9: bursts of `kill(getpid(), SIGUSR1)` from another thread while
//!    the consumer blocks in `wait`; after each burst a `PING` raised from
//!    plain code asks the consumer to confirm it reported the burst (at
//!    least once, at most once per handler run). Every `wait` is bounded: a
//!    timeout is a missed wake-up.
//! 3. S9 through `EINTR`: `pthread_kill(consumer, SIGUSR1)` once the consumer
//!    is blocked in `poll(2)` (as `/proc/self/task/<tid>/syscall` shows); the
//!    handler runs on the consumer thread, and `wait` returns with the signal
//!    pending.
//! 4. `EINTR` alone: `pthread_kill(consumer, SIGUSR2)` (a handler that raises
//!    nothing) does not end the `wait` nor surface as an error: the consumer
//!    goes back to `poll(2)` and wakes for the event sent afterwards.
//! 5. `errno`: the consumer parks (its fd handed out), the eventfd counter is
//!    filled to its maximum so that the handler's `write(2)` fails with
//!    `EAGAIN`, the consumer sets `errno` to a sentinel and spins; a
//!    `SIGUSR1` sent to it runs the handler, which writes; `errno` must
//!    still be the sentinel afterwards.
//!
//! Checked against mutants: without the errno restore in `EventFd::notify`
//! phase 5 fails (errno is `EAGAIN`); with `EventFd::wait` returning `EINTR`
//! phase 3 fails; with producers that never ring, phase 2 times out.
//!
//! No sleep synchronises anything: the threads meet through atomics and
//! `/proc`, and every wait is bounded.

// Real signals, `/proc` and `poll(2)`: nothing Miri models.
#![cfg(not(miri))]

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use eventsig::{Delivery, Raiser, Receiver, Signal, SignalSet};

/// eventsig signal *n* stands for POSIX signal *n*.
const USR1: Signal = signal(libc::SIGUSR1);
/// Raised by plain code after each burst of phase 2.
const PING: Signal = signal(0);
/// Longer than any pause of a signalling thread: a `wait` this long with a
/// signal pending is a missed wake-up.
const LONG: Duration = Duration::from_secs(5);

const fn signal(signo: libc::c_int) -> Signal {
    match Signal::new(signo as u32) {
        Ok(s) => s,
        Err(_) => panic!("below 64"),
    }
}

/// The `SIGUSR1` handler's raiser.
static RAISER: OnceLock<Raiser> = OnceLock::new();
/// Finished handler runs per signal (counted after the raise), and the
/// thread the last one ran on.
static USR1_RUNS: AtomicU64 = AtomicU64::new(0);
static USR2_RUNS: AtomicU64 = AtomicU64::new(0);
static LAST_TID: AtomicI32 = AtomicI32::new(0);

fn gettid() -> libc::pid_t {
    // SAFETY: takes no argument, cannot fail; a plain system call, so
    // async-signal-safe (it does not touch errno on success).
    unsafe { libc::gettid() }
}

/// `SIGUSR1`: raise, then record. `SIGUSR2`: only record.
extern "C" fn on_signal(signo: libc::c_int) {
    if signo == libc::SIGUSR1 {
        if let Some(raiser) = RAISER.get() {
            let _ = raiser.raise(USR1);
        }
    }
    // SeqCst: simple to reason about in a test; read by other threads.
    LAST_TID.store(gettid(), Ordering::SeqCst);
    let runs = if signo == libc::SIGUSR1 {
        &USR1_RUNS
    } else {
        &USR2_RUNS
    };
    runs.fetch_add(1, Ordering::SeqCst);
}

fn install(signo: libc::c_int) {
    // SAFETY: a zeroed sigaction is valid (empty mask); the handler only
    // raises (async-signal-safe), touches atomics and calls gettid; checked.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        assert_eq!(libc::sigaction(signo, &action, std::ptr::null_mut()), 0);
    }
}

/// The calling thread's errno.
fn errno() -> libc::c_int {
    // SAFETY: this thread's errno variable, valid for the life of the thread.
    unsafe { *libc::__errno_location() }
}

fn set_errno(value: libc::c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = value }
}

/// Waits (bounded) until `counter` reaches `target`.
fn until_at_least(counter: &AtomicU64, target: u64, what: &str) {
    let deadline = Instant::now() + LONG;
    while counter.load(Ordering::SeqCst) < target {
        assert!(Instant::now() < deadline, "{what}: timed out");
        thread::yield_now();
    }
}

/// The syscall numbers `Receiver::wait` may block in.
const POLL_SYSCALLS: &[libc::c_long] = &[
    #[cfg(target_arch = "x86_64")]
    libc::SYS_poll,
    libc::SYS_ppoll,
];

/// Waits (bounded) until thread `tid` is blocked in `poll(2)`.
fn until_in_poll(tid: libc::pid_t) {
    let path = format!("/proc/self/task/{tid}/syscall");
    let deadline = Instant::now() + LONG;
    loop {
        let text = std::fs::read_to_string(&path).expect("the consumer thread is alive");
        let nr = text.split_whitespace().next().and_then(|n| n.parse().ok());
        if nr.is_some_and(|nr| POLL_SYSCALLS.contains(&nr)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "thread {tid} never blocked in poll: {text}"
        );
        thread::yield_now();
    }
}

/// A thread id and its pthread handle, to send it signals.
#[derive(Clone, Copy)]
struct Target {
    tid: libc::pid_t,
    thread: libc::pthread_t,
}

impl Target {
    fn current() -> Target {
        Target {
            tid: gettid(),
            // SAFETY: no argument; returns this thread's handle.
            thread: unsafe { libc::pthread_self() },
        }
    }

    /// `pthread_kill(3)`; the thread must be alive (the test thread is).
    fn kill(self, signo: libc::c_int) {
        // SAFETY: the target thread is alive for the whole test; checked.
        assert_eq!(unsafe { libc::pthread_kill(self.thread, signo) }, 0);
    }
}

fn wait_ready(rx: &mut Receiver<u32>, what: &str) {
    let t0 = Instant::now();
    match rx.wait(Some(LONG)) {
        Ok(true) => {}
        Ok(false) => panic!(
            "{what}: S9: missed wake-up, wait timed out after {:?}; {:?}",
            t0.elapsed(),
            rx.stats()
        ),
        Err(e) => panic!("{what}: wait failed: {e}"),
    }
}

#[test]
fn signal_handlers_raise_coalesced_never_lost_and_keep_errno() {
    let (mut tx, mut rx) = eventsig::channel::<u32>(8).unwrap();
    assert!(RAISER.set(tx.raiser()).is_ok());
    install(libc::SIGUSR1);
    install(libc::SIGUSR2);
    let consumer = Target::current();

    // Phase 1: S2, handler runs on this very thread merge.
    for _ in 0..10 {
        // SAFETY: a plain integer argument; checked.
        assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    }
    assert_eq!(
        USR1_RUNS.load(Ordering::SeqCst),
        10,
        "a handler run went missing"
    );
    assert_eq!(rx.take_signals(), SignalSet::from(USR1), "phase 1: S2");
    assert!(rx.take_signals().is_empty(), "phase 1: S2: reported twice");

    // Phase 2: S1/S9, bursts of kill(getpid()) from another thread while the
    // consumer blocks in `wait`.
    let bursts = 200u64;
    let request = AtomicU64::new(0);
    let ack = AtomicU64::new(0);
    let ping = tx.raiser();
    // Read before the killer starts: its first handler runs belong to burst 1.
    let runs_before = USR1_RUNS.load(Ordering::SeqCst);
    thread::scope(|s| {
        s.spawn(|| {
            for burst in 1..=bursts {
                let size = 1 + burst % 6;
                for _ in 0..size {
                    let before = USR1_RUNS.load(Ordering::SeqCst);
                    // SAFETY: plain integer arguments; checked.
                    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) }, 0);
                    // One handler run per kill: the kernel merges a signal
                    // still pending, so wait for each run to finish.
                    until_at_least(&USR1_RUNS, before + 1, "phase 2: handler run");
                }
                request.store(burst, Ordering::SeqCst);
                ping.raise(PING).unwrap();
                until_at_least(&ack, burst, "phase 2: acknowledgement");
            }
        });
        let (mut in_burst, mut runs_at_ack) = (0u64, runs_before);
        let mut acked = 0;
        while acked < bursts {
            // Half the bursts without the spin phase, so that the consumer
            // parks in poll(2) and the handler must write the eventfd.
            rx.set_wait_spin(acked % 2 == 0);
            wait_ready(&mut rx, &format!("phase 2, burst {}", acked + 1));
            let taken = rx.take_signals();
            assert!((taken - USR1 - PING).is_empty(), "phase 2: {taken:?}");
            if taken.contains(USR1) {
                in_burst += 1;
            }
            if taken.contains(PING) {
                // Every raise of the burst came before the PING this take
                // reports: each was reported by now.
                acked = request.load(Ordering::SeqCst);
                let runs = USR1_RUNS.load(Ordering::SeqCst);
                assert!(in_burst >= 1, "phase 2, burst {acked}: S1: never reported");
                assert!(
                    in_burst <= runs - runs_at_ack,
                    "phase 2, burst {acked}: S2: {in_burst} reports of {} handler runs",
                    runs - runs_at_ack
                );
                (in_burst, runs_at_ack) = (0, runs);
                ack.store(acked, Ordering::SeqCst);
            }
        }
    });
    drop(ping);

    // Phase 3: S9 through EINTR: SIGUSR1 to the consumer blocked in poll(2).
    rx.set_wait_spin(false);
    for round in 0..50 {
        let before = USR1_RUNS.load(Ordering::SeqCst);
        thread::scope(|s| {
            s.spawn(|| {
                until_in_poll(consumer.tid);
                consumer.kill(libc::SIGUSR1);
            });
            wait_ready(&mut rx, &format!("phase 3, round {round}"));
        });
        assert_eq!(USR1_RUNS.load(Ordering::SeqCst), before + 1);
        assert_eq!(
            LAST_TID.load(Ordering::SeqCst),
            consumer.tid,
            "phase 3: the handler ran on another thread"
        );
        assert_eq!(
            rx.take_signals(),
            SignalSet::from(USR1),
            "phase 3, round {round}"
        );
    }

    // Phase 4: EINTR alone neither ends `wait` nor surfaces as an error.
    for round in 0..20 {
        let before = USR2_RUNS.load(Ordering::SeqCst);
        thread::scope(|s| {
            s.spawn(|| {
                until_in_poll(consumer.tid);
                consumer.kill(libc::SIGUSR2);
                until_at_least(&USR2_RUNS, before + 1, "phase 4: handler run");
                // Back in poll(2): `wait` retried after EINTR.
                until_in_poll(consumer.tid);
                tx.send(round).unwrap();
            });
            wait_ready(&mut rx, &format!("phase 4, round {round}"));
        });
        assert_eq!(
            LAST_TID.load(Ordering::SeqCst),
            consumer.tid,
            "phase 4: the handler ran on another thread"
        );
        assert_eq!(rx.try_recv(), Ok(Delivery::Event(round)), "phase 4");
        assert!(rx.take_signals().is_empty(), "phase 4");
    }

    // Phase 5: errno survives a handler that writes the eventfd, also when
    // the write fails (EAGAIN at the counter's maximum).
    let fd = rx.as_raw_fd(); // parks the receiver: a raise now writes
    for full in [true, false] {
        assert_eq!(rx.try_recv(), Err(eventsig::TryRecvError::Empty)); // parks
        if full {
            let bytes = (u64::MAX - 1).to_ne_bytes();
            // SAFETY: 8 valid bytes; checked.
            let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), 8) };
            assert_eq!(n, 8, "filling the eventfd counter");
        }
        let writes = rx.stats().doorbell_writes;
        let before = USR1_RUNS.load(Ordering::SeqCst);
        const SENTINEL: libc::c_int = 31337;
        let seen = thread::scope(|s| {
            s.spawn(|| {
                // Until the consumer spins with the sentinel set.
                thread::yield_now();
                consumer.kill(libc::SIGUSR1);
            });
            set_errno(SENTINEL);
            // Atomics and `spin_loop` only: nothing here touches errno.
            let mut spins = 0u64;
            while USR1_RUNS.load(Ordering::SeqCst) == before && spins < 1 << 34 {
                std::hint::spin_loop();
                spins += 1;
            }
            errno()
        });
        assert_eq!(
            USR1_RUNS.load(Ordering::SeqCst),
            before + 1,
            "phase 5: no handler run"
        );
        assert_eq!(LAST_TID.load(Ordering::SeqCst), consumer.tid, "phase 5");
        assert_eq!(
            rx.stats().doorbell_writes,
            writes + 1,
            "phase 5: the handler did not write the eventfd"
        );
        assert_eq!(
            seen, SENTINEL,
            "phase 5 (counter full: {full}): the handler clobbered errno"
        );
        assert_eq!(rx.take_signals(), SignalSet::from(USR1));
        assert_eq!(rx.try_recv(), Err(eventsig::TryRecvError::Empty)); // clears the eventfd
    }
}
