//! The builder: options, defaults, and adopting an existing eventfd (S12 for
//! a fd that is not one).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use eventsig::{AdoptError, BuildError, Builder, Delivery, Signal};

const LONG: Duration = Duration::from_secs(10);

/// A new eventfd made with `eventfd(2)` directly, in blocking mode (flags 0),
/// as a caller's own code might make it.
fn blocking_eventfd() -> OwnedFd {
    // SAFETY: no pointer argument; the result is checked.
    let raw = unsafe { libc::eventfd(0, 0) };
    assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: a new fd nobody else owns.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Whether `fd` is readable now (`poll(2)`, no wait).
fn readable(fd: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(n >= 0);
    n == 1
}

#[test]
fn defaults_and_options() {
    let (_tx, rx) = eventsig::builder().build::<u8>().unwrap();
    assert_eq!(rx.capacity(), Builder::DEFAULT_CAPACITY);
    let (_tx, rx) = eventsig::builder().capacity(3).build::<u8>().unwrap();
    assert_eq!(rx.capacity(), 3);
    assert!(matches!(
        eventsig::builder().capacity(0).build::<u8>(),
        Err(BuildError::ZeroCapacity)
    ));
    assert!(matches!(
        eventsig::builder().capacity(usize::MAX).build::<u8>(),
        Err(BuildError::CapacityTooLarge { .. })
    ));
    let text = format!("{:?}", eventsig::builder().capacity(7).wait_spin(false));
    assert!(
        text.contains("capacity: 7") && text.contains("wait_spin: false"),
        "{text}"
    );
}

#[test]
fn wait_without_spin_still_wakes_for_a_send() {
    let (mut tx, mut rx) = eventsig::builder()
        .capacity(4)
        .wait_spin(false)
        .build::<u32>()
        .unwrap();
    let t = std::thread::spawn(move || {
        tx.send(9).unwrap();
        tx
    });
    assert!(rx.wait(Some(LONG)).unwrap());
    assert_eq!(rx.try_recv(), Ok(Delivery::Event(9)));
    drop(t.join().unwrap());
}

#[test]
fn adopted_eventfd_is_the_doorbell_and_is_made_nonblocking() {
    let fd = blocking_eventfd();
    // What another holder of the eventfd (a KVM irqfd, an event loop) sees.
    let other: OwnedFd = fd.try_clone().unwrap();
    let (mut tx, mut rx) = eventsig::builder().eventfd(fd).build::<u32>().unwrap();
    // The counter starts at 0 and nothing is pending: a timed wait returns
    // false instead of hanging in a blocking read.
    assert!(!rx.wait(Some(Duration::from_millis(1))).unwrap());
    // The receiver's fd is the adopted eventfd (same file description).
    let flags = |raw| {
        // SAFETY: F_GETFL on a valid fd.
        unsafe { libc::fcntl(raw, libc::F_GETFL) }
    };
    assert_ne!(
        flags(other.as_raw_fd()) & libc::O_NONBLOCK,
        0,
        "made nonblocking"
    );
    // A parked receiver (handed out for epoll) and a send: the producer's
    // doorbell write lands on the adopted eventfd.
    let _ = std::os::fd::AsFd::as_fd(&rx);
    assert_eq!(rx.drain().count(), 0);
    assert!(!readable(&other));
    tx.send(1).unwrap();
    assert!(readable(&other), "the doorbell rang the adopted eventfd");
    assert_eq!(rx.stats().doorbell_writes, 1);
    assert_eq!(rx.drain().collect::<Vec<_>>(), [Delivery::Event(1)]);
    // Signals too, through a blocking wait.
    let raiser = tx.raiser();
    let t = std::thread::spawn(move || raiser.raise(Signal::new(2).unwrap()).unwrap());
    assert!(rx.wait(Some(LONG)).unwrap());
    assert!(rx.take_signals().contains(Signal::new(2).unwrap()));
    t.join().unwrap();
}

#[test]
fn s12_a_fd_that_is_not_an_eventfd_is_handed_back() {
    let file: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let raw = file.as_raw_fd();
    match eventsig::builder().eventfd(file).build::<u8>() {
        Err(BuildError::Adopt(AdoptError::NotEventFd(back))) => {
            assert_eq!(back.as_raw_fd(), raw, "the same fd, still open");
        }
        other => panic!("expected NotEventFd, got {other:?}"),
    }
    let (r, w) = std::io::pipe().unwrap();
    let err = eventsig::builder()
        .eventfd(r.into())
        .build::<u8>()
        .unwrap_err();
    assert!(err.to_string().contains("not an eventfd"), "{err}");
    drop(w);
}
