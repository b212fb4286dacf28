//! Channel options: [`builder()`] and [`Builder`].

use std::fmt;
#[cfg(not(eventsig_loom))]
use std::os::fd::OwnedFd;

use crate::channel::{self, Extras, Receiver, Sender};
use crate::classes::Classifier;
#[cfg(not(eventsig_loom))]
use crate::eventfd::EventFd;
use crate::policy::OverflowPolicy;
use crate::ring::BuildError;
use crate::signals::Signal;

/// Starts a channel with options; [`channel`](crate::channel) is
/// `builder().capacity(n).build()`.
///
/// ```
/// let (mut tx, mut rx) = eventsig::builder()
///     .capacity(64)
///     .wait_spin(false)
///     .build::<u32>()?;
/// tx.send(1).unwrap();
/// assert_eq!(rx.capacity(), 64);
/// # Ok::<(), eventsig::BuildError>(())
/// ```
pub fn builder() -> Builder {
    Builder::new()
}

/// Options of a channel, set one by one, then [`build`](Builder::build).
/// The defaults suit most users: a ring of [`DEFAULT_CAPACITY`] events, a
/// brief spin in [`Receiver::wait`] before it parks, a new eventfd.
///
/// [`DEFAULT_CAPACITY`]: Builder::DEFAULT_CAPACITY
///
/// ```
/// let b = eventsig::builder();
/// println!("{b:?}");
/// let (_tx, rx) = b.build::<()>()?;
/// assert_eq!(rx.capacity(), eventsig::Builder::DEFAULT_CAPACITY);
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    capacity: usize,
    wait_spin: bool,
    overrun_counts: bool,
    policy: OverflowPolicy,
    #[cfg(not(eventsig_loom))]
    eventfd: Option<OwnedFd>,
}

