//! QMP messages: what one line from the server can be ([`Message`]), and
//! [`parse_message`].
//!
//! The wire format is in QEMU's `docs/interop/qmp-spec.rst`: the server
//! greets with `{"QMP": {...}}`, answers each command with
//! `{"return": ..., "id": ...}` or `{"error": {"class": ..., "desc": ...}}`,
//! and sends `{"event": NAME, "data": {...}, "timestamp": {...}}` at any
//! time once capabilities are negotiated.

use serde_json::{Map, Value};

use crate::error::{excerpt, QmpError};

/// One message from a QMP server.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The greeting a server sends first.
    Greeting(Greeting),
    /// A command's successful reply.
    Return {
        /// The `id` the command carried, if any.
        id: Option<Value>,
        /// The reply (`{}` for commands that return nothing).
        value: Value,
    },
    /// A command's error reply.
    Error {
        /// The `id` the command carried, if any.
        id: Option<Value>,
        /// The error class, e.g. `GenericError`.
        class: String,
        /// The description.
        desc: String,
    },
    /// An asynchronous event.
    Event(Event),
}

/// The server's greeting: its version and offered capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Greeting {
    /// `(major, minor, micro)`, when the greeting says.
    pub version: Option<(u64, u64, u64)>,
    /// The distribution's package string, e.g. `Debian 1:7.2+dfsg-7`.
    pub package: String,
    /// Capabilities offered (e.g. `oob`); this crate enables none.
    pub capabilities: Vec<String>,
}

/// An asynchronous QMP event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's name, e.g. `STOP`, `VNC_CONNECTED`.
    pub name: String,
    /// Its `data` member (`Null` when absent).
    pub data: Value,
    /// When QEMU emitted it, if the message says.
    pub timestamp: Option<Timestamp>,
}

/// A QMP event timestamp: host wall-clock time at emission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp {
    /// Seconds since the epoch.
    pub seconds: i64,
    /// Microseconds within the second.
    pub microseconds: i64,
}

/// Parses one line from a QMP server (trailing `\r\n` allowed).
///
/// # Errors
///
/// [`QmpError::NotJson`] for a line that is not JSON, [`QmpError::NotQmp`]
/// for JSON that is none of the four messages. Both are recoverable: the
/// next line is independent.
///
/// ```
/// use eventsig_qmp::{parse_message, Message};
/// let m = parse_message(br#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}"#)?;
/// let Message::Event(e) = m else { panic!() };
/// assert_eq!(e.name, "STOP");
/// # Ok::<(), eventsig_qmp::QmpError>(())
/// ```
pub fn parse_message(line: &[u8]) -> Result<Message, QmpError> {
    let value: Value = serde_json::from_slice(line).map_err(|error| QmpError::NotJson {
        line: excerpt(line),
        error,
    })?;
    let not_qmp = || QmpError::NotQmp {
        line: excerpt(line),
    };
    let Value::Object(mut map) = value else {
        return Err(not_qmp());
    };
    if let Some(name) = map.remove("event") {
        let Value::String(name) = name else {
            return Err(not_qmp());
        };
        let data = map.remove("data").unwrap_or(Value::Null);
        let timestamp = map.get("timestamp").and_then(timestamp);
        return Ok(Message::Event(Event {
            name,
            data,
            timestamp,
        }));
    }
    let id = map.remove("id");
    if let Some(value) = map.remove("return") {
        return Ok(Message::Return { id, value });
    }
    if let Some(error) = map.remove("error") {
        let Value::Object(error) = error else {
            return Err(not_qmp());
        };
        return Ok(Message::Error {
            id,
            class: string(&error, "class"),
            desc: string(&error, "desc"),
        });
    }
    if let Some(Value::Object(qmp)) = map.get("QMP") {
        return Ok(Message::Greeting(greeting(qmp)));
    }
    Err(not_qmp())
}

