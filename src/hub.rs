//! Many senders, one consumer, one eventfd: a hub of SPSC rings.
//!
//! A hypervisor has many event sources (a thread per vCPU, device I/O
//! threads, a migration thread) and one monitor loop. Signals already come
//! from any thread through a [`Raiser`]; events need a ring per producer,
//! since a shared MPSC ring would put a contended atomic on every send. A
//! hub gives each sender its own SPSC ring, with its own sequence numbers,
//! gap markers and sticky overflow, and the receiver one eventfd and one
//! signals word for all of them:
//!
//! - [`hub()`] (or [`builder()`]) makes a [`Hub`], the factory of senders,
//!   and the [`HubReceiver`];
//! - [`Hub::add_sender`] adds a [`HubSender`] at any time, from any thread,
//!   while the receiver runs (a vCPU hot-plugged); dropping the sender
//!   removes it (a device unplugged): its remaining events are still
//!   delivered, then [`HubDelivery::Closed`], and its slot is reused by a
//!   later sender;
//! - every delivery carries the [`SenderId`] of its sender;
//! - [`HubReceiver::drain`] is a fair, round-robin pass: each ring with work
//!   gives at most a budget of deliveries, so a flooding sender cannot
//!   starve a trickling one;
//! - the wake-up protocol is the channel's, with one park flag for the
//!   whole hub: producers write the eventfd only for a parked receiver, at
//!   most once per sleep, whatever the number of rings.
//!
//! The hub closes for the receiver when the `Hub` (and its clones), every
//! `HubSender` and every `Raiser` are gone.
//!
//! ```
//! use eventsig::hub::HubDelivery;
//! use eventsig::Signal;
//!
//! let vm_stopped = Signal::new(3)?;
//! let (hub, mut monitor) = eventsig::hub::<u32>(64)?;
//! let vcpus: Vec<_> = (0..4)
//!     .map(|n| {
//!         let mut tx = hub.add_sender().expect("a free slot");
//!         std::thread::spawn(move || {
//!             for i in 0..10 {
//!                 tx.send(n * 100 + i).unwrap();
//!             }
//!             if n == 3 {
//!                 tx.raise(vm_stopped).unwrap();
//!             }
//!         })
//!     })
//!     .collect();
//! drop(hub); // no more senders: the hub closes when the vCPUs are done
//! let (mut events, mut closed) = (0, 0);
//! let mut stopped = false;
//! while !monitor.is_finished() {
//!     monitor.wait(None)?;
//!     stopped |= monitor.take_signals().contains(vm_stopped);
//!     for (id, d) in monitor.drain() {
//!         match d {
//!             HubDelivery::Event(v) => {
//!                 assert_eq!(v / 100, id.index() as u32); // each vCPU has its ring
//!                 events += 1;
//!             }
//!             HubDelivery::Lost { .. } => unreachable!("64 slots hold 10 events"),
//!             HubDelivery::Closed => closed += 1,
//!         }
//!     }
//! }
//! stopped |= monitor.take_signals().contains(vm_stopped);
//! assert_eq!((events, closed, stopped), (40, 4, true));
//! for v in vcpus { v.join().unwrap(); }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Cost
//!
//! A send is the channel's send plus one load of the ring's announcement
//! flag, on a cache line only that sender and the receiver touch: it does
//! not grow with the number of senders. When the receiver has the ring on
//! its active list (it does while the ring has work) the send stores
//! nothing else; the first send after the receiver took the ring off its
//! active list (after a pass that found nothing anywhere, or a few empty
//! turns in a row) sets the ring's bit in a ready word (one `fetch_or`) and
//! pays a second barrier. A pass of the receiver costs one load per 64
//! slots plus the rings with work, and one load per ring that went idle
//! since the receiver last parked: a receiver that never parks confirms
//! those idle with a heavy barrier (`membarrier(2)`, which interrupts the
//! senders' CPUs too) at most once a millisecond, so a ring stays on that
//! list for about a millisecond after its last event.
//!
//! Memory: the slot table is allocated by [`HubBuilder::build`];
//! [`Hub::add_sender`] allocates the new sender's ring (send, raise, drain,
//! take and wait allocate nothing). A removed sender's ring is kept until
//! its slot is reused (the next `add_sender` there frees it) or the hub is
//! dropped, so the receiver never frees memory either.
//!
//! The memory-ordering argument of the ready set (why a ring with work is
//! never left out, with a fence-free send) is in `src/hub/ready.rs`.

