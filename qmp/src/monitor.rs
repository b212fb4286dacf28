//! [`Monitor`]: the consumer. One mio loop on the eventsig receiver and a
//! QMP command connection to re-poll state with.
//!
//! On start, and whenever a wake-up says so, it re-polls:
//!
//! | what woke it | re-polls |
//! |---|---|
//! | start (events before the handshake are never delivered) | everything |
//! | [`VM_STOPPED`], [`VM_RESUMED`], [`VM_SHUTDOWN`], [`BLOCK_IO_ERROR`] | `query-status`, `query-block` |
//! | an overflow, or [`VNC_DROPPED`] | `query-vnc`, then acknowledges the overflow |
//! | [`RESYNC`], or the bridge closing the channel | everything |
//!
//! Per wake-up it follows eventsig's rule: take the signals, read the
//! overflow, drain, then re-poll, so that the re-polled state is at least as
//! new as every event drained. Between re-polls it keeps its VNC client list
//! up to date from the events.
//!
//! [`VM_STOPPED`]: crate::signals::VM_STOPPED
//! [`VM_RESUMED`]: crate::signals::VM_RESUMED
//! [`VM_SHUTDOWN`]: crate::signals::VM_SHUTDOWN
//! [`BLOCK_IO_ERROR`]: crate::signals::BLOCK_IO_ERROR
//! [`VNC_DROPPED`]: crate::signals::VNC_DROPPED
//! [`RESYNC`]: crate::signals::RESYNC

use std::collections::BTreeSet;
use std::io;
use std::time::{Duration, Instant};

use eventsig::{Delivery, Receiver, SignalSet, Stats};
use mio::{Events, Interest, Poll, Token};

use crate::client::QmpClient;
use crate::error::QmpError;
use crate::event::{VncClient, VncEvent, VncEventKind};
use crate::query::{BlockInfo, StatusInfo, VncInfo};
use crate::signals;

const RECEIVER: Token = Token(0);
/// Longest single `epoll_wait` inside [`Monitor::run_until`].
const POLL_SLICE: Duration = Duration::from_millis(100);

/// What the monitor knows, from signals, events and re-polls.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The last re-polled run state.
    pub status: Option<StatusInfo>,
    /// The last re-polled drives.
    pub blocks: Vec<BlockInfo>,
    /// The last `query-vnc` reply.
    pub vnc: Option<VncInfo>,
    /// The VNC clients connected, as the monitor believes: replaced by each
    /// `query-vnc`, updated by each VNC event in between.
    pub clients: BTreeSet<VncClient>,
    /// Every signal taken so far.
    pub signals: SignalSet,
    /// Wake-ups whose signals included `VM_STOPPED`.
    pub stop_signals: u64,
    /// VNC events delivered.
    pub delivered: u64,
    /// Delivered, per kind: connected, initialized, disconnected.
    pub delivered_by_kind: [u64; 3],
    /// VNC events lost (the sum of the gaps).
    pub lost: u64,
    /// The gaps, in order: `(first, count)` in the channel's sequence
    /// numbers, which are the bridge's VNC event positions.
    pub gaps: Vec<(u64, u64)>,
    /// Delivered events whose position was not the next expected one (must
    /// stay 0: the ring is FIFO and gaps are reported where they are).
    pub misplaced: u64,
    /// Overflows acknowledged after a `query-vnc`.
    pub overflows_acknowledged: u64,
    /// Successful re-polls of status, block, vnc.
    pub repolls: [u64; 3],
    /// Re-polls that failed, with why.
    pub repoll_errors: Vec<String>,
    /// The bridge is gone and everything it sent was delivered.
    pub closed: bool,
    /// Wake-ups serviced.
    pub wakeups: u64,
}

impl View {
    /// Whether the last re-poll showed the VM stopped on ENOSPC:
    /// `query-status` says `io-error` and a drive says `nospace`.
    pub fn stopped_on_enospc(&self) -> bool {
        self.status.as_ref().is_some_and(StatusInfo::is_io_error)
            && self.blocks.iter().any(BlockInfo::is_nospace)
    }

    /// Whether a `VM_STOPPED` signal was taken and the VM was then seen
    /// stopped on ENOSPC: the monitor knows, with certainty, what happened.
    pub fn knew_enospc_stop(&self) -> bool {
        self.stop_signals > 0 && self.stopped_on_enospc()
    }

    /// The position the next delivered or lost event must have.
    pub fn next_index(&self) -> u64 {
        self.delivered + self.lost
    }
}

/// The monitor loop.
#[derive(Debug)]
pub struct Monitor {
    rx: Receiver<VncEvent>,
    poll: Poll,
    events: Events,
    qmp: Option<QmpClient>,
    view: View,
}

