//! Helpers shared by several test crates (`mod common;`). Cargo does not
//! build this folder as a test crate of its own; each crate that declares
//! the module compiles it, and uses only some of it.
//!
//! The counting global allocator is not here: it lives in `counting.rs`,
//! which only the crates that count allocations include, so every other
//! test binary keeps the system allocator.
#![allow(dead_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;
use eventsig::{Delivery, Receiver, Sender, Signal, Stats};
use mio::event::Source;
use mio::{Events, Interest, Poll, Token};

/// Iteration counts shrink under Miri, which is ~1000x slower.
pub const fn scaled(n: u64, miri: u64) -> u64 {
    if cfg!(miri) {
        miri
    } else {
        n
    }
}

/// [`scaled`] for counts of `usize`.
pub const fn scaled_usize(n: usize, miri: usize) -> usize {
    scaled(n as u64, miri as u64) as usize
}

/// Signal `n % 64`.
pub fn sig(n: u64) -> Signal {
    Signal::new((n % 64) as u32).expect("n % 64 < 64")
}

// ---------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------

/// One step of xorshift64* on `state` (never 0): returns the next output.
pub fn xorshift64_star(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// xorshift64*: a tiny deterministic PRNG for stalls and choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        xorshift64_star(&mut self.0)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Spins a random number of iterations in `0..max` (a bounded stall).
    pub fn spin(&mut self, max: u64) {
        for _ in 0..self.below(max) {
            std::hint::spin_loop();
        }
    }

    /// A bounded stall: spins, sometimes a yield.
    pub fn stall(&mut self) {
        match self.below(8) {
            0 => thread::yield_now(),
            1..=3 => self.spin(2000),
            _ => {}
        }
    }
}

/// A tiny xorshift64 PRNG (no `rand` dependency).
#[derive(Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A bounded busy stall: never a sleep.
pub fn stall(rng: &mut XorShift, max_spins: u64) {
    for _ in 0..rng.below(max_spins) {
        std::hint::spin_loop();
    }
}

// ---------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------

/// A payload whose integrity can be checked: the sequence number, its bit
/// inverse and its decimal text (a heap value, so a torn read, a bad move
/// or a reused cell shows).
#[derive(Debug, PartialEq, Eq)]
pub struct Payload {
    pub seq: u64,
    inverse: u64,
    text: String,
}

impl Payload {
    pub fn new(seq: u64) -> Payload {
        Payload {
            seq,
            inverse: !seq,
            text: seq.to_string(),
        }
    }

    pub fn check(&self) -> u64 {
        assert_eq!(self.inverse, !self.seq, "payload corrupted: {self:?}");
        assert_eq!(
            self.text,
            self.seq.to_string(),
            "payload corrupted: {self:?}"
        );
        self.seq
    }
}

// ---------------------------------------------------------------------------
// Bounded waits and threads
// ---------------------------------------------------------------------------

/// A bound on a polling loop: `check` panics once it has passed.
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline `budget` from now (a test's whole budget).
    pub fn new(budget: Duration) -> Deadline {
        Deadline(Instant::now() + budget)
    }

    #[track_caller]
    pub fn check(&self, what: &str) {
        assert!(Instant::now() < self.0, "gave up waiting: {what}");
    }
}