use std::fmt;
#[cfg(not(eventsig_loom))]
use std::os::fd::OwnedFd;
use std::ptr::NonNull;

use crossbeam_utils::CachePadded;

use crate::channel::{Raiser, Shared};
use crate::error::{RaiseError, SendError};
#[cfg(not(eventsig_loom))]
use crate::eventfd::EventFd;
use crate::ring::{self, BuildError, Delivery, Producer};
use crate::signals::Signal;
#[cfg(eventsig_loom)]
use crate::sync::Bell;
use crate::sync::{Arc, Ordering};

mod ready;
mod receiver;
mod slot;

pub use receiver::{HubDrain, HubReceiver};

use ready::ReadyWords;
use slot::Slot;

/// Creates a hub whose senders' rings hold exactly `capacity` events each,
/// with room for [`HubBuilder::DEFAULT_MAX_SENDERS`] senders at once; the
/// same as `builder().capacity(capacity).build()`.
///
/// # Errors
///
/// [`BuildError::ZeroCapacity`], [`BuildError::CapacityTooLarge`], or
/// [`BuildError::Io`] when `eventfd(2)` fails.
///
/// ```
/// let (hub, mut rx) = eventsig::hub::<&str>(16)?;
/// let mut tx = hub.add_sender()?;
/// tx.send("vcpu 0 halted").unwrap();
/// let (id, d) = rx.try_recv()?;
/// assert_eq!(id, tx.id());
/// assert_eq!(d.event(), Some("vcpu 0 halted"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn hub<T>(capacity: usize) -> Result<(Hub<T>, HubReceiver<T>), BuildError> {
    builder().capacity(capacity).build()
}

/// Starts a hub with options: [`HubBuilder`].
///
/// ```
/// let (hub, rx) = eventsig::hub::builder()
///     .capacity(256)
///     .max_senders(512)
///     .drain_budget(32)
///     .build::<u64>()?;
/// assert_eq!((hub.capacity(), rx.max_senders()), (256, 512));
/// # Ok::<(), eventsig::BuildError>(())
/// ```
pub fn builder() -> HubBuilder {
    HubBuilder::new()
}

/// Options of a hub, set one by one, then [`build`](HubBuilder::build).
///
/// ```
/// let b = eventsig::hub::HubBuilder::new().capacity(8);
/// println!("{b:?}");
/// let (_hub, rx) = b.build::<()>()?;
/// assert_eq!(rx.max_senders(), eventsig::hub::HubBuilder::DEFAULT_MAX_SENDERS);
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct HubBuilder {
    capacity: usize,
    max_senders: usize,
    drain_budget: usize,
    wait_spin: bool,
    #[cfg(not(eventsig_loom))]
    eventfd: Option<OwnedFd>,
}

