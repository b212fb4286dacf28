//! S12 bad input: out-of-range signal numbers, zero or absurd capacities and
//! fd exhaustion give typed errors, never a panic. The error types implement
//! `Display` and `std::error::Error`.

use std::error::Error as _;
use std::sync::Mutex;

use eventsig::{
    channel, AdoptError, BuildError, InvalidSignal, RaiseError, SendError, Signal, TryRecvError,
};

/// The fd limit is process-wide: every test of this binary that opens an fd
/// holds this lock, so the fd-exhaustion test runs alone.
static FDS: Mutex<()> = Mutex::new(());

fn lock_fds() -> std::sync::MutexGuard<'static, ()> {
    FDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------
// Signal numbers.
// ---------------------------------------------------------------------------

#[test]
fn s12_signal_number_64_and_above_is_an_error_with_the_number() {
    for n in [64, 65, 128, 1000, u32::MAX - 1, u32::MAX] {
        let err: InvalidSignal = Signal::new(n).unwrap_err();
        assert_eq!(err.number(), n);
        assert_eq!(
            err.to_string(),
            format!("signal number {n} is out of range 0..64")
        );
    }
    assert!(Signal::new(63).is_ok());
}

// ---------------------------------------------------------------------------
// Capacities.
// ---------------------------------------------------------------------------

#[test]
fn s12_zero_capacity_is_an_error() {
    assert!(matches!(channel::<u8>(0), Err(BuildError::ZeroCapacity)));
    assert!(matches!(channel::<()>(0), Err(BuildError::ZeroCapacity)));
    assert!(matches!(
        eventsig::ring::ring::<u8>(0),
        Err(BuildError::ZeroCapacity)
    ));
}

fn expect_too_large<T>(capacity: usize) {
    let result = std::panic::catch_unwind(|| channel::<T>(capacity).map(|_| ()));
    match result {
        Ok(Err(BuildError::CapacityTooLarge { requested })) => {
            assert_eq!(requested, capacity, "the error names the capacity asked");
        }
        Ok(Err(other)) => panic!("capacity {capacity}: expected CapacityTooLarge, got {other:?}"),
        Ok(Ok(())) => panic!("capacity {capacity}: built a channel"),
        Err(_) => panic!("capacity {capacity}: channel() panicked"),
    }
    let result = std::panic::catch_unwind(|| eventsig::ring::ring::<T>(capacity).map(|_| ()));
    assert!(
        matches!(result, Ok(Err(BuildError::CapacityTooLarge { requested })) if requested == capacity),
        "ring({capacity}) must give CapacityTooLarge"
    );
}

#[test]
fn s12_absurd_capacity_is_an_error_not_a_panic() {
    expect_too_large::<u8>(usize::MAX);
    expect_too_large::<u8>(usize::MAX / 2);
    expect_too_large::<u8>(usize::MAX / 2 + 1);
    expect_too_large::<()>(usize::MAX);
    expect_too_large::<[u8; 4096]>(usize::MAX / 8192);
    expect_too_large::<u64>(1 << 60);
    expect_too_large::<u64>(isize::MAX as usize / 8);
    // Small enough not to overflow any size computation, far too large for
    // any allocator: refused by the allocator, still a typed error.
    expect_too_large::<[u8; 4096]>(1 << 40);
}

#[test]
fn s12_capacity_too_large_display_names_the_capacity() {
    let err = channel::<u8>(usize::MAX).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains(&usize::MAX.to_string()), "{err}");
    assert!(err.source().is_none());
}

// ---------------------------------------------------------------------------
// fd exhaustion.
// ---------------------------------------------------------------------------

/// Restores RLIMIT_NOFILE when dropped, even if an assertion fails.
struct RestoreLimit(libc::rlimit);

impl Drop for RestoreLimit {
    fn drop(&mut self) {
        // SAFETY: a valid rlimit struct; the result is checked.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.0) };
        assert_eq!(rc, 0, "cannot restore RLIMIT_NOFILE");
    }
}

