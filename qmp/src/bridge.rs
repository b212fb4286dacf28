//! [`Bridge`]: the reader thread that owns a QMP event connection and turns
//! QEMU events into eventsig deliveries.
//!
//! | QMP event | delivery |
//! |---|---|
//! | `STOP`, `RESUME`, `SHUTDOWN` | signals [`VM_STOPPED`], [`VM_RESUMED`], [`VM_SHUTDOWN`] |
//! | `BLOCK_IO_ERROR` | signal [`BLOCK_IO_ERROR`](crate::signals::BLOCK_IO_ERROR) |
//! | `VNC_CONNECTED`, `VNC_INITIALIZED`, `VNC_DISCONNECTED` | a queued [`VncEvent`]; when the ring is full, signal [`VNC_DROPPED`] instead |
//! | a line that is not JSON or not QMP, or too long | signal [`RESYNC`]: it may have been any event |
//! | any other event | counted, dropped |
//!
//! Signals are raised as each line is read, so a state change the bridge
//! read is in the channel whatever happens next: a bad line, the
//! connection closing mid-line, QEMU dying. Then the thread ends, dropping
//! its [`Sender`]: the receiver sees the channel closed after everything
//! already sent and raised (eventsig rule S11).
//!
//! [`VM_STOPPED`]: crate::signals::VM_STOPPED
//! [`VM_RESUMED`]: crate::signals::VM_RESUMED
//! [`VM_SHUTDOWN`]: crate::signals::VM_SHUTDOWN
//! [`VNC_DROPPED`]: crate::signals::VNC_DROPPED
//! [`RESYNC`]: crate::signals::RESYNC

use std::fmt;
use std::io::{self, Read};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use eventsig::{SendError, Sender, Signal};

use crate::client::QmpClient;
use crate::error::QmpError;
use crate::event::{classify, QemuEvent, VncEvent, VncEventKind};
use crate::line::LineReader;
use crate::message::{parse_message, Message};
use crate::signals;

/// What the bridge read from QMP and what it did with it. These are the
/// counts on the QMP side: compare them with what the receiver got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// Complete lines read.
    pub lines: u64,
    /// Events among them.
    pub events: u64,
    /// VNC events read (each one send attempt).
    pub vnc_events: u64,
    /// VNC events the ring accepted.
    pub vnc_sent: u64,
    /// VNC events the ring was too full for (each raised `VNC_DROPPED`).
    pub vnc_dropped: u64,
    /// `VNC_CONNECTED` events read.
    pub vnc_connected: u64,
    /// `VNC_INITIALIZED` events read.
    pub vnc_initialized: u64,
    /// `VNC_DISCONNECTED` events read.
    pub vnc_disconnected: u64,
    /// `STOP` events read.
    pub stops: u64,
    /// `RESUME` events read.
    pub resumes: u64,
    /// `SHUTDOWN` events read.
    pub shutdowns: u64,
    /// `BLOCK_IO_ERROR` events read.
    pub block_io_errors: u64,
    /// Those with `nospace: true`.
    pub nospace_errors: u64,
    /// Events of other names.
    pub other_events: u64,
    /// Replies or greetings (not expected on an event connection).
    pub non_events: u64,
    /// Lines that were not JSON, not QMP, or too long (each raised `RESYNC`).
    pub bad_lines: u64,
}

/// Why the bridge thread ended.
#[derive(Debug)]
pub enum BridgeEnd {
    /// QEMU closed the connection at a line boundary (it exited or closed
    /// the monitor).
    Closed,
    /// [`Bridge::stop`] was called.
    Stopped,
    /// The receiver was dropped; nobody listens.
    ReceiverGone,
    /// The connection failed: an I/O error, or it closed in the middle of a
    /// line ([`QmpError::TruncatedLine`]).
    Failed(QmpError),
    /// The bridge thread panicked (a bug).
    Panicked,
}

impl fmt::Display for BridgeEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeEnd::Closed => f.write_str("QMP connection closed"),
            BridgeEnd::Stopped => f.write_str("stopped"),
            BridgeEnd::ReceiverGone => f.write_str("the receiver is gone"),
            BridgeEnd::Failed(e) => write!(f, "failed: {e}"),
            BridgeEnd::Panicked => f.write_str("the bridge thread panicked"),
        }
    }
}

