//! The wake-up layer: `eventsig::EventFd` on a real eventfd.
//!
//! Notify/clear/wait semantics, nonblocking and close-on-exec flags, and
//! adoption of an existing fd (`TryFrom<OwnedFd>`): a real eventfd is
//! accepted and made nonblocking, anything else is handed back intact.

// These tests need real fds, `poll(2)`, `fcntl(2)` flags and `/proc/self/fd`,
// which Miri does not model.
#![cfg(not(miri))]

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use eventsig::{AdoptError, EventFd};

/// Runs `f` on its own thread and fails (instead of hanging) if it does not
/// finish within `secs` seconds. A hung thread is left behind; the test
/// process ends anyway.
fn with_watchdog<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung for {secs} s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the guarded code panicked"),
    }
}

fn fd_flags(fd: RawFd) -> libc::c_int {
    // SAFETY: F_GETFD takes no pointer; the result is checked below.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    assert!(
        flags >= 0,
        "F_GETFD on fd {fd}: {}",
        std::io::Error::last_os_error()
    );
    flags
}

fn status_flags(fd: RawFd) -> libc::c_int {
    // SAFETY: F_GETFL takes no pointer; the result is checked below.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert!(
        flags >= 0,
        "F_GETFL on fd {fd}: {}",
        std::io::Error::last_os_error()
    );
    flags
}

fn is_cloexec(fd: RawFd) -> bool {
    fd_flags(fd) & libc::FD_CLOEXEC != 0
}

fn is_nonblocking(fd: RawFd) -> bool {
    status_flags(fd) & libc::O_NONBLOCK != 0
}

/// A raw eventfd made with `eventfd(initval, flags)`: by default blocking and
/// inheritable, unlike the ones `EventFd::new` makes.
fn raw_eventfd(initval: u32, flags: libc::c_int) -> OwnedFd {
    // SAFETY: eventfd takes no pointer; the result is checked.
    let raw = unsafe { libc::eventfd(initval, flags) };
    assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Writes `value` to an eventfd with `write(2)` directly.
fn raw_write(fd: RawFd, value: u64) -> isize {
    let bytes = value.to_ne_bytes();
    // SAFETY: 8 valid bytes; the result is returned to the caller.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) }
}

// ---------------------------------------------------------------------------
// A new eventfd.
// ---------------------------------------------------------------------------

#[test]
fn new_eventfd_is_nonblocking_and_cloexec() {
    let bell = EventFd::new().unwrap();
    let fd = bell.as_raw_fd();
    assert!(is_cloexec(fd), "O_CLOEXEC / FD_CLOEXEC not set");
    assert!(is_nonblocking(fd), "O_NONBLOCK not set");
    assert_eq!(bell.as_fd().as_raw_fd(), fd);
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    assert_eq!(link.to_str(), Some("anon_inode:[eventfd]"));
    assert!(format!("{bell:?}").contains(&fd.to_string()));
}

#[test]
fn notify_adds_one_and_clear_reads_and_resets() {
    let bell = EventFd::new().unwrap();
    assert_eq!(bell.clear().unwrap(), 0);
    for n in 1..=3 {
        bell.notify().unwrap();
        assert!(
            bell.wait(Some(Duration::ZERO)).unwrap(),
            "readable after {n}"
        );
    }
    assert_eq!(bell.clear().unwrap(), 3);
    assert_eq!(bell.clear().unwrap(), 0);
    assert!(
        !bell.wait(Some(Duration::ZERO)).unwrap(),
        "not readable once cleared"
    );
}

#[test]
fn clear_when_empty_returns_zero_without_blocking() {
    let bell = EventFd::new().unwrap();
    let got = with_watchdog(10, move || {
        let first = bell.clear().map_err(|e| e.to_string());
        let second = bell.clear().map_err(|e| e.to_string());
        (first, second)
    });
    assert_eq!(got, (Ok(0), Ok(0)));
}

#[test]
fn wait_does_not_clear() {
    let bell = EventFd::new().unwrap();
    bell.notify().unwrap();
    for _ in 0..3 {
        assert!(bell.wait(Some(Duration::ZERO)).unwrap());
        assert!(bell.wait(Some(Duration::from_millis(1))).unwrap());
    }
    assert_eq!(bell.clear().unwrap(), 1);
}

#[test]
fn wait_with_timeout_returns_false_and_does_not_hang() {
    let bell = EventFd::new().unwrap();
    let (zero, timed, elapsed) = with_watchdog(20, move || {
        let zero = bell.wait(Some(Duration::ZERO)).unwrap();
        let t0 = Instant::now();
        let timed = bell.wait(Some(Duration::from_millis(50))).unwrap();
        (zero, timed, t0.elapsed())
    });
    assert!(!zero);
    assert!(!timed);
    assert!(
        elapsed >= Duration::from_millis(50),
        "returned before the timeout: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[test]
fn wait_sub_millisecond_timeout_is_not_turned_into_forever() {
    let bell = EventFd::new().unwrap();
    let (ready, elapsed) = with_watchdog(20, move || {
        let t0 = Instant::now();
        let ready = bell.wait(Some(Duration::from_micros(10))).unwrap();
        (ready, t0.elapsed())
    });
    assert!(!ready);
    assert!(elapsed >= Duration::from_micros(10));
    assert!(elapsed < Duration::from_secs(10));
}

#[test]
fn wait_without_timeout_returns_once_readable() {
    let bell = EventFd::new().unwrap();
    bell.notify().unwrap();
    let ready = with_watchdog(10, move || {
        let a = bell.wait(None).unwrap();
        // A timeout too large for an `Instant` means no timeout too.
        let b = bell.wait(Some(Duration::MAX)).unwrap();
        a && b
    });
    assert!(ready);
}

#[test]
fn wait_returns_true_after_notify_from_another_thread() {
    let rounds = 20;
    let bell = EventFd::new().unwrap();
    let barrier = Barrier::new(2);
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..rounds {
                barrier.wait();
                bell.notify().unwrap();
                barrier.wait();
            }
        });
        for round in 0..rounds {
            assert!(
                !bell.wait(Some(Duration::ZERO)).unwrap(),
                "round {round}: stale"
            );
            barrier.wait();
            let t0 = Instant::now();
            let ready = bell.wait(Some(Duration::from_secs(10))).unwrap();
            assert!(ready, "round {round}: no wake-up within 10 s");
            assert!(t0.elapsed() < Duration::from_secs(10));
            assert_eq!(bell.clear().unwrap(), 1, "round {round}");
            barrier.wait();
        }
    });
}