fn highest_open_fd() -> i32 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .max()
        .unwrap()
}

fn is_emfile(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EMFILE)
}

/// One test does everything fd-related, under the lock: the limit is
/// process-wide.
#[test]
#[cfg_attr(miri, ignore = "Miri does not model setrlimit or /proc/self/fd")]
fn s12_fd_exhaustion_gives_emfile_not_a_panic() {
    let _guard = lock_fds();
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid, writable rlimit struct; checked.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
    // The read_dir fd is closed again by now; allow a few more fd numbers
    // than are in use.
    let headroom = 8;
    let low = (highest_open_fd() + 1 + headroom) as libc::rlim_t;
    assert!(low <= old.rlim_cur, "the current limit is already lower");
    let restore = RestoreLimit(old);
    let lowered = libc::rlimit {
        rlim_cur: low,
        rlim_max: old.rlim_max,
    };
    // SAFETY: a valid rlimit struct; checked.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);

    let mut channels = Vec::with_capacity(10_000);
    let mut error = None;
    for _ in 0..10_000 {
        match channel::<u8>(4) {
            Ok(c) => channels.push(c),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    match &error {
        Some(BuildError::Io(e)) if is_emfile(e) => {}
        other => panic!("expected BuildError::Io(EMFILE), got {other:?}"),
    }
    assert!(
        channels.len() >= headroom as usize,
        "only {} channels before EMFILE",
        channels.len()
    );
    let err = error.unwrap();
    assert!(
        err.to_string().contains("cannot build the channel"),
        "{err}"
    );
    assert!(err.source().is_some(), "Io errors expose their source");

    // The bare eventfd layer reports it too.
    match eventsig::EventFd::new() {
        Err(e) => assert!(is_emfile(&e), "expected EMFILE, got {e}"),
        Ok(bell) => panic!("made an eventfd with no fd left: {bell:?}"),
    }
    // Input errors are still reported as such while fds are out.
    assert!(matches!(channel::<u8>(0), Err(BuildError::ZeroCapacity)));

    // Failed attempts leak nothing: after many of them, freeing one channel
    // lets exactly one new channel be built.
    for _ in 0..100 {
        assert!(matches!(channel::<u8>(4), Err(BuildError::Io(ref e)) if is_emfile(e)));
    }
    drop(channels.pop());
    let one = channel::<u8>(4).expect("one fd was freed");
    assert!(matches!(channel::<u8>(4), Err(BuildError::Io(ref e)) if is_emfile(e)));

    // A channel built at the limit works.
    {
        let (mut tx, mut rx) = one;
        tx.send(7).unwrap();
        assert_eq!(rx.try_recv(), Ok(eventsig::Delivery::Event(7)));
    }

    drop(channels);
    drop(restore);
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid, writable rlimit struct; checked.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut now) }, 0);
    assert_eq!(now.rlim_cur, old.rlim_cur, "limit restored");
    let (mut tx, mut rx) = channel::<u8>(4).expect("a channel after the limit was restored");
    tx.send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(eventsig::Delivery::Event(1)));
}

// ---------------------------------------------------------------------------
// Error types: Display + std::error::Error; Debug without T: Debug.
// ---------------------------------------------------------------------------

fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}