fn string(map: &Map<String, Value>, key: &str) -> String {
    map.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn timestamp(v: &Value) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: v.get("seconds")?.as_i64()?,
        microseconds: v.get("microseconds")?.as_i64()?,
    })
}

fn greeting(qmp: &Map<String, Value>) -> Greeting {
    let version = qmp.get("version");
    let number = |k: &str| version?.get("qemu")?.get(k)?.as_u64();
    let capabilities = qmp
        .get("capabilities")
        .and_then(Value::as_array)
        .map(|caps| {
            caps.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Greeting {
        version: number("major")
            .zip(number("minor"))
            .zip(number("micro"))
            .map(|((a, b), c)| (a, b, c)),
        package: version
            .and_then(|v| v.get("package"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        capabilities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Lines as QEMU 7.2 sends them (copied from a real session).
    const GREETING: &[u8] = b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b2\"}, \"capabilities\": [\"oob\"]}}\r\n";
    const BLOCK_IO_ERROR: &[u8] = b"{\"timestamp\": {\"seconds\": 1795858557, \"microseconds\": 222044}, \"event\": \"BLOCK_IO_ERROR\", \"data\": {\"device\": \"ide0-hd0\", \"nospace\": true, \"node-name\": \"#block221\", \"reason\": \"No space left on device\", \"operation\": \"write\", \"action\": \"stop\"}}\r\n";

    #[test]
    fn greeting() {
        let Message::Greeting(g) = parse_message(GREETING).unwrap() else {
            panic!("not a greeting")
        };
        assert_eq!(g.version, Some((7, 2, 22)));
        assert_eq!(g.package, "Debian 1:7.2+dfsg-7+deb12u18+b2");
        assert_eq!(g.capabilities, ["oob"]);
    }

    #[test]
    fn event_with_data_and_timestamp() {
        let Message::Event(e) = parse_message(BLOCK_IO_ERROR).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(e.name, "BLOCK_IO_ERROR");
        assert_eq!(e.data["nospace"], json!(true));
        assert_eq!(
            e.timestamp,
            Some(Timestamp {
                seconds: 1795858557,
                microseconds: 222044
            })
        );
    }

    #[test]
    fn event_without_data_or_timestamp() {
        let Message::Event(e) = parse_message(br#"{"event": "STOP"}"#).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(
            (e.name.as_str(), e.data.clone(), e.timestamp),
            ("STOP", Value::Null, None)
        );
    }

    #[test]
    fn return_and_error_keep_their_id() {
        assert_eq!(
            parse_message(br#"{"return": {"running": true}, "id": 7}"#).unwrap(),
            Message::Return {
                id: Some(json!(7)),
                value: json!({"running": true})
            }
        );
        assert_eq!(
            parse_message(br#"{"id": "x", "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}"#).unwrap(),
            Message::Error {
                id: Some(json!("x")),
                class: "CommandNotFound".into(),
                desc: "The command nope has not been found".into()
            }
        );
    }

    #[test]
    fn not_json_is_a_recoverable_error_with_the_line() {
        for line in [
            &b"garbage\n"[..],
            b"",
            b"\r\n",
            b"{\"event\": \"STOP\"",
            b"\xff\xfe",
        ] {
            match parse_message(line) {
                Err(e @ QmpError::NotJson { .. }) => assert!(!e.is_fatal()),
                other => panic!("{line:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn json_that_is_not_qmp() {
        for line in [
            &b"[1, 2]"[..],
            b"42",
            b"{}",
            b"{\"event\": 5}",
            b"{\"error\": \"flat\"}",
            b"{\"QMP\": 1}",
        ] {
            assert!(
                matches!(parse_message(line), Err(QmpError::NotQmp { .. })),
                "{line:?}"
            );
        }
    }

    #[test]
    fn long_bad_lines_are_shortened_in_the_error() {
        let line = vec![b'x'; 10_000];
        let QmpError::NotJson { line: shown, .. } = parse_message(&line).unwrap_err() else {
            panic!("not NotJson")
        };
        assert!(shown.len() < 200, "{}", shown.len());
    }
}