impl HubBuilder {
    /// Each ring's capacity unless [`capacity`](HubBuilder::capacity) is set.
    ///
    /// ```
    /// use eventsig::hub::HubBuilder;
    /// let (hub, _rx) = eventsig::hub::builder().build::<u8>()?;
    /// assert_eq!(hub.capacity(), HubBuilder::DEFAULT_CAPACITY);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub const DEFAULT_CAPACITY: usize = 1024;
    /// Senders at once unless [`max_senders`](HubBuilder::max_senders) is set.
    ///
    /// ```
    /// use eventsig::hub::HubBuilder;
    /// let (hub, _rx) = eventsig::hub::builder().build::<u8>()?;
    /// assert_eq!(hub.max_senders(), HubBuilder::DEFAULT_MAX_SENDERS);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub const DEFAULT_MAX_SENDERS: usize = 64;
    /// The largest [`max_senders`](HubBuilder::max_senders) accepted.
    ///
    /// ```
    /// use eventsig::hub::HubBuilder;
    /// let too_many = eventsig::hub::builder().max_senders(HubBuilder::MAX_SENDERS + 1);
    /// assert!(too_many.build::<u8>().is_err());
    /// ```
    pub const MAX_SENDERS: usize = 4096;
    /// Deliveries per ring per pass unless
    /// [`drain_budget`](HubBuilder::drain_budget) is set.
    ///
    /// ```
    /// use eventsig::hub::HubBuilder;
    /// let b = eventsig::hub::builder().drain_budget(HubBuilder::DEFAULT_DRAIN_BUDGET);
    /// assert!(b.build::<u8>().is_ok());
    /// ```
    pub const DEFAULT_DRAIN_BUDGET: usize = 128;

    /// The defaults; the same as [`builder()`].
    ///
    /// ```
    /// let (hub, _rx) = eventsig::hub::HubBuilder::new().build::<u8>()?;
    /// assert_eq!(hub.capacity(), 1024);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn new() -> HubBuilder {
        HubBuilder {
            capacity: HubBuilder::DEFAULT_CAPACITY,
            max_senders: HubBuilder::DEFAULT_MAX_SENDERS,
            drain_budget: HubBuilder::DEFAULT_DRAIN_BUDGET,
            wait_spin: true,
            #[cfg(not(eventsig_loom))]
            eventfd: None,
        }
    }

    /// Each sender's ring holds exactly `capacity` events. 0 or an absurd
    /// size is an error at [`build`](HubBuilder::build).
    ///
    /// ```
    /// # use eventsig::BuildError;
    /// let r = eventsig::hub::builder().capacity(0).build::<u8>();
    /// assert!(matches!(r, Err(BuildError::ZeroCapacity)));
    /// ```
    pub fn capacity(mut self, capacity: usize) -> HubBuilder {
        self.capacity = capacity;
        self
    }

    /// The most senders the hub holds at once, `1..=MAX_SENDERS`; the slot
    /// table (a few cache lines a slot) is allocated at `build`. 0 is
    /// [`BuildError::ZeroCapacity`] and more than
    /// [`MAX_SENDERS`](HubBuilder::MAX_SENDERS) is
    /// [`BuildError::CapacityTooLarge`] at [`build`](HubBuilder::build).
    ///
    /// ```
    /// # use eventsig::BuildError;
    /// let (hub, _rx) = eventsig::hub::builder().max_senders(1).build::<u8>()?;
    /// let _one = hub.add_sender()?;
    /// assert!(hub.add_sender().is_err());
    /// let r = eventsig::hub::builder().max_senders(100_000).build::<u8>();
    /// assert!(matches!(r, Err(BuildError::CapacityTooLarge { requested: 100_000 })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_senders(mut self, max_senders: usize) -> HubBuilder {
        self.max_senders = max_senders;
        self
    }

    /// The most deliveries (events and gap markers) one ring gives in one
    /// pass of [`HubReceiver::drain`] (0 is taken as 1). Smaller is fairer
    /// (a ring with work waits for at most `budget` deliveries of each other
    /// ring), larger batches more.
    ///
    /// ```
    /// let (hub, mut rx) = eventsig::hub::builder().drain_budget(2).build::<u8>()?;
    /// let mut tx = hub.add_sender()?;
    /// for i in 0..5 { tx.send(i).unwrap(); }
    /// assert_eq!(rx.drain().count(), 2);
    /// assert_eq!(rx.drain().count(), 2);
    /// assert_eq!(rx.drain().count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn drain_budget(mut self, budget: usize) -> HubBuilder {
        self.drain_budget = budget.max(1);
        self
    }

    /// Whether [`HubReceiver::wait`] spins briefly before it parks, as
    /// [`Builder::wait_spin`](crate::Builder::wait_spin) for a channel.
    ///
    /// ```
    /// let (_hub, _rx) = eventsig::hub::builder().wait_spin(false).build::<u8>()?;
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn wait_spin(mut self, spin: bool) -> HubBuilder {
        self.wait_spin = spin;
        self
    }

    /// Uses an eventfd the caller already has as the hub's doorbell, as
    /// [`Builder::eventfd`](crate::Builder::eventfd) for a channel.
    ///
    /// ```
    /// use std::os::fd::OwnedFd;
    /// let fd: OwnedFd = eventsig::EventFd::new()?.into();
    /// let (hub, mut rx) = eventsig::hub::builder().eventfd(fd).build::<u8>()?;
    /// hub.raiser().raise(eventsig::Signal::new(1).unwrap()).unwrap();
    /// assert!(rx.wait(Some(std::time::Duration::from_secs(1)))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(eventsig_loom))]
    pub fn eventfd(mut self, fd: OwnedFd) -> HubBuilder {
        self.eventfd = Some(fd);
        self
    }

    /// Builds the hub: the slot table and the doorbell; no ring yet.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroCapacity`] and [`BuildError::CapacityTooLarge`] for
    /// the ring capacity (checked by building one ring) or `max_senders`,
    /// [`BuildError::Io`] when `eventfd(2)` fails, [`BuildError::Adopt`] for
    /// an [`eventfd`](HubBuilder::eventfd) that is not one.
    ///
    /// ```
    /// # use eventsig::BuildError;
    /// let r = eventsig::hub::builder().capacity(usize::MAX).build::<u64>();
    /// assert!(matches!(r, Err(BuildError::CapacityTooLarge { .. })));
    /// ```
    pub fn build<T>(self) -> Result<(Hub<T>, HubReceiver<T>), BuildError> {
        if self.max_senders == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        if self.max_senders > HubBuilder::MAX_SENDERS {
            return Err(BuildError::CapacityTooLarge {
                requested: self.max_senders,
            });
        }
        // The same checks (and the same errors) as every later ring.
        drop(ring::ring::<T>(self.capacity)?);
        #[cfg(not(eventsig_loom))]
        let bell = match self.eventfd {
            Some(fd) => EventFd::try_from(fd).map_err(BuildError::Adopt)?,
            None => EventFd::new()?,
        };
        #[cfg(eventsig_loom)]
        let bell = Bell::new()?;
        // One producer handle to begin with: the `Hub`.
        let core = Arc::new(Shared::for_hub(bell));
        let state = Arc::new(HubState {
            slots: (0..self.max_senders)
                .map(|_| CachePadded::new(Slot::new()))
                .collect(),
            ready: ReadyWords::new(self.max_senders),
            capacity: self.capacity,
        });
        let hub = Hub {
            core: Arc::clone(&core),
            state: Arc::clone(&state),
        };
        let spin = self.wait_spin && cfg!(not(eventsig_loom));
        Ok((hub, HubReceiver::new(core, state, self.drain_budget, spin)))
    }
}

