//! The wake-up layer: a safe owner of an `eventfd(2)`.
//!
//! The fd is created nonblocking and close-on-exec. [`EventFd::notify`] adds 1
//! to the kernel counter (making the fd readable), [`EventFd::clear`] reads
//! and resets it, [`EventFd::wait`] blocks in `poll(2)` until it is readable.
//! An existing eventfd (a KVM irqfd or ioeventfd, a vhost-user call fd) can be
//! adopted with [`TryFrom<OwnedFd>`]; any other kind of fd is refused.
//!
//! See `eventfd(2)`, `poll(2)`, `read(2)`, `write(2)`.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// An owned eventfd, used as a doorbell.
///
/// ```
/// use eventsig::EventFd;
/// use std::time::Duration;
/// let bell = EventFd::new()?;
/// assert!(!bell.wait(Some(Duration::ZERO))?);   // not readable yet
/// bell.notify()?;
/// bell.notify()?;
/// assert!(bell.wait(Some(Duration::ZERO))?);
/// assert_eq!(bell.clear()?, 2);                 // read(2) returns and resets the counter
/// assert_eq!(bell.clear()?, 0);                 // WouldBlock: already clear
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventFd {
    fd: OwnedFd,
}

/// The largest value an eventfd counter holds (`eventfd(2)`).
#[cfg(test)]
const COUNTER_MAX: u64 = u64::MAX - 1;

impl EventFd {
    /// A new eventfd with counter 0, `EFD_NONBLOCK | EFD_CLOEXEC`.
    ///
    /// # Errors
    ///
    /// The `eventfd(2)` error, e.g. `EMFILE` when the process has no fd left.
    ///
    /// ```
    /// let bell = eventsig::EventFd::new()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes no pointer; the return value is checked.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(EventFd { fd })
    }

    /// Rings the bell: adds 1 to the counter. A counter already at its
    /// maximum (`EAGAIN`) means the fd is readable already: that is success.
    ///
    /// # Async-signal safety
    ///
    /// `notify` is async-signal-safe: one `write(2)` (retried only on
    /// `EINTR`), no allocation, no lock. It leaves the calling thread's
    /// `errno` as it found it, also when the write fails (`EAGAIN` on a full
    /// counter), so a signal handler that rings the bell does not disturb
    /// the `errno` of the code it interrupted.
    ///
    /// # Errors
    ///
    /// Any other `write(2)` error (none is expected on an eventfd).
    ///
    /// ```
    /// let bell = eventsig::EventFd::new()?;
    /// bell.notify()?;
    /// assert_eq!(bell.clear()?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notify(&self) -> io::Result<()> {
        let saved = SavedErrno::save();
        let result = self.write(1);
        saved.restore();
        result
    }

    fn write(&self, value: u64) -> io::Result<()> {
        let bytes = value.to_ne_bytes();
        loop {
            // SAFETY: the buffer is 8 valid bytes, as eventfd requires; the
            // return value is checked.
            let n = unsafe { libc::write(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
            if n == 8 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                // The counter is full: the fd is readable, the bell rang.
                io::ErrorKind::WouldBlock => return Ok(()),
                _ => return Err(err),
            }
        }
    }

    /// Reads and resets the counter; returns its value, 0 if it was already
    /// clear (`EAGAIN`).
    ///
    /// # Errors
    ///
    /// Any other `read(2)` error.
    ///
    /// ```
    /// let bell = eventsig::EventFd::new()?;
    /// assert_eq!(bell.clear()?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear(&self) -> io::Result<u64> {
        let mut bytes = [0u8; 8];
        loop {
            // SAFETY: the buffer is 8 writable bytes, as eventfd requires;
            // the return value is checked.
            let n =
                unsafe { libc::read(self.fd.as_raw_fd(), bytes.as_mut_ptr().cast(), bytes.len()) };
            if n == 8 {
                return Ok(u64::from_ne_bytes(bytes));
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(0),
                _ => return Err(err),
            }
        }
    }

    /// Blocks in `poll(2)` until the fd is readable or `timeout` passes
    /// (`None`: no timeout). Returns whether it is readable. Does not clear it.
    ///
    /// # Errors
    ///
    /// The `poll(2)` error other than `EINTR` (which is retried with the time
    /// that is left).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let bell = eventsig::EventFd::new()?;
    /// assert!(!bell.wait(Some(Duration::from_millis(1)))?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        loop {
            let ms: libc::c_int = match deadline {
                None | Some(None) => -1,
                Some(Some(d)) => poll_millis(d.saturating_duration_since(Instant::now())),
            };
            match poll_readable(self.fd.as_raw_fd(), ms) {
                Ok(readable) => return Ok(readable),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The calling thread's `errno`, saved so that it can be put back: a signal
/// handler must leave `errno` as it found it (`signal-safety(7)`), and a
/// failing `write(2)` sets it.
struct SavedErrno(libc::c_int);

impl SavedErrno {
    fn save() -> SavedErrno {
        // SAFETY: `errno_location` returns the calling thread's errno
        // variable, valid and aligned for the life of the thread.
        SavedErrno(unsafe { *errno_location() })
    }

    fn restore(self) {
        // SAFETY: as in `save`; only this thread accesses its errno.
        unsafe { *errno_location() = self.0 }
    }
}

/// Address of the calling thread's `errno` (a thread-local in the C library;
/// reading the address is async-signal-safe: no lock, no allocation).
#[cfg(not(target_os = "android"))]
fn errno_location() -> *mut libc::c_int {
    // SAFETY: takes no argument, cannot fail, returns a pointer to this
    // thread's errno.
    unsafe { libc::__errno_location() }
}

/// As above: bionic names it `__errno`.
#[cfg(target_os = "android")]
fn errno_location() -> *mut libc::c_int {
    // SAFETY: takes no argument, cannot fail, returns a pointer to this
    // thread's errno.
    unsafe { libc::__errno() }
}

/// One `poll(2)` for readability of `fd`, `ms` milliseconds at most (-1: no
/// limit).
#[cfg(not(miri))]
fn poll_readable(fd: RawFd, ms: libc::c_int) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call; the return value
    // is checked.
    match unsafe { libc::poll(&mut pfd, 1, ms) } {
        n if n < 0 => Err(io::Error::last_os_error()),
        0 => Ok(false),
        _ => Ok(pfd.revents & libc::POLLIN != 0),
    }
}

