//! A QMP bridge and VM monitor built on [`eventsig`]: the crate's seed story
//! on a real QEMU.
//!
//! QEMU's QMP socket emits the story's events: `VNC_CONNECTED`,
//! `VNC_INITIALIZED` and `VNC_DISCONNECTED` for every VNC client; `STOP`,
//! `RESUME` and `SHUTDOWN` for run-state changes; `BLOCK_IO_ERROR` when a
//! disk write fails. This crate delivers them through one eventsig channel:
//!
//! - a [`Bridge`] thread owns a QMP connection and turns run-state changes
//!   and block errors into **signals** ([`signals`]: never lost, however
//!   many VNC events flood the ring) and VNC client events into **queued
//!   events** ([`VncEvent`]); when the ring is full it raises the VNC class
//!   signal [`signals::VNC_DROPPED`] instead;
//! - a [`Monitor`] serves the receiver from a mio loop and, on start and on
//!   every overflow, re-polls `query-status`, `query-block` and `query-vnc`
//!   over a second QMP connection ([`QmpClient`]), then acknowledges the
//!   overflow.
//!
//! [`qemu`] and [`vnc`] start a throwaway QEMU and drive its VNC server, for
//! `examples/qemu_monitor.rs` and `tests/qemu.rs`.
//!
//! ```no_run
//! use std::time::Duration;
//! use eventsig_qmp::{Bridge, Monitor, QmpClient, VncEvent};
//!
//! let (tx, rx) = eventsig::channel::<VncEvent>(64)?;
//! let bridge = Bridge::spawn(QmpClient::connect("/run/vm/qmp-events.sock")?, tx)?;
//! let mut monitor = Monitor::new(rx, QmpClient::connect("/run/vm/qmp.sock")?)?;
//! monitor.run_until(|view| view.knew_enospc_stop(), Duration::from_secs(60))?;
//! println!("{:?}", monitor.view().status);
//! # drop(bridge);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

mod bridge;
mod client;
mod error;
mod event;
mod line;
mod message;
mod monitor;
pub mod qemu;
mod query;
pub mod signals;
pub mod vnc;

pub use bridge::{Bridge, BridgeEnd, BridgeReport, BridgeStats};
pub use client::QmpClient;
pub use error::QmpError;
pub use event::{classify, QemuEvent, VncClient, VncEvent, VncEventKind};
pub use line::LineReader;
pub use message::{parse_message, Event, Greeting, Message, Timestamp};
pub use monitor::{Monitor, View};
pub use query::{BlockInfo, StatusInfo, VncInfo};