impl Default for HubBuilder {
    fn default() -> HubBuilder {
        HubBuilder::new()
    }
}

impl fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("HubBuilder");
        d.field("capacity", &self.capacity)
            .field("max_senders", &self.max_senders)
            .field("drain_budget", &self.drain_budget)
            .field("wait_spin", &self.wait_spin);
        #[cfg(not(eventsig_loom))]
        d.field("eventfd", &self.eventfd);
        d.finish()
    }
}

/// The slots and the ready words, shared by the hub's handles.
pub(crate) struct HubState<T> {
    slots: Box<[CachePadded<Slot<T>>]>,
    ready: ReadyWords,
    capacity: usize,
}

// SAFETY: a slot's hand-off cell moves a ring's `Consumer<T>` (which moves
// `T` values) from `add_sender`'s thread to the receiver's, under the slot
// protocol (`slot.rs`): one side at a time. So `T: Send` suffices, as for
// the ring itself.
unsafe impl<T: Send> Sync for HubState<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for HubState<T> {}

/// Who sent a delivery: the sender's slot number and its generation.
///
/// Slots are reused (the lowest free one first, like file descriptors), but
/// two senders never have equal ids: a new sender in a slot gets a new
/// generation. [`index`](SenderId::index) is below the hub's
/// [`max_senders`](HubReceiver::max_senders), for tables indexed by slot.
///
/// ```
/// let (hub, mut rx) = eventsig::hub::<u8>(1)?;
/// let first = hub.add_sender()?.id();        // added and dropped at once
/// rx.drain().for_each(drop);                  // delivers its `Closed`: slot 0 is free
/// let second = hub.add_sender()?.id();
/// assert_eq!((first.index(), second.index()), (0, 0));
/// assert_ne!(first, second);
/// println!("{first} {second:?}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SenderId {
    index: u32,
    generation: u64,
}