/// A payload with no `Debug`, `Display`, `Clone` or `PartialEq`.
struct NoDebug(#[allow(dead_code)] u32);

#[test]
fn s12_error_types_implement_display_and_error() {
    assert_error::<InvalidSignal>();
    assert_error::<BuildError>();
    assert_error::<SendError<NoDebug>>();
    assert_error::<TryRecvError>();
    assert_error::<RaiseError>();
    assert_error::<AdoptError>();

    // Each variant of one type prints its own text.
    let groups = [
        vec![
            BuildError::ZeroCapacity.to_string(),
            BuildError::CapacityTooLarge { requested: 99 }.to_string(),
            BuildError::Io(std::io::Error::from_raw_os_error(libc::EMFILE)).to_string(),
        ],
        vec![
            TryRecvError::Empty.to_string(),
            TryRecvError::Closed.to_string(),
        ],
        vec![RaiseError::Closed.to_string()],
        vec![
            SendError::Full(NoDebug(1)).to_string(),
            SendError::Closed(NoDebug(1)).to_string(),
        ],
        vec![AdoptError::Io(std::io::Error::from_raw_os_error(libc::EBADF)).to_string()],
    ];
    for texts in &groups {
        for (i, a) in texts.iter().enumerate() {
            assert!(!a.is_empty());
            for b in &texts[i + 1..] {
                assert_ne!(a, b, "two variants print the same text");
            }
        }
    }
    let texts = &groups[0];
    assert!(texts[1].contains("99"));

    let io = BuildError::Io(std::io::Error::from_raw_os_error(libc::EMFILE));
    let source = io.source().expect("Io has a source");
    assert_eq!(
        source
            .downcast_ref::<std::io::Error>()
            .and_then(|e| e.raw_os_error()),
        Some(libc::EMFILE)
    );
    assert!(BuildError::ZeroCapacity.source().is_none());
    let adopt = AdoptError::Io(std::io::Error::from_raw_os_error(libc::EBADF));
    assert!(adopt.source().is_some());
    let from: BuildError = std::io::Error::from_raw_os_error(libc::ENFILE).into();
    assert!(matches!(from, BuildError::Io(ref e) if e.raw_os_error() == Some(libc::ENFILE)));
}

#[test]
fn s12_send_error_debug_works_without_t_debug() {
    let full = SendError::Full(NoDebug(1));
    let closed = SendError::Closed(NoDebug(2));
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert_eq!(format!("{closed:?}"), "Closed(..)");
    assert_eq!(closed.into_inner().0, 2);
    // Usable as a boxed error, which needs Debug.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(full);
    assert!(!boxed.to_string().is_empty());
}

#[test]
fn s12_send_error_from_a_real_channel_hands_the_value_back() {
    let _guard = lock_fds();
    let (mut tx, rx) = channel::<NoDebug>(1).unwrap();
    tx.send(NoDebug(1)).unwrap_or_else(|e| panic!("{e:?}"));
    let err = tx.send(NoDebug(2)).unwrap_err();
    assert_eq!(format!("{err:?}"), "Full(..)");
    assert!(matches!(err, SendError::Full(NoDebug(2))));
    drop(rx);
    let err = tx.send(NoDebug(3)).unwrap_err();
    assert!(matches!(err, SendError::Closed(NoDebug(3))));
    assert_eq!(tx.raise(Signal::new(0).unwrap()), Err(RaiseError::Closed));
}

#[test]
fn s12_drop_oldest_bad_capacities_are_typed_errors() {
    use eventsig::OverflowPolicy;
    let oldest = |capacity: usize| {
        std::panic::catch_unwind(|| {
            eventsig::builder()
                .capacity(capacity)
                .overflow_policy(OverflowPolicy::DropOldest)
                .build::<u64>()
                .map(|_| ())
        })
        .expect("no panic")
    };
    assert!(matches!(oldest(0), Err(BuildError::ZeroCapacity)));
    assert!(matches!(
        eventsig::overwrite::ring::<u8>(0),
        Err(BuildError::ZeroCapacity)
    ));
    for capacity in [usize::MAX, usize::MAX / 2 + 1, 1 << 60] {
        assert!(
            matches!(oldest(capacity), Err(BuildError::CapacityTooLarge { requested }) if requested == capacity),
            "drop-oldest channel of {capacity}"
        );
        let ring =
            std::panic::catch_unwind(|| eventsig::overwrite::ring::<u64>(capacity).map(|_| ()))
                .expect("no panic");
        assert!(
            matches!(ring, Err(BuildError::CapacityTooLarge { requested }) if requested == capacity),
            "overwrite::ring({capacity})"
        );
    }
}
