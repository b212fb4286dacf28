//! A QMP bridge and VM monitor built on [`eventsig`]: the crate's seed story
//! on a real QEMU.
//!
//! This first layer speaks QMP: [`LineReader`] frames lines, [`parse_message`]
//! reads them, [`classify`] sorts events, and [`QmpClient`] runs commands
//! after the `qmp_capabilities` handshake.

#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

mod client;
mod error;
mod event;
mod line;
mod message;
mod query;

pub use client::QmpClient;
pub use error::QmpError;
pub use event::{classify, QemuEvent, VncClient, VncEvent, VncEventKind};
pub use line::LineReader;
pub use message::{parse_message, Event, Greeting, Message, Timestamp};
pub use query::{BlockInfo, StatusInfo, VncInfo};
