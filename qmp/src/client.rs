//! [`QmpClient`]: one QMP connection used for commands, after the
//! `qmp_capabilities` handshake.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::QmpError;
use crate::line::LineReader;
use crate::message::{parse_message, Greeting, Message};
use crate::query::{BlockInfo, StatusInfo, VncInfo};

/// A QMP connection in command mode.
///
/// QEMU sends every event to every QMP connection; while it waits for a
/// reply, the client skips them (and counts them, [`QmpClient::events_skipped`]).
/// Events are for a reader on its own connection.
///
/// Every read and write has a timeout ([`QmpClient::DEFAULT_TIMEOUT`]
/// unless set otherwise); a timed-out connection should be dropped, since a
/// late reply may still be on its way.
#[derive(Debug)]
pub struct QmpClient {
    reader: LineReader<UnixStream>,
    writer: UnixStream,
    greeting: Greeting,
    next_id: u64,
    events_skipped: u64,
    bad_lines: u64,
}

impl QmpClient {
    /// The read and write timeout [`QmpClient::connect`] sets.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Connects to a QMP unix socket (`-qmp unix:PATH,server=on`) and
    /// negotiates capabilities.
    ///
    /// # Errors
    ///
    /// [`QmpError::Io`] when the socket cannot be reached; any error of
    /// [`QmpClient::handshake`].
    pub fn connect(path: impl AsRef<Path>) -> Result<QmpClient, QmpError> {
        let stream = UnixStream::connect(path).map_err(QmpError::Io)?;
        QmpClient::handshake(stream, Some(Self::DEFAULT_TIMEOUT))
    }

    /// Reads the server's greeting from a connected stream and negotiates
    /// capabilities (none are enabled). Events QEMU emitted before this
    /// completes are not delivered on this connection: re-poll state after.
    ///
    /// # Errors
    ///
    /// [`QmpError::Protocol`] when the first message is not a greeting;
    /// [`QmpError::Command`] when `qmp_capabilities` is refused; read and
    /// write errors.
    pub fn handshake(stream: UnixStream, timeout: Option<Duration>) -> Result<QmpClient, QmpError> {
        stream.set_read_timeout(timeout)?;
        stream.set_write_timeout(timeout)?;
        let writer = stream.try_clone()?;
        let mut reader = LineReader::new(stream);
        reader.set_timeout_hint(timeout);
        let greeting = match parse_message(&reader.read_line()?)? {
            Message::Greeting(g) => g,
            other => {
                return Err(QmpError::Protocol(format!(
                    "expected the greeting, got {other:?}"
                )))
            }
        };
        let mut client = QmpClient {
            reader,
            writer,
            greeting,
            next_id: 0,
            events_skipped: 0,
            bad_lines: 0,
        };
        client.execute("qmp_capabilities", None)?;
        Ok(client)
    }

    /// The server's greeting.
    pub fn greeting(&self) -> &Greeting {
        &self.greeting
    }