/// The bridge's final account, from [`Bridge::join`].
#[derive(Debug)]
pub struct BridgeReport {
    /// Everything read, final.
    pub stats: BridgeStats,
    /// Why it ended.
    pub end: BridgeEnd,
    /// The first bad line's error, if there was one.
    pub first_bad_line: Option<QmpError>,
}

#[derive(Debug, Default)]
struct State {
    stats: BridgeStats,
    done: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stopping: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut BridgeStats)) {
        f(&mut self.lock().stats);
        self.changed.notify_all();
    }
}

/// The reader thread of a QMP event connection.
///
/// ```no_run
/// use eventsig_qmp::{Bridge, QmpClient, VncEvent};
/// let (tx, rx) = eventsig::channel::<VncEvent>(64)?;
/// let bridge = Bridge::spawn(QmpClient::connect("/run/vm/qmp-events.sock")?, tx)?;
/// // ... serve `rx` with a `Monitor` or your own loop ...
/// bridge.stop();
/// println!("{:?}", bridge.join().stats);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Bridge {
    thread: Option<JoinHandle<(BridgeEnd, Option<QmpError>)>>,
    shared: Arc<Shared>,
    socket: Option<UnixStream>,
}

impl Bridge {
    /// Starts the reader thread on a connection whose handshake is done.
    /// The thread owns the connection from now on; it blocks in `read`
    /// without a timeout ([`Bridge::stop`] ends it).
    ///
    /// # Errors
    ///
    /// The socket cannot be configured, or the thread cannot be spawned.
    pub fn spawn(client: QmpClient, tx: Sender<VncEvent>) -> io::Result<Bridge> {
        let (reader, socket) = client.into_parts();
        socket.set_read_timeout(None)?;
        let mut bridge = Bridge::start(reader, tx)?;
        bridge.socket = Some(socket);
        Ok(bridge)
    }

    /// Starts the reader thread on any byte stream positioned after the
    /// handshake (a test's socket pair, a recorded session). It ends when
    /// the stream does; [`Bridge::stop`] has no effect on it.
    ///
    /// # Errors
    ///
    /// The thread cannot be spawned.
    ///
    /// ```
    /// use eventsig_qmp::{signals, Bridge, BridgeEnd};
    /// let (tx, mut rx) = eventsig::channel(8)?;
    /// let bridge = Bridge::spawn_reader(&b"{\"event\": \"STOP\"}\r\nnot json\r\n"[..], tx)?;
    /// let report = bridge.join();
    /// assert!(matches!(report.end, BridgeEnd::Closed));
    /// assert_eq!(report.stats.bad_lines, 1);
    /// let got = rx.take_signals();
    /// assert!(got.contains(signals::VM_STOPPED) && got.contains(signals::RESYNC));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_reader<R: Read + Send + 'static>(
        reader: R,
        tx: Sender<VncEvent>,
    ) -> io::Result<Bridge> {
        Bridge::start(LineReader::new(reader), tx)
    }

    fn start<R: Read + Send + 'static>(
        reader: LineReader<R>,
        mut tx: Sender<VncEvent>,
    ) -> io::Result<Bridge> {
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("qmp-bridge".into())
            .spawn(move || {
                let mut pump = Pump {
                    reader,
                    tx: &mut tx,
                    shared: &theirs,
                    vnc_index: 0,
                    first_bad_line: None,
                };
                let end = pump.run();
                let first_bad_line = pump.first_bad_line.take();
                // Dropping the sender closes the channel after everything
                // sent and raised; then tell the waiters.
                drop(tx);
                theirs.lock().done = true;
                theirs.changed.notify_all();
                (end, first_bad_line)
            })?;
        Ok(Bridge {
            thread: Some(thread),
            shared,
            socket: None,
        })
    }

    /// The counts so far.
    pub fn stats(&self) -> BridgeStats {
        self.shared.lock().stats
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.shared.lock().done
    }

    /// Waits until `done(stats)` holds or the thread ends, at most
    /// `timeout`. Returns the stats when `done` held.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use eventsig_qmp::Bridge;
    /// let (tx, _rx) = eventsig::channel(8)?;
    /// let bridge = Bridge::spawn_reader(&b"{\"event\": \"STOP\"}\n"[..], tx)?;
    /// assert!(bridge.wait_for(|s| s.stops == 1, Duration::from_secs(10)).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for(
        &self,
        mut done: impl FnMut(&BridgeStats) -> bool,
        timeout: Duration,
    ) -> Option<BridgeStats> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if done(&state.stats) {
                return Some(state.stats);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if state.done || left.is_zero() {
                return None;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Ends the reader thread: shuts the QMP socket down, so its blocked
    /// read returns. Only for a bridge from [`Bridge::spawn`].
    pub fn stop(&self) {
        if let Some(socket) = &self.socket {
            self.shared.stopping.store(true, Ordering::SeqCst);
            // An error means the socket is already shut or gone: nothing
            // left to stop.
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Waits for the thread to end and returns its account. Call
    /// [`Bridge::stop`] first unless the connection is ending anyway.
    pub fn join(mut self) -> BridgeReport {
        let (end, first_bad_line) = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) | None => (BridgeEnd::Panicked, None),
        };
        let end = match end {
            BridgeEnd::Closed | BridgeEnd::Failed(_)
                if self.shared.stopping.load(Ordering::SeqCst) =>
            {
                BridgeEnd::Stopped
            }
            other => other,
        };
        BridgeReport {
            stats: self.stats(),
            end,
            first_bad_line,
        }
    }
}

impl Drop for Bridge {
    /// Stops a socket bridge; the thread is not waited for.
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
        }
    }
}