#[test]
fn notify_at_counter_max_is_success_and_keeps_it_readable() {
    const COUNTER_MAX: u64 = u64::MAX - 1;
    let bell = EventFd::new().unwrap();
    assert_eq!(raw_write(bell.as_raw_fd(), COUNTER_MAX), 8);
    // The kernel refuses to go past the maximum (EAGAIN on a nonblocking
    // fd): the bell already rang, so that is success.
    bell.notify().unwrap();
    bell.notify().unwrap();
    assert!(bell.wait(Some(Duration::ZERO)).unwrap());
    assert_eq!(bell.clear().unwrap(), COUNTER_MAX);
    assert_eq!(bell.clear().unwrap(), 0);
}

#[test]
fn eventfd_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<EventFd>();
}

// ---------------------------------------------------------------------------
// Adopting an existing fd.
// ---------------------------------------------------------------------------

#[test]
fn adopting_a_blocking_eventfd_makes_it_nonblocking_and_cloexec() {
    let fd = raw_eventfd(0, 0);
    let raw = fd.as_raw_fd();
    assert!(!is_nonblocking(raw) && !is_cloexec(raw), "precondition");
    let bell = EventFd::try_from(fd).expect("a real eventfd is adopted");
    assert_eq!(bell.as_raw_fd(), raw, "the very fd is kept");
    assert!(
        is_nonblocking(raw),
        "the adopted fd must be made nonblocking"
    );
    assert!(is_cloexec(raw), "the adopted fd must be made close-on-exec");
    // On a blocking fd this read would hang; the watchdog turns that into a
    // failure.
    let (first, bell) = with_watchdog(10, move || (bell.clear().map_err(|e| e.to_string()), bell));
    assert_eq!(first, Ok(0));
    bell.notify().unwrap();
    assert!(bell.wait(Some(Duration::ZERO)).unwrap());
    assert_eq!(bell.clear().unwrap(), 1);
}

#[test]
fn adopting_an_eventfd_keeps_its_counter() {
    let bell = EventFd::try_from(raw_eventfd(5, libc::EFD_CLOEXEC)).unwrap();
    assert!(bell.wait(Some(Duration::ZERO)).unwrap());
    assert_eq!(bell.clear().unwrap(), 5);
}

#[test]
fn eventfd_round_trips_through_owned_fd() {
    let bell = EventFd::new().unwrap();
    let raw = bell.as_raw_fd();
    bell.notify().unwrap();
    let fd = OwnedFd::from(bell);
    assert_eq!(fd.as_raw_fd(), raw);
    let bell = EventFd::try_from(fd).unwrap();
    assert_eq!(
        bell.clear().unwrap(),
        1,
        "the counter survived the round trip"
    );
}