impl SenderId {
    /// The sender's slot, in `0..max_senders`.
    ///
    /// ```
    /// let (hub, _rx) = eventsig::hub::<u8>(1)?;
    /// let (a, b) = (hub.add_sender()?, hub.add_sender()?);
    /// assert_eq!((a.id().index(), b.id().index()), (0, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(self) -> usize {
        self.index as usize
    }
}

impl fmt::Debug for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SenderId({}.{})", self.index, self.generation)
    }
}

impl fmt::Display for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sender {}.{}", self.index, self.generation)
    }
}

/// What a hub delivers for one sender: an event, a gap, or the sender's
/// removal.
///
/// ```
/// use eventsig::hub::HubDelivery;
/// assert_eq!(HubDelivery::Event(3).event(), Some(3));
/// assert_eq!(HubDelivery::<u8>::Closed.event(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubDelivery<T> {
    /// One event, in the sender's send order.
    Event(T),
    /// As [`Delivery::Lost`]: `count` consecutive send attempts of this
    /// sender, from its attempt number `first` (each sender counts from 0),
    /// were dropped because its ring was full; it stands where they were.
    Lost {
        /// Sequence number of the first dropped attempt.
        first: u64,
        /// How many consecutive attempts were dropped.
        count: u64,
    },
    /// The sender was dropped and everything it sent was delivered before
    /// this; nothing more comes from this [`SenderId`].
    Closed,
}

impl<T> HubDelivery<T> {
    /// The event, if this is one.
    ///
    /// ```
    /// # use eventsig::hub::HubDelivery;
    /// assert_eq!(HubDelivery::<u8>::Lost { first: 0, count: 2 }.event(), None);
    /// ```
    pub fn event(self) -> Option<T> {
        match self {
            HubDelivery::Event(v) => Some(v),
            _ => None,
        }
    }
}

impl<T> From<Delivery<T>> for HubDelivery<T> {
    /// ```
    /// use eventsig::{hub::HubDelivery, Delivery};
    /// assert_eq!(HubDelivery::from(Delivery::Event(1)), HubDelivery::Event(1));
    /// ```
    fn from(d: Delivery<T>) -> HubDelivery<T> {
        match d {
            Delivery::Event(v) => HubDelivery::Event(v),
            Delivery::Lost { first, count } => HubDelivery::Lost { first, count },
        }
    }
}

/// The error of [`Hub::add_sender`].
///
/// ```
/// use eventsig::hub::AddSenderError;
/// let (hub, rx) = eventsig::hub::builder().max_senders(1).build::<u8>()?;
/// let _tx = hub.add_sender()?;
/// assert_eq!(hub.add_sender().unwrap_err(), AddSenderError::Full);
/// drop(rx);
/// assert_eq!(hub.add_sender().unwrap_err(), AddSenderError::Closed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddSenderError {
    /// Every slot holds a sender, or a removed sender whose
    /// [`Closed`](HubDelivery::Closed) the receiver has not taken yet.
    Full,
    /// The receiver is gone.
    Closed,
    /// The new sender's ring could not be allocated.
    OutOfMemory,
}