/// The same through a short-lived epoll instance: Miri emulates `epoll(7)`
/// (edge-triggered only) but not `poll(2)`. A fresh registration reports an
/// fd that is already readable, so edge triggering loses nothing here.
#[cfg(miri)]
fn poll_readable(fd: RawFd, ms: libc::c_int) -> io::Result<bool> {
    // SAFETY: no pointer argument; checked.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new fd that nothing else owns.
    let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut event = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: 0,
    };
    // SAFETY: valid fds and a valid event for the duration of the call.
    if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: room for one event, as the count says; checked.
    match unsafe { libc::epoll_wait(epoll.as_raw_fd(), &mut event, 1, ms) } {
        n if n < 0 => Err(io::Error::last_os_error()),
        n => Ok(n > 0),
    }
}

/// A timeout in whole milliseconds for `poll(2)`, rounded up so a wait never
/// returns before its deadline, capped at `c_int::MAX`.
fn poll_millis(d: Duration) -> libc::c_int {
    let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<EventFd> for OwnedFd {
    fn from(e: EventFd) -> OwnedFd {
        e.fd
    }
}

impl fmt::Debug for EventFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventFd")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

/// The error of adopting an fd as an [`EventFd`].
///
/// ```
/// use eventsig::{AdoptError, EventFd};
/// use std::os::fd::OwnedFd;
/// let file = std::fs::File::open("/dev/null")?;
/// match EventFd::try_from(OwnedFd::from(file)) {
///     Err(AdoptError::NotEventFd(_fd)) => {}          // the fd comes back
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum AdoptError {
    /// The fd is not an eventfd; it is handed back.
    NotEventFd(OwnedFd),
    /// Inspecting or configuring the fd failed.
    Io(io::Error),
}

impl fmt::Display for AdoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdoptError::NotEventFd(fd) => write!(f, "fd {} is not an eventfd", fd.as_raw_fd()),
            AdoptError::Io(e) => write!(f, "cannot adopt the fd: {e}"),
        }
    }
}

impl std::error::Error for AdoptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AdoptError::Io(e) => Some(e),
            AdoptError::NotEventFd(_) => None,
        }
    }
}

impl TryFrom<OwnedFd> for EventFd {
    type Error = AdoptError;

    /// Adopts an existing eventfd (its counter is kept) and makes it
    /// nonblocking and close-on-exec. The kind is checked through
    /// `/proc/self/fd` (`anon_inode:[eventfd]`).
    fn try_from(fd: OwnedFd) -> Result<EventFd, AdoptError> {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .map_err(AdoptError::Io)?;
        if link.as_os_str() != "anon_inode:[eventfd]" {
            return Err(AdoptError::NotEventFd(fd));
        }
        let raw = fd.as_raw_fd();
        // SAFETY: fcntl on an fd we own, integer arguments only; checked.
        let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
        // SAFETY: as above.
        if flags < 0 || unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(AdoptError::Io(io::Error::last_os_error()));
        }
        // SAFETY: as above.
        if unsafe { libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(AdoptError::Io(io::Error::last_os_error()));
        }
        Ok(EventFd { fd })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_at_counter_max_is_success_and_leaves_it_readable() {
        let bell = EventFd::new().unwrap();
        bell.write(COUNTER_MAX).unwrap();
        bell.notify().unwrap(); // EAGAIN inside: the bell already rang
        assert!(bell.wait(Some(Duration::ZERO)).unwrap());
        assert_eq!(bell.clear().unwrap(), COUNTER_MAX);
    }

    #[test]
    fn poll_millis_rounds_up_and_caps() {
        assert_eq!(poll_millis(Duration::ZERO), 0);
        assert_eq!(poll_millis(Duration::from_micros(1)), 1);
        assert_eq!(poll_millis(Duration::from_millis(3)), 3);
        assert_eq!(poll_millis(Duration::from_secs(u64::MAX)), libc::c_int::MAX);
    }
}