/// The reader loop.
struct Pump<'a, R> {
    reader: LineReader<R>,
    tx: &'a mut Sender<VncEvent>,
    shared: &'a Shared,
    vnc_index: u64,
    first_bad_line: Option<QmpError>,
}

/// The receiver is gone: stop reading.
struct Gone;

impl<R: Read> Pump<'_, R> {
    fn run(&mut self) -> BridgeEnd {
        loop {
            let result = match self.reader.read_line() {
                Ok(line) => {
                    self.shared.update(|s| s.lines += 1);
                    match parse_message(&line) {
                        Ok(Message::Event(event)) => self.event(classify(&event), event.timestamp),
                        Ok(_) => {
                            self.shared.update(|s| s.non_events += 1);
                            Ok(())
                        }
                        Err(e) => self.bad_line(e),
                    }
                }
                Err(QmpError::Closed) => return BridgeEnd::Closed,
                Err(e) if e.is_fatal() => return BridgeEnd::Failed(e),
                Err(e) => self.bad_line(e),
            };
            if result.is_err() {
                return BridgeEnd::ReceiverGone;
            }
        }
    }

    fn raise(&self, signal: Signal) -> Result<(), Gone> {
        self.tx.raise(signal).map_err(|_| Gone)
    }

    /// A line we could not read may have been a state change: ask for a
    /// full re-poll.
    fn bad_line(&mut self, error: QmpError) -> Result<(), Gone> {
        self.raise(signals::RESYNC)?;
        self.shared.update(|s| s.bad_lines += 1);
        self.first_bad_line.get_or_insert(error);
        Ok(())
    }

    /// Raises or sends first, counts after: whoever sees a count sees the
    /// delivery (the count is published under the stats mutex).
    fn event(&mut self, event: QemuEvent, timestamp: Option<crate::Timestamp>) -> Result<(), Gone> {
        match event {
            QemuEvent::Stop => {
                self.raise(signals::VM_STOPPED)?;
                self.shared.update(|s| s.stops += 1);
            }
            QemuEvent::Resume => {
                self.raise(signals::VM_RESUMED)?;
                self.shared.update(|s| s.resumes += 1);
            }
            QemuEvent::Shutdown { .. } => {
                self.raise(signals::VM_SHUTDOWN)?;
                self.shared.update(|s| s.shutdowns += 1);
            }
            QemuEvent::BlockIoError { nospace, .. } => {
                self.raise(signals::BLOCK_IO_ERROR)?;
                self.shared.update(|s| {
                    s.block_io_errors += 1;
                    s.nospace_errors += u64::from(nospace);
                });
            }
            QemuEvent::Vnc { kind, client } => {
                let index = self.vnc_index;
                self.vnc_index += 1;
                let sent = match self.tx.send(VncEvent {
                    kind,
                    client,
                    timestamp,
                    index,
                }) {
                    Ok(()) => true,
                    Err(SendError::Full(_)) => {
                        // The per-class fallback: the event is gone, the
                        // class signal says where to look.
                        self.raise(signals::VNC_DROPPED)?;
                        false
                    }
                    Err(SendError::Closed(_)) => return Err(Gone),
                };
                self.shared.update(|s| {
                    s.vnc_events += 1;
                    if sent {
                        s.vnc_sent += 1;
                    } else {
                        s.vnc_dropped += 1;
                    }
                    match kind {
                        VncEventKind::Connected => s.vnc_connected += 1,
                        VncEventKind::Initialized => s.vnc_initialized += 1,
                        VncEventKind::Disconnected => s.vnc_disconnected += 1,
                    }
                });
            }
            QemuEvent::Other(_) => self.shared.update(|s| s.other_events += 1),
        }
        self.shared.update(|s| s.events += 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use eventsig::{Delivery, SignalSet};

    use crate::signals::{
        BLOCK_IO_ERROR, RESYNC, VM_RESUMED, VM_SHUTDOWN, VM_STOPPED, VNC_DROPPED,
    };

    const WAIT: Duration = Duration::from_secs(10);

    fn vnc_line(name: &str, port: u16) -> String {
        format!(
            "{{\"timestamp\": {{\"seconds\": 1, \"microseconds\": {port}}}, \"event\": \"{name}\", \"data\": {{\"server\": {{\"auth\": \"none\", \"family\": \"ipv4\", \"service\": \"5901\", \"host\": \"127.0.0.1\", \"websocket\": false}}, \"client\": {{\"family\": \"ipv4\", \"service\": \"{port}\", \"host\": \"127.0.0.1\", \"websocket\": false}}}}}}\r\n"
        )
    }

    #[test]
    fn bad_input_never_loses_a_raised_state_signal() {
        let (mut qemu, ours) = UnixStream::pair().unwrap();
        let (tx, mut rx) = eventsig::channel(8).unwrap();
        let bridge = Bridge::spawn_reader(ours, tx).unwrap();

        qemu.write_all(b"{\"event\": \"STOP\"}\r\n").unwrap();
        assert!(bridge.wait_for(|s| s.stops == 1, WAIT).is_some());
        assert_eq!(rx.take_signals(), SignalSet::from(VM_STOPPED));

        // Garbage, JSON that is not QMP, an unknown event, a stray reply,
        // then a state change, then QEMU dies in the middle of a line.
        qemu.write_all(b"\x00\xffgarbage\r\n[1]\r\n{\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 0}}\r\n{\"return\": {}}\r\n").unwrap();
        qemu.write_all(b"{\"event\": \"BLOCK_IO_ERROR\", \"data\": {\"device\": \"disk0\", \"nospace\": true}}\r\n").unwrap();
        qemu.write_all(b"{\"event\": \"RESUME\"}\r\n{\"event\": \"SHUT")
            .unwrap();
        qemu.shutdown(Shutdown::Write).unwrap();

        let report = bridge.join();
        assert!(
            matches!(
                report.end,
                BridgeEnd::Failed(QmpError::TruncatedLine { bytes: 15 })
            ),
            "{}",
            report.end
        );
        assert!(matches!(
            report.first_bad_line,
            Some(QmpError::NotJson { .. })
        ));
        let s = report.stats;
        assert_eq!((s.lines, s.events, s.bad_lines), (7, 4, 2));
        assert_eq!((s.other_events, s.non_events, s.nospace_errors), (1, 1, 1));
        // Everything raised before the failure is still there, and the
        // channel reports closed only after it.
        assert!(rx.is_closed());
        assert_eq!(
            rx.take_signals(),
            SignalSet::from(RESYNC) | BLOCK_IO_ERROR | VM_RESUMED
        );
        assert!(!rx.take_signals().contains(VM_SHUTDOWN));
    }

    #[test]
    fn a_full_ring_raises_the_vnc_class_signal_and_the_gap_is_in_place() {
        let mut input = String::new();
        for port in 0..5 {
            input += &vnc_line("VNC_CONNECTED", 40000 + port);
        }
        input += "{\"event\": \"STOP\"}\n";
        input += &vnc_line("VNC_DISCONNECTED", 40000);
        let (tx, mut rx) = eventsig::channel(2).unwrap();
        let bridge = Bridge::spawn_reader(std::io::Cursor::new(input.into_bytes()), tx).unwrap();
        let report = bridge.join();
        assert!(matches!(report.end, BridgeEnd::Closed), "{}", report.end);
        let s = report.stats;
        assert_eq!((s.vnc_events, s.vnc_sent, s.vnc_dropped), (6, 2, 4));
        assert_eq!((s.vnc_connected, s.vnc_disconnected), (5, 1));

        assert_eq!(rx.take_signals(), SignalSet::from(VNC_DROPPED) | VM_STOPPED);
        let got: Vec<_> = rx
            .drain()
            .map(|d| match d {
                Delivery::Event(e) => (e.index, e.client.map(|c| c.service)),
                Delivery::Lost { first, count } => (first, Some(format!("lost {count}"))),
            })
            .collect();
        assert_eq!(
            got,
            [
                (0, Some("40000".to_string())),
                (1, Some("40001".to_string())),
                (2, Some("lost 4".to_string())),
            ]
        );
        assert_eq!(rx.overflow().map(|o| o.lost()), Some(4));
    }

    #[test]
    fn long_lines_resync_and_the_stream_goes_on() {
        let mut input = vec![b'x'; LineReader::<&[u8]>::DEFAULT_LIMIT + 10];
        input.extend_from_slice(b"\n{\"event\": \"STOP\"}\n");
        let (tx, mut rx) = eventsig::channel(2).unwrap();
        let report = Bridge::spawn_reader(std::io::Cursor::new(input), tx)
            .unwrap()
            .join();
        assert!(matches!(report.end, BridgeEnd::Closed), "{}", report.end);
        assert_eq!((report.stats.bad_lines, report.stats.stops), (1, 1));
        assert!(matches!(
            report.first_bad_line,
            Some(QmpError::LineTooLong { .. })
        ));
        assert_eq!(rx.take_signals(), SignalSet::from(RESYNC) | VM_STOPPED);
    }

    #[test]
    fn the_bridge_ends_when_the_receiver_is_gone() {
        let (mut qemu, ours) = UnixStream::pair().unwrap();
        let (tx, rx) = eventsig::channel(2).unwrap();
        let bridge = Bridge::spawn_reader(ours, tx).unwrap();
        drop(rx);
        qemu.write_all(b"{\"event\": \"STOP\"}\n").unwrap();
        let report = bridge.join();
        assert!(
            matches!(report.end, BridgeEnd::ReceiverGone),
            "{}",
            report.end
        );
    }

    #[test]
    fn stop_ends_a_socket_bridge() {
        let (mut qemu, ours) = UnixStream::pair().unwrap();
        writeln!(
            qemu,
            "{{\"QMP\": {{\"version\": {{}}, \"capabilities\": []}}}}"
        )
        .unwrap();
        writeln!(qemu, "{{\"return\": {{}}, \"id\": 0}}").unwrap();
        let client = QmpClient::handshake(ours, Some(WAIT)).unwrap();
        let (tx, mut rx) = eventsig::channel(2).unwrap();
        let bridge = Bridge::spawn(client, tx).unwrap();
        qemu.write_all(&vnc_line("VNC_CONNECTED", 1234).into_bytes())
            .unwrap();
        assert!(bridge.wait_for(|s| s.vnc_sent == 1, WAIT).is_some());
        bridge.stop();
        let report = bridge.join();
        assert!(matches!(report.end, BridgeEnd::Stopped), "{}", report.end);
        assert!(matches!(
            rx.try_recv(),
            Ok(Delivery::Event(VncEvent { index: 0, .. }))
        ));
        assert!(matches!(rx.try_recv(), Err(eventsig::TryRecvError::Closed)));
    }
}