impl fmt::Display for AddSenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddSenderError::Full => "every sender slot of the hub is taken",
            AddSenderError::Closed => "the hub's receiver is gone",
            AddSenderError::OutOfMemory => "the sender's ring could not be allocated",
        })
    }
}

impl std::error::Error for AddSenderError {}

/// The factory of a hub's senders, and a producer handle of the hub (it
/// keeps the hub open): `Clone + Send + Sync`.
///
/// ```
/// let (hub, rx) = eventsig::hub::<u8>(1)?;
/// let hub2 = hub.clone();
/// std::thread::spawn(move || hub2.add_sender().map(drop)).join().unwrap()?;
/// drop(hub);
/// assert!(rx.is_closed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Hub<T> {
    core: Arc<Shared>,
    state: Arc<HubState<T>>,
}

impl<T> Hub<T> {
    /// Adds a sender, with a new ring, in the lowest free slot. Any thread,
    /// any time, also while the receiver drains or sleeps; the receiver
    /// meets the sender at its first publication (send, drop or removal).
    ///
    /// Allocates the ring (capacity [`capacity`](Hub::capacity)); frees the
    /// ring of the slot's previous sender, if any.
    ///
    /// # Errors
    ///
    /// [`AddSenderError::Full`], [`AddSenderError::Closed`],
    /// [`AddSenderError::OutOfMemory`].
    ///
    /// ```
    /// let (hub, mut rx) = eventsig::hub::<u32>(4)?;
    /// let mut vcpu0 = hub.add_sender()?;
    /// vcpu0.send(7).unwrap();
    /// let (id, d) = rx.try_recv()?;
    /// assert_eq!((id, d.event()), (vcpu0.id(), Some(7)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_sender(&self) -> Result<HubSender<T>, AddSenderError> {
        // Relaxed: a hint, as in `send`.
        if !self.core.receiver_alive.load(Ordering::Relaxed) {
            return Err(AddSenderError::Closed);
        }
        let (index, slot) = self
            .state
            .slots
            .iter()
            .enumerate()
            .find(|(_, s)| s.claim())
            .ok_or(AddSenderError::Full)?;
        let (producer, consumer) = match ring::ring(self.state.capacity) {
            Ok(halves) => halves,
            Err(_) => {
                // SAFETY: our claim succeeded, and we did not install.
                unsafe { slot.unclaim() };
                return Err(AddSenderError::OutOfMemory);
            }
        };
        // Relaxed: made from a live handle (`self`), so the count cannot
        // reach 0 meanwhile (the argument of `Arc::clone`).
        self.core.producers.fetch_add(1, Ordering::Relaxed);
        // SAFETY: our claim succeeded; we install once.
        let generation = unsafe { slot.install(consumer) };
        Ok(HubSender {
            ring: producer,
            core: Arc::clone(&self.core),
            slot: NonNull::from(&**slot),
            state: Arc::clone(&self.state),
            index,
            generation,
        })
    }

    /// A new [`Raiser`] on the hub's signals word: the same type as a
    /// channel's, `Clone + Send + Sync`, async-signal-safe. It keeps the
    /// hub open while it lives.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (hub, mut rx) = eventsig::hub::<()>(1)?;
    /// let r = hub.raiser();
    /// std::thread::spawn(move || r.raise(Signal::new(2).unwrap())).join().unwrap()?;
    /// assert_eq!(rx.take_signals().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn raiser(&self) -> Raiser {
        Raiser::new(&self.core)
    }

    /// The capacity of every sender's ring.
    ///
    /// ```
    /// let (hub, _rx) = eventsig::hub::<()>(3)?;
    /// assert_eq!(hub.capacity(), 3);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.state.capacity
    }

    /// The most senders the hub holds at once.
    ///
    /// ```
    /// let (hub, _rx) = eventsig::hub::<()>(3)?;
    /// assert_eq!(hub.max_senders(), 64);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn max_senders(&self) -> usize {
        self.state.slots.len()
    }

    /// Whether the receiver is gone.
    ///
    /// ```
    /// let (hub, rx) = eventsig::hub::<()>(1)?;
    /// drop(rx);
    /// assert!(hub.is_closed());
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        // Relaxed: a racy answer by nature.
        !self.core.receiver_alive.load(Ordering::Relaxed)
    }
}