    /// Runs a command and returns its `return` value.
    ///
    /// # Errors
    ///
    /// [`QmpError::Command`] for an error reply (recoverable); a fatal
    /// error when the connection failed, closed or timed out.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = json!({ "execute": command, "id": id });
        if let Some(arguments) = arguments {
            request["arguments"] = arguments;
        }
        let mut line = request.to_string().into_bytes();
        line.push(b'\n');
        self.writer.write_all(&line)?;
        loop {
            let message = match parse_message(&self.reader.read_line()?) {
                Ok(m) => m,
                Err(e) if !e.is_fatal() => {
                    self.bad_lines += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            // A reply without an id is QEMU refusing a request it could not
            // parse: ours, since we send one at a time. A reply with another
            // id answers a command that timed out earlier.
            let ours = |reply_id: &Option<Value>| reply_id.as_ref().map_or(true, |r| *r == id);
            match message {
                Message::Event(_) => self.events_skipped += 1,
                Message::Return { id: r, value } if ours(&r) => return Ok(value),
                Message::Error { id: r, class, desc } if ours(&r) => {
                    return Err(QmpError::Command {
                        command: command.to_string(),
                        class,
                        desc,
                    })
                }
                Message::Return { .. } | Message::Error { .. } => {}
                Message::Greeting(_) => {
                    return Err(QmpError::Protocol(
                        "a second greeting on an open connection".into(),
                    ))
                }
            }
        }
    }

    /// Runs a command and deserializes its reply into `T`.
    ///
    /// # Errors
    ///
    /// As [`QmpClient::execute`], and [`QmpError::BadReply`] when the reply
    /// does not fit `T`.
    pub fn execute_as<T: DeserializeOwned>(&mut self, command: &str) -> Result<T, QmpError> {
        let value = self.execute(command, None)?;
        serde_json::from_value(value).map_err(|error| QmpError::BadReply {
            command: command.to_string(),
            error,
        })
    }

    /// `query-status`: the run state.
    ///
    /// # Errors
    ///
    /// As [`QmpClient::execute_as`].
    pub fn query_status(&mut self) -> Result<StatusInfo, QmpError> {
        self.execute_as("query-status")
    }

    /// `query-block`: the drives and their I/O status.
    ///
    /// # Errors
    ///
    /// As [`QmpClient::execute_as`].
    pub fn query_block(&mut self) -> Result<Vec<BlockInfo>, QmpError> {
        self.execute_as("query-block")
    }

    /// `query-vnc`: the VNC server and its clients.
    ///
    /// # Errors
    ///
    /// As [`QmpClient::execute_as`].
    pub fn query_vnc(&mut self) -> Result<VncInfo, QmpError> {
        self.execute_as("query-vnc")
    }

    /// `cont`: starts or resumes the VM.
    ///
    /// # Errors
    ///
    /// As [`QmpClient::execute`].
    pub fn cont(&mut self) -> Result<(), QmpError> {
        self.execute("cont", None).map(drop)
    }

    /// `quit`: QEMU exits. A connection that closes before the reply
    /// counts as success.
    ///
    /// # Errors
    ///
    /// As [`QmpClient::execute`], except [`QmpError::Closed`].
    pub fn quit(&mut self) -> Result<(), QmpError> {
        match self.execute("quit", None) {
            Ok(_) | Err(QmpError::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Events that arrived on this connection while it waited for replies.
    pub fn events_skipped(&self) -> u64 {
        self.events_skipped
    }

    /// Lines skipped because they were not QMP.
    pub fn bad_lines(&self) -> u64 {
        self.bad_lines
    }

    /// Gives up command mode: the reader (positioned after the handshake)
    /// and the socket, for a reader of events.
    pub(crate) fn into_parts(self) -> (LineReader<UnixStream>, UnixStream) {
        (self.reader, self.writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::thread;

    const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}"#;

    /// A fake QMP server on one end of a socket pair: sends the greeting,
    /// then answers each request with `reply(command, id)` (lines joined
    /// by newlines; `None` closes the connection).
    fn fake_server(
        reply: impl Fn(&str, &Value) -> Option<String> + Send + 'static,
    ) -> (UnixStream, thread::JoinHandle<()>) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let server = thread::spawn(move || {
            let mut out = theirs.try_clone().unwrap();
            writeln!(out, "{GREETING}\r").unwrap();
            for line in BufReader::new(theirs).lines() {
                let request: Value = serde_json::from_str(&line.unwrap()).unwrap();
                let command = request["execute"].as_str().unwrap().to_string();
                match reply(&command, &request["id"]) {
                    Some(text) => {
                        if out.write_all(text.as_bytes()).is_err() {
                            return;
                        }
                    }
                    None => return,
                }
            }
        });
        (ours, server)
    }

    fn ok(id: &Value, value: &str) -> String {
        format!("{{\"return\": {value}, \"id\": {id}}}\r\n")
    }

    #[test]
    fn handshake_then_query_skipping_events_and_stale_replies() {
        let (stream, server) = fake_server(|command, id| {
            Some(match command {
                "qmp_capabilities" => ok(id, "{}"),
                "query-status" => format!(
                    "{{\"event\": \"STOP\"}}\r\n{{\"return\": {{}}, \"id\": 999}}\r\nnot json\r\n{}",
                    ok(id, r#"{"status": "io-error", "running": false, "singlestep": false}"#)
                ),
                _ => return None,
            })
        });
        let mut client = QmpClient::handshake(stream, Some(Duration::from_secs(10))).unwrap();
        assert_eq!(client.greeting().version, Some((7, 2, 0)));
        let status = client.query_status().unwrap();
        assert!(status.is_io_error());
        assert_eq!((client.events_skipped(), client.bad_lines()), (1, 1));
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn error_replies_are_typed_and_recoverable() {
        let (stream, server) = fake_server(|command, id| {
            Some(match command {
                "qmp_capabilities" => ok(id, "{}"),
                "query-vnc" => format!(
                    "{{\"error\": {{\"class\": \"CommandNotFound\", \"desc\": \"no VNC\"}}, \"id\": {id}}}\r\n"
                ),
                "query-block" => ok(id, r#"{"not": "a list"}"#),
                "query-status" => ok(id, r#"{"status": "running", "running": true}"#),
                _ => return None,
            })
        });
        let mut client = QmpClient::handshake(stream, Some(Duration::from_secs(10))).unwrap();
        let err = client.query_vnc().unwrap_err();
        assert!(
            matches!(&err, QmpError::Command { class, .. } if class == "CommandNotFound"),
            "{err}"
        );
        assert!(!err.is_fatal());
        let err = client.query_block().unwrap_err();
        assert!(matches!(err, QmpError::BadReply { .. }), "{err}");
        assert!(client.query_status().unwrap().running);
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn no_greeting_is_a_protocol_error() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut theirs = theirs;
        theirs.write_all(b"{\"return\": {}}\n").unwrap();
        let err = QmpClient::handshake(ours, Some(Duration::from_secs(10))).unwrap_err();
        assert!(matches!(err, QmpError::Protocol(_)), "{err}");
    }

    #[test]
    fn a_server_that_dies_mid_reply_or_goes_silent() {
        // Sends half a reply to qmp_capabilities and goes silent.
        let (stream, server) = fake_server(|_, _| Some("{\"return\": {".into()));
        let err = QmpClient::handshake(stream, Some(Duration::from_millis(200))).unwrap_err();
        assert!(matches!(err, QmpError::Timeout(_)), "{err}");
        server.join().unwrap();

        // Closes its sending side in the middle of the reply.
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        theirs.write_all(GREETING.as_bytes()).unwrap();
        theirs.write_all(b"\n{\"return\"").unwrap();
        theirs.shutdown(std::net::Shutdown::Write).unwrap();
        let err = QmpClient::handshake(ours, Some(Duration::from_secs(10))).unwrap_err();
        assert!(matches!(err, QmpError::TruncatedLine { bytes: 9 }), "{err}");

        // Dies after the greeting: our request finds no one (EPIPE; Rust
        // ignores SIGPIPE).
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        writeln!(theirs, "{GREETING}").unwrap();
        drop(theirs);
        let err = QmpClient::handshake(ours, Some(Duration::from_secs(10))).unwrap_err();
        assert!(matches!(err, QmpError::Io(_)) && err.is_fatal(), "{err}");
    }
}