/// Adopts `fd`, expects `NotEventFd` with the same fd handed back, still
/// open and with its flags untouched; returns it.
fn expect_refused(fd: OwnedFd, what: &str) -> OwnedFd {
    let raw = fd.as_raw_fd();
    let (fd_before, fl_before) = (fd_flags(raw), status_flags(raw));
    match EventFd::try_from(fd) {
        Err(AdoptError::NotEventFd(back)) => {
            assert_eq!(back.as_raw_fd(), raw, "{what}: another fd came back");
            // Still valid (fcntl succeeds) and not reconfigured.
            assert_eq!(fd_flags(raw), fd_before, "{what}: fd flags changed");
            assert_eq!(status_flags(raw), fl_before, "{what}: status flags changed");
            let err = AdoptError::NotEventFd(back);
            let text = err.to_string();
            assert!(text.contains("not an eventfd"), "{what}: {text}");
            assert!(text.contains(&raw.to_string()), "{what}: {text}");
            assert!(std::error::Error::source(&err).is_none());
            match err {
                AdoptError::NotEventFd(back) => back,
                _ => unreachable!(),
            }
        }
        Err(other) => panic!("{what}: expected NotEventFd, got {other:?}"),
        Ok(bell) => panic!("{what}: adopted as an eventfd: {bell:?}"),
    }
}

#[test]
fn adopting_dev_null_is_refused_and_the_fd_handed_back() {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let back = expect_refused(OwnedFd::from(file), "/dev/null");
    let mut file = std::fs::File::from(back);
    file.write_all(b"still usable").unwrap();
}

#[test]
fn adopting_a_pipe_end_is_refused_and_the_fd_handed_back() {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe(2) writes; checked.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both are fresh fds that nothing else owns.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let read_end = expect_refused(read_end, "pipe read end");
    let write_end = expect_refused(write_end, "pipe write end");
    // Both ends still work (and the read end is still blocking: it was not
    // reconfigured, and one byte is there to read).
    std::fs::File::from(write_end).write_all(b"x").unwrap();
    let mut buf = [0u8; 1];
    std::fs::File::from(read_end).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"x");
}

#[test]
fn adopting_a_socket_is_refused_and_the_fd_handed_back() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let back = expect_refused(OwnedFd::from(a), "unix socket");
    let mut a = UnixStream::from(back);
    a.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn adopting_another_anon_inode_is_refused() {
    // An epoll fd is an `anon_inode` too, but not an eventfd.
    // SAFETY: epoll_create1 takes no pointer; checked.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(raw >= 0);
    // SAFETY: a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    drop(expect_refused(fd, "epoll fd"));
}

// ---------------------------------------------------------------------------
// Signal handlers: errno and EINTR.
// ---------------------------------------------------------------------------

/// The calling thread's `errno`.
fn errno() -> libc::c_int {
    // SAFETY: this thread's errno variable, valid for the life of the thread.
    unsafe { *libc::__errno_location() }
}

fn set_errno(value: libc::c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = value }
}

#[test]
fn notify_leaves_errno_as_it_found_it() {
    // A handler that rings the bell must not disturb the errno of the code
    // it interrupted: neither after a write that succeeds nor after one that
    // fails inside (`EAGAIN` at the counter's maximum).
    const SENTINEL: libc::c_int = 4242;
    let bell = EventFd::new().unwrap();
    set_errno(SENTINEL);
    bell.notify().unwrap();
    assert_eq!(errno(), SENTINEL, "after a write that succeeded");

    // 1 + (2^64 - 3) = 2^64 - 2, the largest value the counter holds.
    assert_eq!(raw_write(bell.as_raw_fd(), u64::MAX - 2), 8);
    // The counter is at its maximum now: this write fails with EAGAIN.
    assert_eq!(raw_write(bell.as_raw_fd(), 1), -1);
    assert_eq!(
        errno(),
        libc::EAGAIN,
        "precondition: the raw write sets errno"
    );
    set_errno(SENTINEL);
    bell.notify().unwrap();
    assert_eq!(errno(), SENTINEL, "after a write that failed with EAGAIN");
}

/// Held by each test that sends SIGUSR2, so that the counters below
/// belong to one test at a time.
static SIGUSR2_TESTS: Mutex<()> = Mutex::new(());

/// Handler runs of [`on_sigusr2`], and the thread id of the last one.
static SIGUSR2_RUNS: AtomicUsize = AtomicUsize::new(0);
static SIGUSR2_TID: AtomicI32 = AtomicI32::new(0);

/// Does nothing but count: it interrupts a blocking `poll(2)` (`EINTR`).
extern "C" fn on_sigusr2(_: libc::c_int) {
    // SAFETY: gettid takes no argument and cannot fail.
    let tid = unsafe { libc::gettid() };
    SIGUSR2_TID.store(tid, Ordering::SeqCst);
    SIGUSR2_RUNS.fetch_add(1, Ordering::SeqCst);
}