impl<T> Clone for Hub<T> {
    fn clone(&self) -> Hub<T> {
        // Relaxed: as in `add_sender`.
        self.core.producers.fetch_add(1, Ordering::Relaxed);
        Hub {
            core: Arc::clone(&self.core),
            state: Arc::clone(&self.state),
        }
    }
}

impl<T> Drop for Hub<T> {
    fn drop(&mut self) {
        self.core.release_producer();
    }
}

impl<T> fmt::Debug for Hub<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("capacity", &self.capacity())
            .field("max_senders", &self.max_senders())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// One sender of a hub, with its own ring: `Send`, not `Sync`. Dropping it
/// removes the sender: the receiver gets its remaining events, then
/// [`HubDelivery::Closed`].
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<eventsig::hub::HubSender<u32>>();
/// ```
pub struct HubSender<T> {
    ring: Producer<T>,
    core: Arc<Shared>,
    /// This sender's slot, inside `state` (read on every send; a pointer
    /// saves the walk through the shared table).
    slot: NonNull<Slot<T>>,
    state: Arc<HubState<T>>,
    index: usize,
    generation: u64,
}

// SAFETY: `slot` points into the slot table that `state` (an `Arc` this
// sender holds) owns, so it is valid wherever the sender goes; a `Slot<T>`
// is shared by design (its fields are atomics, and its hand-off cell is
// guarded by its state, see `slot.rs`), as `HubState<T>` is `Sync` for
// `T: Send`. The other fields are `Send` for `T: Send`. Not `Sync`: the
// ring's producer half is not.
unsafe impl<T: Send> Send for HubSender<T> {}

impl<T> HubSender<T> {
    /// This sender's id, as the receiver's deliveries carry it.
    ///
    /// ```
    /// let (hub, mut rx) = eventsig::hub::<u8>(1)?;
    /// let mut tx = hub.add_sender()?;
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv()?.0, tx.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn id(&self) -> SenderId {
        SenderId {
            index: self.index as u32,
            generation: self.generation,
        }
    }