impl Builder {
    /// The ring's capacity unless [`capacity`](Builder::capacity) is set.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// The defaults (see the type docs); the same as [`builder()`].
    ///
    /// ```
    /// let (_tx, rx) = eventsig::Builder::new().build::<u8>()?;
    /// assert_eq!(rx.capacity(), 1024);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn new() -> Builder {
        Builder {
            capacity: Builder::DEFAULT_CAPACITY,
            wait_spin: true,
            overrun_counts: false,
            policy: OverflowPolicy::DropNewest,
            #[cfg(not(eventsig_loom))]
            eventfd: None,
        }
    }

    /// The ring holds exactly `capacity` events. 0 or an absurd size is an
    /// error at [`build`](Builder::build), never a panic.
    ///
    /// ```
    /// # use eventsig::BuildError;
    /// assert!(matches!(eventsig::builder().capacity(0).build::<u8>(), Err(BuildError::ZeroCapacity)));
    /// ```
    pub fn capacity(mut self, capacity: usize) -> Builder {
        self.capacity = capacity;
        self
    }

    /// Whether [`Receiver::wait`] spins briefly (a bounded backoff of a few
    /// microseconds) before it parks on the eventfd. On by default: a
    /// blocking wake-up costs tens of microseconds on a virtual machine, and
    /// the spin catches a producer that answers quickly. Turn it off to save
    /// the CPU time when waits are long anyway. Epoll users are not
    /// affected (they sleep in `epoll_wait`). Also
    /// [`Receiver::set_wait_spin`].
    ///
    /// ```
    /// let (_tx, _rx) = eventsig::builder().wait_spin(false).build::<u8>()?;
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn wait_spin(mut self, spin: bool) -> Builder {
        self.wait_spin = spin;
        self
    }

    /// Whether the channel counts raises, so that
    /// [`Receiver::take_signals_counted`] reports how many raises merged into
    /// each signal taken (the POSIX timer overrun count). Off by default:
    /// then a raise is one `fetch_or`; with counts it is a `fetch_add` and
    /// the `fetch_or`, and a take swaps the count of each signal it takes.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let s = Signal::new(0)?;
    /// let (tx, mut rx) = eventsig::builder().overrun_counts(true).build::<()>()?;
    /// tx.raise(s)?;
    /// tx.raise(s)?;
    /// assert_eq!(rx.take_signals_counted().count(s), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn overrun_counts(mut self, on: bool) -> Builder {
        self.overrun_counts = on;
        self
    }

    /// What a full ring does with a new event: refuse it
    /// ([`OverflowPolicy::DropNewest`], the default) or accept it and drop
    /// the oldest unread one ([`OverflowPolicy::DropOldest`], to keep the
    /// most recent events). The loss is reported exactly either way.
    ///
    /// ```
    /// use eventsig::{Delivery, OverflowPolicy};
    /// let (mut tx, mut rx) = eventsig::builder()
    ///     .capacity(1)
    ///     .overflow_policy(OverflowPolicy::DropOldest)
    ///     .build::<&str>()?;
    /// tx.send("old").unwrap();
    /// tx.send("new").unwrap();
    /// assert_eq!(rx.try_recv(), Ok(Delivery::Lost { first: 0, count: 1 }));
    /// assert_eq!(rx.try_recv(), Ok(Delivery::Event("new")));
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn overflow_policy(mut self, policy: OverflowPolicy) -> Builder {
        self.policy = policy;
        self
    }

    /// Uses an eventfd the caller already has as the channel's doorbell: a
    /// KVM irqfd or ioeventfd, a vhost-user call fd, an fd passed by another
    /// process. It is checked to be an eventfd (see
    /// [`EventFd`'s `TryFrom<OwnedFd>`](EventFd#impl-TryFrom<OwnedFd>-for-EventFd))
    /// and made nonblocking and close-on-exec at [`build`](Builder::build);
    /// a fd of another kind is [`BuildError::Adopt`], which hands it back.
    ///
    /// The channel then reads the eventfd (to clear it) whenever its
    /// receiver wakes from a park, as it does its own; others may write it
    /// too (a spurious wake-up is harmless), but nobody else should read it
    /// (a read would take a wake-up meant for the receiver). The counter must
    /// not be in semaphore mode (`EFD_SEMAPHORE`), where a read takes 1 only.
    /// See `eventfd(2)`.
    ///
    /// ```
    /// use std::os::fd::OwnedFd;
    /// // An eventfd made elsewhere (here with the crate's own type).
    /// let fd: OwnedFd = eventsig::EventFd::new()?.into();
    /// let (tx, mut rx) = eventsig::builder().eventfd(fd).build::<u8>()?;
    /// tx.raise(eventsig::Signal::new(1).unwrap()).unwrap();
    /// assert!(rx.wait(Some(std::time::Duration::from_secs(1)))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(eventsig_loom))]
    pub fn eventfd(mut self, fd: OwnedFd) -> Builder {
        self.eventfd = Some(fd);
        self
    }

    /// Builds the channel.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroCapacity`], [`BuildError::CapacityTooLarge`],
    /// [`BuildError::Io`] when `eventfd(2)` fails (e.g. `EMFILE`), and
    /// [`BuildError::Adopt`] when the fd given to
    /// [`eventfd`](Builder::eventfd) is not an eventfd (it is handed back)
    /// or cannot be configured.
    ///
    /// ```
    /// use std::os::fd::OwnedFd;
    /// use eventsig::{AdoptError, BuildError};
    /// let not_an_eventfd: OwnedFd = std::fs::File::open("/dev/null")?.into();
    /// match eventsig::builder().eventfd(not_an_eventfd).build::<u8>() {
    ///     Err(BuildError::Adopt(AdoptError::NotEventFd(fd))) => drop(fd), // ours again
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build<T>(self) -> Result<(Sender<T>, Receiver<T>), BuildError> {
        self.build_with(None)
    }

    /// Builds a channel that falls back per class on overflow: when the
    /// ring refuses an event, `classify` runs on it, on the sender's
    /// thread, and the [`Signal`] it returns (its *class*: "VNC client
    /// list", "block devices") is raised, coalesced and never lost like
    /// any raise, and listed by [`Overflow::classes`](crate::Overflow::classes)
    /// until the overflow is acknowledged. The receiver then re-polls the
    /// state of those classes only, not all state (the kernel's SIGIO on
    /// a full real-time queue cannot say what was lost). `None`: the event
    /// has no class; its drop is counted and placed as on any channel.
    ///
    /// `classify` never runs for an accepted event: the accepted path costs
    /// what it costs on any channel. It should be quick and must not panic
    /// (a panic unwinds out of [`Sender::send`], dropping the value).
    ///
    /// # Errors
    ///
    /// As [`build`](Builder::build).
    ///
    /// ```
    /// use eventsig::{Delivery, Signal};
    /// #[derive(Debug)]
    /// enum Ev { VncConnected(u32), DiskResized(u64) }
    /// let vnc_lost = Signal::new(20)?;
    /// let disk_lost = Signal::new(21)?;
    /// let (mut tx, mut rx) = eventsig::builder()
    ///     .capacity(2)
    ///     .build_classified(move |ev: &Ev| match ev {
    ///         Ev::VncConnected(_) => Some(vnc_lost),
    ///         Ev::DiskResized(_) => Some(disk_lost),
    ///     })?;
    /// tx.send(Ev::DiskResized(10)).unwrap();
    /// for client in 0..5 {
    ///     let _ = tx.send(Ev::VncConnected(client)); // 1 accepted, 4 dropped
    /// }
    /// // The class is raised like any signal: the receiver learns of it
    /// // even if it only takes signals.
    /// assert!(rx.take_signals().contains(vnc_lost));
    /// let ov = rx.overflow().unwrap();
    /// assert_eq!((ov.lost(), ov.classes().iter().collect::<Vec<_>>()), (4, vec![vnc_lost]));
    /// // Re-poll the VNC client list (only), then:
    /// rx.acknowledge(ov);
    /// assert_eq!(rx.drain().filter(|d| matches!(d, Delivery::Event(_))).count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_classified<T, F>(self, classify: F) -> Result<(Sender<T>, Receiver<T>), BuildError>
    where
        F: Fn(&T) -> Option<Signal> + Send + 'static,
    {
        self.build_with(Some(Box::new(classify)))
    }

    fn build_with<T>(
        self,
        classify: Option<Classifier<T>>,
    ) -> Result<(Sender<T>, Receiver<T>), BuildError> {
        let extras = Extras {
            classify,
            overrun_counts: self.overrun_counts,
            policy: self.policy,
        };
        #[cfg(not(eventsig_loom))]
        let bell = match self.eventfd {
            Some(fd) => Some(EventFd::try_from(fd).map_err(BuildError::Adopt)?),
            None => None,
        };
        #[cfg(eventsig_loom)]
        let bell = None;
        channel::build_with(
            self.capacity,
            bell,
            self.wait_spin && cfg!(not(eventsig_loom)),
            extras,
        )
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Builder");
        d.field("capacity", &self.capacity)
            .field("wait_spin", &self.wait_spin)
            .field("overrun_counts", &self.overrun_counts)
            .field("overflow_policy", &self.policy);
        #[cfg(not(eventsig_loom))]
        d.field("eventfd", &self.eventfd);
        d.finish()
    }
}