impl Monitor {
    /// Registers the receiver with a new mio `Poll` and re-polls everything
    /// once: events QEMU emitted before the bridge's handshake were never
    /// delivered, so the monitor starts from state, not from the log.
    ///
    /// # Errors
    ///
    /// Creating the poll or registering fails. A failed re-poll is not an
    /// error; it is in [`View::repoll_errors`].
    pub fn new(rx: Receiver<VncEvent>, qmp: QmpClient) -> io::Result<Monitor> {
        let poll = Poll::new()?;
        let mut monitor = Monitor {
            rx,
            poll,
            events: Events::with_capacity(4),
            qmp: Some(qmp),
            view: View::default(),
        };
        monitor
            .poll
            .registry()
            .register(&mut monitor.rx, RECEIVER, Interest::READABLE)?;
        monitor.repoll(true, true, true);
        Ok(monitor)
    }

    /// What the monitor knows.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The receiver's counters.
    pub fn receiver_stats(&self) -> Stats {
        self.rx.stats()
    }

    /// The command connection, unless a fatal error closed it. Commands
    /// sent here (`cont`, `quit`) do not service the receiver.
    pub fn qmp(&mut self) -> Option<&mut QmpClient> {
        self.qmp.as_mut()
    }

    /// Waits up to `timeout` for the receiver's fd to become readable and
    /// services one wake-up. Returns whether there was one.
    ///
    /// # Errors
    ///
    /// `epoll_wait` failed.
    pub fn service(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        if self.view.closed {
            return Ok(false);
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(e),
        }
        if self.events.is_empty() {
            return Ok(false);
        }
        self.handle();
        Ok(true)
    }

