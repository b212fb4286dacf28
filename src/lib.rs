//! Deliver events from many threads to one epoll-driven consumer without ever
//! losing state.
//!
//! Linux has two kinds of signals. Standard signals are pending *bits*:
//! raising one that is already pending merges with it, so they need no memory
//! and are never lost. Real-time signals are *queued* with a payload, in
//! order, up to a limit; when the queue overflows the kernel falls back to
//! SIGIO, "you lost detail, re-poll everything". eventsig brings both to user
//! space, on one eventfd:
//!
//! - **signals**: 64 coalescing bits per channel ([`Signal`], [`SignalSet`]),
//!   raised from any thread by a [`Raiser`]: "VM stopped", "migration state
//!   changed";
//! - **events**: a fixed-capacity lock-free SPSC ring of payloads, sent by the
//!   [`Sender`]: "VNC client 10.0.0.7 connected";
//! - **overflow**: when the ring is full the new event is dropped, counted,
//!   reported in the stream exactly where the gap is ([`Delivery::Lost`]), and
//!   a sticky [`Overflow`] stays set until the consumer has re-polled and
//!   acknowledged it;
//! - **wake-up**: an eventfd the [`Receiver`] blocks on ([`Receiver::wait`]) or
//!   hands to epoll/mio; producers write it only when the receiver may be
//!   asleep, so a busy receiver costs them no syscall.
//!
//! # The story
//!
//! A VM monitor is away for a moment while a buggy VNC client connects and
//! disconnects 1000 times; the event ring holds 100. Then the guest's disk
//! fills up and the VM stops on ENOSPC. When the monitor comes back, it must
//! know *with certainty* that the VM stopped, and it should know how much of
//! the VNC log it missed, and where:
//!
//! ```
//! use eventsig::{Delivery, Signal};
//!
//! #[derive(Debug)]
//! enum Vnc { Connected(u32), Disconnected(u32) }
//!
//! let vm_stopped = Signal::new(3)?;
//! let (mut tx, mut rx) = eventsig::channel::<Vnc>(100)?;
//!
//! // The flood, while the monitor is away: 2000 events into 100 slots.
//! for client in 0..1000 {
//!     let _ = tx.send(Vnc::Connected(client));      // Err(Full) once the ring is full
//!     let _ = tx.send(Vnc::Disconnected(client));
//! }
//! // The VM stops on ENOSPC: a state change, never lost.
//! tx.raise(vm_stopped)?;
//!
//! // The monitor comes back.
//! assert!(rx.take_signals().contains(vm_stopped));
//! let (mut delivered, mut lost) = (0, 0);
//! for d in rx.drain() {
//!     match d {
//!         Delivery::Event(_) => delivered += 1,
//!         Delivery::Lost { first, count } => {
//!             assert_eq!(first, 100);               // right after the last accepted event
//!             lost += count;
//!         }
//!     }
//! }
//! assert_eq!((delivered, lost), (100, 1900));
//! if let Some(ov) = rx.overflow() {
//!     // Re-poll the VNC client list here, then:
//!     rx.acknowledge(ov);
//! }
//! assert!(rx.overflow().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Beyond what the kernel offers
//!
//! - **per-class fallback on overflow**: a channel built with a classifier
//!   ([`Builder::build_classified`]) raises the class of each dropped event,
//!   and [`Overflow::classes`] says which state to re-poll, not all of it;
//! - **blocked signals** ([`Receiver::block`], [`Receiver::unblock`]):
//!   `sigprocmask` for a channel, a blocked raise makes no syscall;
//! - **latest values** ([`Raiser::raise_with`],
//!   [`Receiver::take_signals_with`]): a signal carries its latest `u64`;
//! - **overrun counts** ([`Builder::overrun_counts`],
//!   [`Receiver::take_signals_counted`]): how many raises merged.
//!
//! # Layers
//!
//! Each layer is usable on its own: [`signals`] (an atomic pending word),
//! [`ring`] (the SPSC ring with its gap markers), [`eventfd`] (a safe eventfd
//! owner), and the [`channel()`] that composes them and owns the wake-up
//! protocol and closing. [`overwrite`] is the ring of the drop-oldest policy
//! ([`OverflowPolicy::DropOldest`], set with [`Builder::overflow_policy`]): a
//! full ring drops its oldest unread event instead of the new one, so the
//! consumer finds the most recent events, and the loss is reported the same
//! way. With the feature `tokio`, `tokio::AsyncReceiver`
//! waits for a receiver on tokio's reactor instead of blocking a thread.
//!
//! # Rules
//!
//! S1 a raised signal is reported by a later take; S2 raises of a pending
//! signal merge; S3 events come out in send order, each at most once; S4 no
//! allocation after construction; S5 a full ring hands the value back and
//! counts the drop; S6 delivered + lost == attempted; S7 a gap is reported
//! where it is, even while the ring stays full; S8 the overflow condition is
//! sticky until acknowledged, and an acknowledgement clears only the drops it
//! saw; S9 no lost wake-up; S10 no producer syscall while the receiver is
//! awake; S11 closing in both directions; S12 bad input gives typed errors;
//! S13 a signal raised before a send is visible no later than that event.

#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

mod barrier;
mod builder;
mod channel;
mod classes;
mod doorbell;
mod error;
pub mod eventfd;
pub mod hub;
mod mask;
mod overrun;
pub mod overwrite;
mod parking;
mod policy;
pub mod ring;
pub mod signals;
mod stats;
mod sync;
#[cfg(all(feature = "tokio", not(eventsig_loom)))]
pub mod tokio;
mod values;

pub use builder::{builder, Builder};
pub use channel::{channel, Drain, Overflow, Raiser, Receiver, Sender};
pub use error::{RaiseError, SendError, TryRecvError};
pub use eventfd::{AdoptError, EventFd};
pub use hub::hub;
pub use overrun::SignalCounts;
pub use policy::OverflowPolicy;
pub use ring::{BuildError, Delivery};
#[cfg(not(eventsig_loom))]
pub use ring::{Events, Run};
pub use signals::{InvalidSignal, Signal, SignalSet};
pub use stats::Stats;

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