/// Installs [`on_sigusr2`] without `SA_RESTART` (`poll(2)` is never
/// restarted after a handler anyway, see `signal(7)`). Only the tests of
/// this section send SIGUSR2; installing it twice is harmless.
fn install_sigusr2_handler() {
    // SAFETY: a zeroed sigaction is a valid value (empty mask, no flags);
    // the handler only touches atomics and calls gettid, both
    // async-signal-safe; the return value is checked.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigusr2 as extern "C" fn(libc::c_int) as libc::sighandler_t;
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
            0
        );
    }
}

/// The syscall numbers `EventFd::wait` may block in.
const POLL_SYSCALLS: &[libc::c_long] = &[
    #[cfg(target_arch = "x86_64")]
    libc::SYS_poll,
    libc::SYS_ppoll,
];

/// Waits (bounded) until thread `tid` of this process is blocked in one of
/// `syscalls`, as `/proc/self/task/<tid>/syscall` reports it.
fn until_in_syscall(tid: libc::pid_t, syscalls: &[libc::c_long]) {
    let path = format!("/proc/self/task/{tid}/syscall");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("thread {tid} is gone ({e}): did its wait return?"));
        let nr = text.split_whitespace().next().and_then(|n| n.parse().ok());
        if nr.is_some_and(|nr| syscalls.contains(&nr)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "thread {tid} never blocked in {syscalls:?}: {text}"
        );
        thread::yield_now();
    }
}

/// Sends SIGUSR2 to the thread of `handle` and waits (bounded) until the
/// handler ran on thread `tid`.
fn interrupt<T>(handle: &thread::JoinHandle<T>, tid: libc::pid_t) {
    use std::os::unix::thread::JoinHandleExt;
    let runs = SIGUSR2_RUNS.load(Ordering::SeqCst);
    // SAFETY: the thread is alive (joined only later); the return value is
    // checked.
    let r = unsafe { libc::pthread_kill(handle.as_pthread_t(), libc::SIGUSR2) };
    assert_eq!(r, 0, "pthread_kill");
    let deadline = Instant::now() + Duration::from_secs(10);
    while SIGUSR2_RUNS.load(Ordering::SeqCst) == runs {
        assert!(Instant::now() < deadline, "the handler never ran");
        thread::yield_now();
    }
    assert_eq!(
        SIGUSR2_TID.load(Ordering::SeqCst),
        tid,
        "ran on another thread"
    );
}

/// Spawns `f` on a thread that first reports its thread id.
fn spawn_with_tid<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> (thread::JoinHandle<T>, libc::pid_t) {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        // SAFETY: gettid takes no argument and cannot fail.
        tx.send(unsafe { libc::gettid() }).unwrap();
        f()
    });
    (handle, rx.recv().unwrap())
}

#[test]
fn wait_without_timeout_survives_a_signal_and_returns_on_notify() {
    let _serial = SIGUSR2_TESTS.lock().unwrap_or_else(PoisonError::into_inner);
    install_sigusr2_handler();
    let bell = Arc::new(EventFd::new().unwrap());
    let waiter = Arc::clone(&bell);
    let (handle, tid) = spawn_with_tid(move || waiter.wait(None).map_err(|e| e.to_string()));
    for _ in 0..3 {
        until_in_syscall(tid, POLL_SYSCALLS);
        interrupt(&handle, tid); // poll(2) returns EINTR inside
    }
    // Still waiting (EINTR was retried, not returned): now ring.
    until_in_syscall(tid, POLL_SYSCALLS);
    bell.notify().unwrap();
    let got = with_watchdog(10, move || handle.join().unwrap());
    assert_eq!(got, Ok(true));
}

#[test]
fn wait_interrupted_by_a_signal_keeps_its_deadline() {
    let _serial = SIGUSR2_TESTS.lock().unwrap_or_else(PoisonError::into_inner);
    // EINTR is retried with the time that is left: the wait neither returns
    // early nor starts its timeout over (which would take >= 1.6 s here).
    const TIMEOUT: Duration = Duration::from_secs(1);
    install_sigusr2_handler();
    let bell = EventFd::new().unwrap();
    let (handle, tid) = spawn_with_tid(move || {
        let t0 = Instant::now();
        let ready = bell.wait(Some(TIMEOUT)).map_err(|e| e.to_string());
        (ready, t0.elapsed())
    });
    until_in_syscall(tid, POLL_SYSCALLS);
    // A delay, not a synchronisation: the signal should come late in the wait.
    thread::sleep(Duration::from_millis(600));
    interrupt(&handle, tid);
    let (ready, elapsed) = with_watchdog(20, move || handle.join().unwrap());
    assert_eq!(ready, Ok(false));
    assert!(elapsed >= TIMEOUT, "returned early: {elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(1500),
        "the timeout started over after EINTR: {elapsed:?}"
    );
}