/// Waits, boundedly, while `busy` holds (a full ring): at most `max`
/// turns, yielding every 16th so that an oversubscribed machine runs the
/// other thread instead of this spin.
pub fn spin_while(max: u32, mut busy: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while busy() && spins < max {
        if spins % 16 == 15 {
            thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
        spins += 1;
    }
}

/// A consumer's progress check, made every 1024th of its `rounds`: panics
/// once `deadline` has passed with only `next` of `n` attempts accounted
/// for.
#[track_caller]
pub fn check_progress(rounds: u64, deadline: Instant, next: u64, n: u64) {
    if rounds % 1024 == 0 {
        assert!(
            Instant::now() < deadline,
            "stalled at {next} of {n} attempts accounted for"
        );
    }
}

/// Waits until `tx`'s ring has room (`free_slots() > 0` means the next
/// send is accepted), backing off; checks `deadline` meanwhile.
#[track_caller]
pub fn await_room<T>(tx: &mut Sender<T>, deadline: &Deadline) {
    let backoff = Backoff::new();
    while tx.free_slots() == 0 {
        deadline.check("room in the ring");
        backoff.snooze();
    }
}

/// This thread's id.
pub fn gettid() -> libc::pid_t {
    // SAFETY: gettid(2) takes no argument and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}

/// Whether thread `tid` of this process is blocked in one of `syscalls`
/// (`/proc/<pid>/task/<tid>/syscall` names the syscall of a blocked thread and
/// says "running" for a running one; see proc(5)).
pub fn blocked_in(tid: libc::pid_t, syscalls: &[libc::c_long]) -> bool {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"))
        .expect("read /proc/self/task/<tid>/syscall");
    text.split_whitespace()
        .next()
        .and_then(|nr| nr.parse::<libc::c_long>().ok())
        .is_some_and(|nr| syscalls.contains(&nr))
}

/// Yields until thread `tid` is blocked in one of `syscalls`; panics with
/// `what` after `budget`.
#[track_caller]
pub fn await_blocked_in(tid: libc::pid_t, syscalls: &[libc::c_long], budget: Duration, what: &str) {
    let deadline = Deadline::new(budget);
    while !blocked_in(tid, syscalls) {
        deadline.check(what);
        thread::yield_now();
    }
}

/// Runs `f` on a new thread; `join` re-raises its panic.
pub fn spawn<R: Send + 'static>(name: &str, f: impl FnOnce() -> R + Send + 'static) -> Joiner<R> {
    Joiner(
        thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .expect("spawn"),
    )
}

pub struct Joiner<R>(thread::JoinHandle<R>);

impl<R> Joiner<R> {
    pub fn join(self) -> R {
        match self.0.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

// ---------------------------------------------------------------------------
// Streams and the doorbell
// ---------------------------------------------------------------------------

/// Follows one channel's delivery stream where payload == sequence number.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Sequence number the next delivery must start at.
    pub next: u64,
    pub events: u64,
    pub lost: u64,
    pub gaps: u64,
}

impl Tracker {
    #[track_caller]
    pub fn see(&mut self, d: Delivery<u64>) {
        match d {
            Delivery::Event(v) => {
                assert_eq!(v, self.next, "event out of place (S3/S7): {self:?}");
                self.next = v + 1;
                self.events += 1;
            }
            Delivery::Lost { first, count } => {
                assert_eq!(first, self.next, "gap out of place (S7): {self:?}");
                assert!(count > 0, "empty gap marker");
                self.next = first + count;
                self.lost += count;
                self.gaps += 1;
            }
        }
    }

    /// Drains until a drain yields nothing (the epoll consumer's rule),
    /// within `budget`; returns how many drains delivered something.
    pub fn drain_until_empty(&mut self, rx: &mut Receiver<u64>, budget: Duration) -> u64 {
        let deadline = Deadline::new(budget);
        let mut batches = 0;
        loop {
            deadline.check("a drain that yields nothing");
            let before = (self.next, self.events);
            rx.drain().for_each(|d| self.see(d));
            if (self.next, self.events) == before {
                return batches;
            }
            batches += 1;
        }
    }
}

/// S10, the exact bound, read off `doorbell.rs` and `channel.rs`: the park
/// flag is set only by a receiver's `park` (which counts `parks`), and every
/// eventfd write — a producer's (`ring_if_parked` -> `claim_and_ring`) and
/// the receiver's own epoll self-ring (`ring_self`, when the re-check after
/// parking finds something pending) — first wins a `swap(true -> false)` of
/// that flag. So each park pays for at most one write, with no slack for the
/// self-ring: `doorbell_writes <= parks`.
#[track_caller]
pub fn assert_at_most_one_write_per_park(stats: Stats) {
    assert!(
        stats.doorbell_writes <= stats.parks,
        "S10: more eventfd writes than parks: {stats}"
    );
}

// ---------------------------------------------------------------------------
// mio
// ---------------------------------------------------------------------------

/// The token a receiver is registered under.
pub const RX: Token = Token(0);

/// A mio `Poll` (edge-triggered) with one receiver registered under [`RX`].
pub struct Epoll {
    pub poll: Poll,
    pub events: Events,
    /// Poll calls that reported the receiver readable.
    pub wakes: u64,
}

impl Epoll {
    /// Registers `rx` (a channel's or a hub's receiver) for reading.
    pub fn register(rx: &mut impl Source) -> Epoll {
        let poll = Poll::new().expect("epoll_create1");
        poll.registry()
            .register(rx, RX, Interest::READABLE)
            .expect("register the receiver");
        Epoll {
            poll,
            events: Events::with_capacity(8),
            wakes: 0,
        }
    }

    /// Polls until the receiver's fd is reported readable; panics after
    /// `timeout` (a lost wake-up).
    #[track_caller]
    pub fn expect_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.poll.poll(&mut self.events, Some(left)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("epoll_wait: {e}"),
            }
            if self
                .events
                .iter()
                .any(|e| e.token() == RX && e.is_readable())
            {
                self.wakes += 1;
                return;
            }
            assert!(
                !left.is_zero(),
                "lost wake-up: the receiver's fd stayed unreadable for {timeout:?}"
            );
        }
    }

    /// Whether the fd is reported readable now (a zero-timeout poll; with
    /// edge triggering this consumes the readiness it reports).
    pub fn ready_now(&mut self) -> bool {
        self.poll
            .poll(&mut self.events, Some(Duration::ZERO))
            .expect("epoll_wait");
        self.events.iter().any(|e| e.token() == RX)
    }
}

// ---------------------------------------------------------------------------
// Raw epoll
// ---------------------------------------------------------------------------

/// A new epoll instance (close-on-exec) watching `fd` for `events`
/// (`EPOLLIN`, with `EPOLLET` for edge triggering), which it reports with
/// `data`.
pub fn epoll_watching(fd: RawFd, events: libc::c_int, data: u64) -> OwnedFd {
    // SAFETY: epoll_create1 takes a flag and returns a new fd or -1,
    // checked below.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(
        raw >= 0,
        "epoll_create1: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `raw` is a new fd that nothing else owns.
    let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut ev = libc::epoll_event {
        events: events as u32,
        u64: data,
    };
    // SAFETY: both fds are open; `ev` is a valid epoll_event that
    // epoll_ctl only reads; the result is checked.
    let r = unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
    assert_eq!(r, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
    epoll
}
