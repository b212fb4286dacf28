//! The one error type of the QMP layer, [`QmpError`].

use std::fmt;
use std::io;
use std::time::Duration;

/// What went wrong talking QMP.
///
/// Errors are either *recoverable*, when one line was bad but the stream is
/// still in step (QMP is one JSON object per line, so the next line starts
/// clean), or *fatal*, when the connection is gone or out of step
/// ([`QmpError::is_fatal`]).
///
/// ```
/// use eventsig_qmp::{parse_message, QmpError};
/// let err = parse_message(b"not json").unwrap_err();
/// assert!(matches!(err, QmpError::NotJson { .. }));
/// assert!(!err.is_fatal());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum QmpError {
    /// Reading or writing the socket failed.
    Io(io::Error),
    /// No complete line arrived within the read timeout.
    Timeout(Duration),
    /// The peer closed the connection at a line boundary.
    Closed,
    /// The peer closed the connection in the middle of a line; the partial
    /// line (`bytes` long) was discarded.
    TruncatedLine {
        /// Bytes of the unfinished line.
        bytes: usize,
    },
    /// A line longer than the reader's limit; it was skipped up to its end.
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A line that is not JSON.
    NotJson {
        /// The start of the line, lossily decoded.
        line: String,
        /// What the JSON parser said.
        error: serde_json::Error,
    },
    /// JSON that is not a QMP message (no `QMP`, `return`, `error` or
    /// `event` member, or one of the wrong type).
    NotQmp {
        /// The start of the line.
        line: String,
    },
    /// The server answered a command with a QMP error.
    Command {
        /// The command.
        command: String,
        /// The QMP error class, e.g. `GenericError`, `CommandNotFound`.
        class: String,
        /// QEMU's description.
        desc: String,
    },
    /// The server's reply to a command did not have the expected shape.
    BadReply {
        /// The command.
        command: String,
        /// What did not fit.
        error: serde_json::Error,
    },
    /// The server did not start with a QMP greeting, or sent one later.
    Protocol(String),
}

impl QmpError {
    /// Whether the connection is unusable after this error. A recoverable
    /// error concerned one line or one command; the next read may succeed.
    ///
    /// ```
    /// use eventsig_qmp::QmpError;
    /// assert!(QmpError::Closed.is_fatal());
    /// assert!(!QmpError::LineTooLong { limit: 1 }.is_fatal());
    /// ```
    pub fn is_fatal(&self) -> bool {
        match self {
            QmpError::Io(_)
            | QmpError::Timeout(_)
            | QmpError::Closed
            | QmpError::TruncatedLine { .. }
            | QmpError::Protocol(_) => true,
            QmpError::LineTooLong { .. }
            | QmpError::NotJson { .. }
            | QmpError::NotQmp { .. }
            | QmpError::Command { .. }
            | QmpError::BadReply { .. } => false,
        }
    }

    /// An I/O error, with the read-timeout kinds mapped to
    /// [`QmpError::Timeout`].
    pub(crate) fn from_io(err: io::Error, timeout: Option<Duration>) -> QmpError {
        match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                QmpError::Timeout(timeout.unwrap_or_default())
            }
            _ => QmpError::Io(err),
        }
    }
}

/// At most this much of a bad line is kept in an error.
const SHOWN: usize = 120;

/// The start of `line` for an error message.
pub(crate) fn excerpt(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(SHOWN)]);
    let mut s = text.trim_end().to_string();
    if line.len() > SHOWN {
        s.push_str("...");
    }
    s
}

impl fmt::Display for QmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QmpError::Io(e) => write!(f, "QMP socket: {e}"),
            QmpError::Timeout(t) => write!(f, "QMP: no reply within {t:?}"),
            QmpError::Closed => f.write_str("QMP: connection closed"),
            QmpError::TruncatedLine { bytes } => {
                write!(
                    f,
                    "QMP: connection closed in the middle of a line ({bytes} bytes discarded)"
                )
            }
            QmpError::LineTooLong { limit } => {
                write!(f, "QMP: line longer than {limit} bytes, skipped")
            }
            QmpError::NotJson { line, error } => write!(f, "QMP: not JSON ({error}): {line}"),
            QmpError::NotQmp { line } => write!(f, "QMP: not a QMP message: {line}"),
            QmpError::Command {
                command,
                class,
                desc,
            } => {
                write!(f, "QMP command `{command}` failed: {class}: {desc}")
            }
            QmpError::BadReply { command, error } => {
                write!(f, "QMP command `{command}`: unexpected reply: {error}")
            }
            QmpError::Protocol(what) => write!(f, "QMP protocol: {what}"),
        }
    }
}

impl std::error::Error for QmpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QmpError::Io(e) => Some(e),
            QmpError::NotJson { error, .. } | QmpError::BadReply { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for QmpError {
    fn from(err: io::Error) -> QmpError {
        QmpError::from_io(err, None)
    }
}