    /// Queues `value` as this sender's next event, as
    /// [`Sender::send`](crate::Sender::send): never blocks, never
    /// allocates, makes a syscall only when the receiver is parked (one per
    /// sleep for the whole hub).
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] when this sender's ring is full (the drop is
    /// counted and reported in this sender's stream and overflow),
    /// [`SendError::Closed`] once the receiver is gone.
    ///
    /// ```
    /// let (hub, _rx) = eventsig::hub::<u8>(1)?;
    /// let mut tx = hub.add_sender()?;
    /// assert!(tx.send(1).is_ok());
    /// assert_eq!(tx.send(2).unwrap_err().into_inner(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        // Relaxed: a hint, as in the channel's `send`.
        if !self.core.receiver_alive.load(Ordering::Relaxed) {
            return Err(SendError::Closed(value));
        }
        let pushed = self.ring.push(value);
        // An accepted event and a drop (a new gap) both need the receiver.
        self.publish();
        pushed.map_err(SendError::Full)
    }

    /// Sends events from `items` while the ring has room, as
    /// [`Sender::send_iter`](crate::Sender::send_iter).
    ///
    /// ```
    /// let (hub, mut rx) = eventsig::hub::<u32>(3)?;
    /// let mut tx = hub.add_sender()?;
    /// let mut items = 0..10;
    /// assert_eq!(tx.send_iter(&mut items), 3);
    /// assert_eq!(items.next(), Some(3));
    /// assert_eq!(rx.drain().count(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_iter<I: Iterator<Item = T>>(&mut self, items: &mut I) -> usize {
        // Relaxed: a hint, as in `send`.
        if !self.core.receiver_alive.load(Ordering::Relaxed) {
            return 0;
        }
        let sent = self.ring.push_iter(items);
        if sent > 0 {
            self.publish();
        }
        sent
    }

    /// Free slots in this sender's ring now: `> 0` means the next `send` is
    /// accepted.
    ///
    /// ```
    /// let (hub, _rx) = eventsig::hub::<()>(2)?;
    /// let mut tx = hub.add_sender()?;
    /// tx.send(()).unwrap();
    /// assert_eq!(tx.free_slots(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn free_slots(&mut self) -> usize {
        self.ring.free_slots()
    }

    /// Raises `signal` on the hub's shared signals word, like
    /// [`Raiser::raise`].
    ///
    /// # Errors
    ///
    /// [`RaiseError::Closed`] once the receiver is gone.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (hub, mut rx) = eventsig::hub::<()>(1)?;
    /// hub.add_sender()?.raise(Signal::new(1).unwrap())?;
    /// assert_eq!(rx.take_signals().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn raise(&self, signal: Signal) -> Result<(), RaiseError> {
        self.core.raise(signal)
    }

    /// A new [`Raiser`] on the hub's signals word.
    ///
    /// ```
    /// # use eventsig::Signal;
    /// let (hub, mut rx) = eventsig::hub::<()>(1)?;
    /// let r = hub.add_sender()?.raiser();
    /// r.raise(Signal::new(1).unwrap())?;
    /// assert_eq!(rx.take_signals().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn raiser(&self) -> Raiser {
        Raiser::new(&self.core)
    }

    /// This sender's ring capacity.
    ///
    /// ```
    /// let (hub, _rx) = eventsig::hub::<()>(5)?;
    /// assert_eq!(hub.add_sender()?.capacity(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Whether the receiver is gone.
    ///
    /// ```
    /// let (hub, rx) = eventsig::hub::<()>(1)?;
    /// let tx = hub.add_sender()?;
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        // Relaxed: a racy answer by nature.
        !self.core.receiver_alive.load(Ordering::Relaxed)
    }

    #[inline]
    fn slot(&self) -> &Slot<T> {
        // SAFETY: `slot` points into the table `self.state` keeps alive
        // (see the `Send` impl); it is only ever read through `&`.
        unsafe { self.slot.as_ref() }
    }

    /// After a publication (an event, a drop, the close): the barrier,
    /// then announce the ring if the receiver may not have it on its active
    /// list, then the wake-up check. `ready.rs` has the argument.
    #[inline]
    fn publish(&self) {
        let doorbell = &self.core.doorbell;
        // StoreLoad barrier: orders the publication before the load of the
        // announcement flag and of the park flag; pairs with the receiver's
        // heavy barrier (`ready.rs`, `doorbell.rs`). The loom mutant removes
        // it, as it removes the doorbell's.
        #[cfg(not(eventsig_loom_mutant))]
        doorbell.barrier.light();
        let slot = self.slot();
        if !slot.is_announced(self.generation) {
            self.announce(slot);
        } else if doorbell.parked.load(Ordering::Relaxed) {
            // Relaxed: ordered by the barrier above, as in
            // `Doorbell::ring_if_parked`.
            doorbell.claim_and_ring();
        }
    }

    /// The ring was not announced for this sender: announce it (flag, then
    /// ready bit), then the wake-up check with a barrier of its own, which
    /// orders the bit before the load of the park flag.
    #[cold]
    fn announce(&self, slot: &Slot<T>) {
        slot.announce(self.generation);
        self.state.ready.mark(self.index);
        self.core.doorbell.ring_if_parked();
    }
}

impl<T> Drop for HubSender<T> {
    fn drop(&mut self) {
        let slot = self.slot();
        slot.close();
        // The close is a publication: announced and rung like an event.
        self.publish();
        self.core.release_producer();
    }
}

impl<T> fmt::Debug for HubSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSender")
            .field("id", &self.id())
            .field("ring", &self.ring)
            .field("closed", &self.is_closed())
            .finish()
    }
}
