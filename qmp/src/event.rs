//! The QEMU events the bridge understands ([`QemuEvent`], [`classify`]) and
//! the payload it queues for VNC events ([`VncEvent`]).

use serde::Deserialize;
use serde_json::Value;

use crate::message::{Event, Timestamp};

/// A QMP event, sorted into what the bridge does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QemuEvent {
    /// `STOP`: the VM stopped (paused, I/O error, ...). A run-state change.
    Stop,
    /// `RESUME`: the VM runs again. A run-state change.
    Resume,
    /// `SHUTDOWN`: the VM (or QEMU) is shutting down. A run-state change.
    Shutdown {
        /// Whether the guest asked for it.
        guest: bool,
        /// QEMU's reason, e.g. `host-qmp-quit`, `guest-shutdown`.
        reason: String,
    },
    /// `BLOCK_IO_ERROR`: a disk request failed.
    BlockIoError {
        /// The drive's name (`query-block`'s `device`).
        device: String,
        /// `read` or `write`.
        operation: String,
        /// What QEMU did: `stop`, `report` or `ignore`.
        action: String,
        /// Whether the error was ENOSPC.
        nospace: bool,
        /// The error message, e.g. `No space left on device`.
        reason: String,
    },
    /// `VNC_CONNECTED`, `VNC_INITIALIZED` or `VNC_DISCONNECTED`.
    Vnc {
        /// Which one.
        kind: VncEventKind,
        /// The client it is about, when the event says.
        client: Option<VncClient>,
    },
    /// Any other event (`RTC_CHANGE`, `POWERDOWN`, ...): counted, not
    /// forwarded.
    Other(String),
}

/// The three VNC client events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VncEventKind {
    /// `VNC_CONNECTED`: a client connected (before authentication).
    Connected,
    /// `VNC_INITIALIZED`: a client finished the handshake.
    Initialized,
    /// `VNC_DISCONNECTED`: a client went away.
    Disconnected,
}

impl VncEventKind {
    /// The QMP event name.
    ///
    /// ```
    /// assert_eq!(eventsig_qmp::VncEventKind::Connected.name(), "VNC_CONNECTED");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            VncEventKind::Connected => "VNC_CONNECTED",
            VncEventKind::Initialized => "VNC_INITIALIZED",
            VncEventKind::Disconnected => "VNC_DISCONNECTED",
        }
    }
}

/// A VNC client's address, as both the VNC events and `query-vnc` give it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct VncClient {
    /// The client's IP address.
    pub host: String,
    /// The client's port, as a string (QMP's `service`).
    pub service: String,
    /// `ipv4`, `ipv6` or `unix`.
    pub family: String,
    /// Whether it came in over the WebSocket listener.
    #[serde(default)]
    pub websocket: bool,
}

/// A queued VNC event: what the bridge sends through the eventsig ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VncEvent {
    /// Which event.
    pub kind: VncEventKind,
    /// The client, when the event named one.
    pub client: Option<VncClient>,
    /// When QEMU emitted it.
    pub timestamp: Option<Timestamp>,
    /// Its position among the VNC events the bridge read from QMP (0, 1,
    /// 2, ...). The bridge makes one send attempt per VNC event, so this
    /// equals the channel's sequence number: a `Lost { first, count }`
    /// names these positions too.
    pub index: u64,
}

/// Sorts a QMP event. Never fails: a known event with a malformed body is
/// still that event, with the fields it lacks left empty.
///
/// ```
/// use eventsig_qmp::{classify, parse_message, Message, QemuEvent};
/// let Message::Event(e) = parse_message(br#"{"event": "RESUME"}"#)? else { unreachable!() };
/// assert_eq!(classify(&e), QemuEvent::Resume);
/// # Ok::<(), eventsig_qmp::QmpError>(())
/// ```
pub fn classify(event: &Event) -> QemuEvent {
    let data = &event.data;
    let text = |k: &str| {
        data.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let flag = |k: &str| data.get(k).and_then(Value::as_bool).unwrap_or(false);
    let vnc = |kind| QemuEvent::Vnc {
        kind,
        client: data
            .get("client")
            .and_then(|c| VncClient::deserialize(c).ok()),
    };
    match event.name.as_str() {
        "STOP" => QemuEvent::Stop,
        "RESUME" => QemuEvent::Resume,
        "SHUTDOWN" => QemuEvent::Shutdown {
            guest: flag("guest"),
            reason: text("reason"),
        },
        "BLOCK_IO_ERROR" => QemuEvent::BlockIoError {
            device: text("device"),
            operation: text("operation"),
            action: text("action"),
            nospace: flag("nospace"),
            reason: text("reason"),
        },
        "VNC_CONNECTED" => vnc(VncEventKind::Connected),
        "VNC_INITIALIZED" => vnc(VncEventKind::Initialized),
        "VNC_DISCONNECTED" => vnc(VncEventKind::Disconnected),
        other => QemuEvent::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{parse_message, Message};

    fn event(line: &str) -> Event {
        match parse_message(line.as_bytes()) {
            Ok(Message::Event(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn vnc_events_carry_the_client() {
        // As QEMU 7.2 sends it.
        let e = event(
            r#"{"timestamp": {"seconds": 1795858557, "microseconds": 159217}, "event": "VNC_CONNECTED", "data": {"server": {"auth": "none", "family": "ipv4", "service": "5957", "host": "127.0.0.1", "websocket": false}, "client": {"family": "ipv4", "service": "32998", "host": "127.0.0.1", "websocket": false}}}"#,
        );
        assert_eq!(
            classify(&e),
            QemuEvent::Vnc {
                kind: VncEventKind::Connected,
                client: Some(VncClient {
                    host: "127.0.0.1".into(),
                    service: "32998".into(),
                    family: "ipv4".into(),
                    websocket: false
                })
            }
        );
    }

    #[test]
    fn a_vnc_event_without_a_client_is_still_a_vnc_event() {
        for line in [
            r#"{"event": "VNC_DISCONNECTED"}"#,
            r#"{"event": "VNC_DISCONNECTED", "data": {"client": 3}}"#,
            r#"{"event": "VNC_DISCONNECTED", "data": []}"#,
        ] {
            assert_eq!(
                classify(&event(line)),
                QemuEvent::Vnc {
                    kind: VncEventKind::Disconnected,
                    client: None
                },
                "{line}"
            );
        }
    }

    #[test]
    fn block_io_error_nospace() {
        let e = event(
            r##"{"event": "BLOCK_IO_ERROR", "data": {"device": "disk0", "nospace": true, "node-name": "#block221", "reason": "No space left on device", "operation": "write", "action": "stop"}}"##,
        );
        assert_eq!(
            classify(&e),
            QemuEvent::BlockIoError {
                device: "disk0".into(),
                operation: "write".into(),
                action: "stop".into(),
                nospace: true,
                reason: "No space left on device".into()
            }
        );
    }

    #[test]
    fn run_state_and_unknown_events() {
        assert_eq!(classify(&event(r#"{"event": "STOP"}"#)), QemuEvent::Stop);
        assert_eq!(
            classify(&event(
                r#"{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}"#
            )),
            QemuEvent::Shutdown {
                guest: false,
                reason: "host-qmp-quit".into()
            }
        );
        assert_eq!(
            classify(&event(r#"{"event": "RTC_CHANGE", "data": {"offset": 1}}"#)),
            QemuEvent::Other("RTC_CHANGE".into())
        );
    }
}