    /// Services wake-ups until `done(view)` holds, the channel is closed, or
    /// `timeout` passes. Returns whether `done` held.
    ///
    /// # Errors
    ///
    /// As [`Monitor::service`].
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&View) -> bool,
        timeout: Duration,
    ) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.view) {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.view.closed {
                return Ok(false);
            }
            self.service(Some(left.min(POLL_SLICE)))?;
        }
    }

    /// One wake-up: signals, overflow, drain, then re-poll.
    fn handle(&mut self) {
        self.view.wakeups += 1;
        let taken = self.rx.take_signals();
        let overflow = self.rx.overflow();
        self.view.signals |= taken;
        if taken.contains(signals::VM_STOPPED) {
            self.view.stop_signals += 1;
        }
        for d in self.rx.drain() {
            match d {
                Delivery::Event(e) => Self::apply(&mut self.view, e),
                Delivery::Lost { first, count } => {
                    if first != self.view.next_index() {
                        self.view.misplaced += 1;
                    }
                    self.view.gaps.push((first, count));
                    self.view.lost += count;
                }
            }
        }
        let closed = self.rx.is_closed();
        let resync = taken.contains(signals::RESYNC) || closed;
        let state = resync
            || !taken.intersection(signals::RUN_STATE).is_empty()
            || taken.contains(signals::BLOCK_IO_ERROR);
        let vnc = resync || overflow.is_some() || taken.contains(signals::VNC_DROPPED);
        let vnc_ok = self.repoll(state, state, vnc);
        if let (Some(ov), true) = (overflow, vnc_ok) {
            self.rx.acknowledge(ov);
            self.view.overflows_acknowledged += 1;
        }
        if closed {
            // Everything sent was drained above; the fd stays readable from
            // now on, so stop listening.
            let _ = self.poll.registry().deregister(&mut self.rx);
            self.view.closed = true;
        }
    }

    fn apply(view: &mut View, e: VncEvent) {
        if e.index != view.next_index() {
            view.misplaced += 1;
        }
        view.delivered += 1;
        let slot = match e.kind {
            VncEventKind::Connected => 0,
            VncEventKind::Initialized => 1,
            VncEventKind::Disconnected => 2,
        };
        view.delivered_by_kind[slot] += 1;
        if let Some(client) = e.client {
            match e.kind {
                VncEventKind::Connected | VncEventKind::Initialized => {
                    view.clients.insert(client);
                }
                VncEventKind::Disconnected => {
                    view.clients.remove(&client);
                }
            }
        }
    }

    /// Re-polls what is asked; returns whether the VNC re-poll (if asked)
    /// succeeded.
    fn repoll(&mut self, status: bool, block: bool, vnc: bool) -> bool {
        if !(status || block || vnc) {
            return true;
        }
        if self.qmp.is_none() {
            self.view
                .repoll_errors
                .push("not re-polled: no QMP command connection".into());
            return false;
        }
        if status {
            if let Some(s) = self.query(QmpClient::query_status) {
                self.view.status = Some(s);
                self.view.repolls[0] += 1;
            }
        }
        if block {
            if let Some(b) = self.query(QmpClient::query_block) {
                self.view.blocks = b;
                self.view.repolls[1] += 1;
            }
        }
        if !vnc {
            return true;
        }
        match self.query(QmpClient::query_vnc) {
            Some(v) => {
                self.view.clients = v.clients.iter().cloned().collect();
                self.view.vnc = Some(v);
                self.view.repolls[2] += 1;
                true
            }
            None => false,
        }
    }

    fn query<T>(&mut self, q: fn(&mut QmpClient) -> Result<T, QmpError>) -> Option<T> {
        let result = q(self.qmp.as_mut()?);
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                if e.is_fatal() {
                    // Not usable any more (closed, timed out, out of step).
                    self.qmp = None;
                }
                self.view.repoll_errors.push(e.to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::thread;

    use serde_json::Value;

    use crate::bridge::{Bridge, BridgeEnd};

    const WAIT: Duration = Duration::from_secs(10);

    /// A fake QEMU command connection: the VM is stopped on ENOSPC and one
    /// VNC client (port 50000) is connected.
    fn fake_control() -> (QmpClient, thread::JoinHandle<usize>) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let server = thread::spawn(move || {
            let mut out = theirs.try_clone().unwrap();
            writeln!(out, r#"{{"QMP": {{"version": {{}}, "capabilities": []}}}}"#).unwrap();
            let mut queries = 0;
            for line in BufReader::new(theirs).lines() {
                let Ok(line) = line else { break };
                let request: Value = serde_json::from_str(&line).unwrap();
                let reply = match request["execute"].as_str().unwrap() {
                    "query-status" => r#"{"status": "io-error", "running": false}"#,
                    "query-block" => r#"[{"device": "disk0", "io-status": "nospace"}]"#,
                    "query-vnc" => {
                        r#"{"enabled": true, "clients": [{"host": "127.0.0.1", "service": "50000", "family": "ipv4"}]}"#
                    }
                    _ => "{}",
                };
                queries += 1;
                let id = &request["id"];
                if writeln!(out, r#"{{"return": {reply}, "id": {id}}}"#).is_err() {
                    break;
                }
            }
            queries
        });
        (QmpClient::handshake(ours, Some(WAIT)).unwrap(), server)
    }

    fn vnc(name: &str, port: u32) -> String {
        format!(
            r#"{{"event": "{name}", "data": {{"client": {{"host": "127.0.0.1", "service": "{port}", "family": "ipv4"}}}}}}"#
        ) + "\n"
    }

    #[test]
    fn stop_and_overflow_are_repolled_and_acknowledged() {
        let (control, server) = fake_control();
        let (tx, rx) = eventsig::channel(4).unwrap();
        let (mut qemu, ours) = UnixStream::pair().unwrap();
        let bridge = Bridge::spawn_reader(ours, tx).unwrap();
        let mut monitor = Monitor::new(rx, control).unwrap();
        assert_eq!(monitor.view().repolls, [1, 1, 1]);

        // Away: ten connects and disconnects into four slots, then the stop.
        for port in 40000..40010 {
            qemu.write_all(vnc("VNC_CONNECTED", port).as_bytes())
                .unwrap();
            qemu.write_all(vnc("VNC_DISCONNECTED", port).as_bytes())
                .unwrap();
        }
        qemu.write_all(b"{\"event\": \"BLOCK_IO_ERROR\", \"data\": {\"nospace\": true}}\n{\"event\": \"STOP\"}\n")
            .unwrap();
        assert!(bridge.wait_for(|s| s.stops == 1, WAIT).is_some());

        assert!(monitor.run_until(View::knew_enospc_stop, WAIT).unwrap());
        let view = monitor.view();
        assert_eq!(
            (view.delivered, view.lost, view.gaps.clone()),
            (4, 16, vec![(4, 16)])
        );
        assert_eq!(view.misplaced, 0);
        assert_eq!(view.overflows_acknowledged, 1);
        let ports: Vec<_> = view.clients.iter().map(|c| c.service.as_str()).collect();
        assert_eq!(
            ports,
            ["50000"],
            "re-polled, not rebuilt from the partial log"
        );
        assert!(monitor.rx.overflow().is_none());

        // QEMU goes away: the monitor sees the close and re-polls once more.
        drop(qemu);
        assert!(matches!(bridge.join().end, BridgeEnd::Closed));
        assert!(monitor.run_until(|v| v.closed, WAIT).unwrap());
        assert!(monitor.view().repoll_errors.is_empty());
        drop(monitor);
        assert_eq!(server.join().unwrap(), 1 + 3 + 3 + 3);
    }
}
