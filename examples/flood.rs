//! `flood`: the story eventsig was written for, told live.
//!
//! A VM monitor watches a VM through one eventsig channel, registered with a
//! mio event loop:
//!
//! - **events**: every VNC client connect and disconnect and every block
//!   device resize, in order, in a small ring (100 slots by default);
//! - **signals**: "VM stopped", a state bit that is never lost.
//!
//! The channel is classified (`Builder::build_classified`): an event the ring
//! refuses is counted against its class, "VNC client list" or "block
//! devices", whose signal is raised and which `Overflow::classes` lists. On an
//! overflow the monitor re-polls only the classes that lost events (a
//! targeted re-poll: `query-vnc` but not `query-block` when only VNC events
//! were lost), where the kernel's SIGIO fallback would make it re-poll all.
//! The channel also keeps overrun counts (`Builder::overrun_counts`): the
//! monitor takes its signals with `take_signals_counted`, so it knows how
//! many raises each report stands for (stats ticks, and drops per class).
//!
//! **Flood mode** (the default). The monitor parks its receiver and goes away
//! (it waits on a handshake, not on a timer). Meanwhile a buggy VNC client
//! connects and disconnects 1000 times, the operator opens a console (its
//! connect event is dropped: the ring is full), and the guest's disk fills up:
//! the VM stops on ENOSPC. A block device was resized just before the
//! flood; its event got through. When the monitor comes back it must know for
//! certain that the VM stopped, how many VNC events it missed and where, and,
//! after re-polling the VNC client list (only) on the overflow, who is
//! connected now.
//!
//! **Live mode** (`--rate`, `--duration`). The VM produces continuously at a
//! fixed rate while the monitor consumes concurrently (a block device resize
//! every few thousand VNC events); the run reports events per second,
//! eventfd writes per event, and the re-polls of each class.
//!
//! Either way the run exits with status 1 if any state was lost: the
//! VM-stopped signal was missed, delivered + lost != sent, the monitor's VNC
//! client list or block device sizes disagree with the VM's, or a class was
//! re-polled although none of its events was lost (or the other way round).
//! It also fails, rather than hangs,
//! if a wake-up goes missing: every wait is bounded and the monitor services
//! the channel only when epoll says it is readable.
//!
//! ```text
//! cargo run --release --example flood
//! cargo run --release --example flood -- --pairs 5000 --capacity 64
//! cargo run --release --example flood -- --rate 200000 --duration 3
//! cargo run --release --example flood -- --quick
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::fmt;
use std::io;
use std::process;
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use eventsig::{
    Delivery, Overflow, Receiver, SendError, Sender, Signal, SignalCounts, SignalSet, Stats,
};
use mio::{Events, Interest, Poll, Token};

// ---------------------------------------------------------------- settings

/// "The VM stopped: look at its run state." Never lost, however full the ring.
const VM_STOPPED: Signal = signal(3);
/// "Guest statistics were refreshed" (live mode): shows raises merging.
const STATS_TICK: Signal = signal(5);
/// The class of VNC events: raised when one is dropped.
const VNC_LOST: Signal = signal(10);
/// The class of block device events: raised when one is dropped.
const DISKS_LOST: Signal = signal(11);

const RECEIVER: Token = Token(0);
/// Longest single `epoll_wait`; the monitor also checks its deadline between.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest wait for the other thread at a handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the monitor may take, after the VM is done, to see the close.
const MONITOR_GRACE: Duration = Duration::from_secs(10);
/// Drains per wake-up before going back to epoll (the fd stays readable).
const MAX_DRAINS_PER_WAKE: usize = 64;
/// Live mode raises `STATS_TICK` once per this many events.
const TICK_EVERY: u64 = 1000;
/// Live mode toggles clients `1..=LIVE_CLIENTS`.
const LIVE_CLIENTS: u64 = 64;
/// Live mode resizes a block device once per this many events.
const RESIZE_EVERY: u64 = 2_500;
/// The VM's block devices and their sizes at start (GiB).
const DISKS: [(DiskId, u64); 2] = [(0, 20), (1, 100)];
/// Gaps listed by position in the report; the rest are counted.
const GAPS_SHOWN: usize = 6;

/// The operator's console, which connects at the end of the flood.
const OPERATOR: ClientId = 1;
/// The flapping client gets a new connection id each time, from here on.
const FLAPPING_FIRST: ClientId = 10_000;

const DEFAULT_PAIRS: u64 = 1000;
const DEFAULT_CAPACITY: usize = 100;
const QUICK_PAIRS: u64 = 100;
const QUICK_CAPACITY: usize = 10;
const DEFAULT_RATE: u64 = 200_000;
const DEFAULT_DURATION: Duration = Duration::from_secs(3);
const QUICK_DURATION: Duration = Duration::from_millis(500);

const fn signal(n: u32) -> Signal {
    match Signal::new(n) {
        Ok(s) => s,
        Err(_) => panic!("signal numbers are below 64"),
    }
}

fn signal_names(set: SignalSet) -> String {
    let names: Vec<String> = set
        .iter()
        .map(|s| match s {
            VM_STOPPED => "vm-stopped".to_string(),
            STATS_TICK => "stats-tick".to_string(),
            VNC_LOST => "vnc-events-lost".to_string(),
            DISKS_LOST => "block-events-lost".to_string(),
            other => other.to_string(),
        })
        .collect();
    format!("{{{}}}", names.join(", "))
}

// ------------------------------------------------------------------ options

const USAGE: &str = "\
usage: cargo run --release --example flood -- [OPTIONS]

Flood mode (default): the monitor is away while a VM floods VNC events into a
small ring, then the VM stops on ENOSPC; the monitor must not lose that state.

  --pairs N             VNC connect/disconnect pairs in the flood (default 1000)
  --capacity N          event ring capacity (default 100)

Live mode: the VM produces continuously while the monitor consumes.

  --rate EVENTS_PER_SEC events per second (default 200000 when --duration is given)
  --duration SECS       how long to produce (default 3, or 0.5 with --quick)

  --quick               small counts for CI (flood: 100 pairs, capacity 10;
                        live: 0.5 s unless --duration is given)
  -h, --help            this text

Exit status: 0 when no state was lost, 1 when some was, 2 on bad arguments.";

#[derive(Debug, Clone, Copy)]
struct Options {
    pairs: u64,
    capacity: usize,
    mode: Mode,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Flood,
    Live { rate: u64, duration: Duration },
}

impl Options {
    /// `Ok(None)` means `--help`.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
        let (mut pairs, mut capacity, mut rate, mut duration) = (None, None, None, None);
        let mut quick = false;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-h" | "--help" => return Ok(None),
                "--quick" => quick = true,
                "--pairs" => pairs = Some(positive(&arg, args.next())?),
                "--capacity" => capacity = Some(positive(&arg, args.next())?),
                "--rate" => rate = Some(positive(&arg, args.next())?),
                "--duration" => duration = Some(seconds(&arg, args.next())?),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        let live = rate.is_some() || duration.is_some();
        // A quick live run keeps the full ring: it is short, not smaller.
        let quick_capacity = if live {
            DEFAULT_CAPACITY
        } else {
            QUICK_CAPACITY
        };
        let capacity = capacity.unwrap_or(pick(quick, quick_capacity, DEFAULT_CAPACITY) as u64);
        let mode = if live {
            Mode::Live {
                rate: rate.unwrap_or(DEFAULT_RATE),
                duration: duration.unwrap_or(pick(quick, QUICK_DURATION, DEFAULT_DURATION)),
            }
        } else {
            Mode::Flood
        };
        Ok(Some(Options {
            pairs: pairs.unwrap_or(pick(quick, QUICK_PAIRS, DEFAULT_PAIRS)),
            capacity: usize::try_from(capacity).map_err(|_| "--capacity is too large")?,
            mode,
        }))
    }
}

/// The `--quick` value or the default one.
fn pick<T>(quick: bool, quick_value: T, default: T) -> T {
    if quick {
        quick_value
    } else {
        default
    }
}

fn positive(flag: &str, value: Option<String>) -> Result<u64, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag} wants a positive integer, not `{value}`")),
    }
}

fn seconds(flag: &str, value: Option<String>) -> Result<Duration, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    match value.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("{flag} wants seconds in (0, 3600], not `{value}`")),
    }
}

// ------------------------------------------------------- the simulated VM

type ClientId = u64;

/// One VNC event, as the VM reports it.
#[derive(Debug, Clone, Copy)]
enum Vnc {
    Connected(ClientId),
    Disconnected(ClientId),
}

type DiskId = u64;

/// One event of the VM: a VNC client came or went, or a block device was
/// resized (to a size in GiB).
#[derive(Debug, Clone, Copy)]
enum Event {
    Vnc(Vnc),
    Resized(DiskId, u64),
}

/// The classifier: the class (signal) of the state an event describes.
fn class_of(event: &Event) -> Option<Signal> {
    Some(match event {
        Event::Vnc(_) => VNC_LOST,
        Event::Resized(..) => DISKS_LOST,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunState {
    Running,
    IoError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IoStatus {
    Ok,
    NoSpace,
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunState::Running => "running",
            RunState::IoError => "io-error",
        })
    }
}

impl fmt::Display for IoStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoStatus::Ok => "ok",
            IoStatus::NoSpace => "nospace",
        })
    }
}

/// The VM's real state: what a re-poll (`query-status`, `query-vnc`) reads.
#[derive(Debug, Clone, PartialEq, Eq)]
struct VmState {
    run: RunState,
    io_status: IoStatus,
    vnc_clients: BTreeSet<ClientId>,
    /// Block device sizes in GiB (`query-block`).
    disks: BTreeMap<DiskId, u64>,
}

type SharedVm = Arc<Mutex<VmState>>;

/// Locks the VM state; a panicked holder cannot leave it half-written (every
/// update is one field store), so a poisoned lock is still read.
fn lock(vm: &SharedVm) -> MutexGuard<'_, VmState> {
    vm.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What happened to one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Accepted,
    Dropped,
    Closed,
}

/// What the VM did, counted on its own side.
#[derive(Debug, Default)]
struct VmReport {
    /// Send attempts the channel numbered (accepted + dropped).
    attempts: u64,
    accepted: u64,
    /// Sends refused because the monitor was gone.
    refused: u64,
    /// Drops of VNC and of block device events.
    vnc_dropped: u64,
    disk_dropped: u64,
    resizes: u64,
    stop_raised: bool,
    ticks_raised: u64,
    /// Time spent producing (live mode's rate is measured over it).
    busy: Duration,
    /// Why the VM gave up early, if it did.
    aborted: Option<String>,
}

/// The VM: updates its state first, then reports the change.
struct Vm {
    tx: Sender<Event>,
    state: SharedVm,
    report: VmReport,
}

impl Vm {
    fn connect(&mut self, client: ClientId) -> Sent {
        lock(&self.state).vnc_clients.insert(client);
        self.send(Event::Vnc(Vnc::Connected(client)))
    }

    fn disconnect(&mut self, client: ClientId) -> Sent {
        lock(&self.state).vnc_clients.remove(&client);
        self.send(Event::Vnc(Vnc::Disconnected(client)))
    }

    /// Connects `client` if it is not connected, disconnects it otherwise.
    fn toggle(&mut self, client: ClientId) -> Sent {
        let event = {
            let mut state = lock(&self.state);
            if state.vnc_clients.remove(&client) {
                Vnc::Disconnected(client)
            } else {
                state.vnc_clients.insert(client);
                Vnc::Connected(client)
            }
        };
        self.send(Event::Vnc(event))
    }

    /// Resizes block device `disk` to `size` GiB.
    fn resize(&mut self, disk: DiskId, size: u64) -> Sent {
        lock(&self.state).disks.insert(disk, size);
        self.report.resizes += 1;
        self.send(Event::Resized(disk, size))
    }

    fn send(&mut self, event: Event) -> Sent {
        match self.tx.send(event) {
            Ok(()) => {
                self.report.attempts += 1;
                self.report.accepted += 1;
                Sent::Accepted
            }
            Err(SendError::Full(event)) => {
                self.report.attempts += 1;
                match event {
                    Event::Vnc(_) => self.report.vnc_dropped += 1,
                    Event::Resized(..) => self.report.disk_dropped += 1,
                }
                Sent::Dropped
            }
            Err(SendError::Closed(_)) => {
                self.report.refused += 1;
                Sent::Closed
            }
        }
    }

    /// The guest's disk is full: the VM stops, and says so with a signal.
    fn stop_on_enospc(&mut self) {
        {
            let mut state = lock(&self.state);
            state.run = RunState::IoError;
            state.io_status = IoStatus::NoSpace;
        }
        self.report.stop_raised = self.tx.raise(VM_STOPPED).is_ok();
    }

    fn tick(&mut self) {
        if self.tx.raise(STATS_TICK).is_ok() {
            self.report.ticks_raised += 1;
        }
    }

    fn dropped(&self) -> u64 {
        self.report.attempts - self.report.accepted
    }

    /// Drops the sender: the channel closes for the monitor.
    fn finish(self) -> VmReport {
        self.report
    }
}

/// Flood mode's VM thread: waits until the monitor is away, floods, stops.
fn vm_flood(mut vm: Vm, pairs: u64, ready: mpsc::Receiver<()>, done: mpsc::Sender<()>) -> VmReport {
    if ready.recv_timeout(HANDSHAKE_TIMEOUT).is_err() {
        vm.report.aborted = Some("the monitor never got ready".into());
        return vm.finish();
    }
    let started = Instant::now();
    let cap = vm.tx.capacity();
    let (disk, size) = DISKS[1];
    let outcome = match vm.resize(disk, size * 2) {
        Sent::Accepted => "accepted",
        Sent::Dropped => "dropped: the ring is full",
        Sent::Closed => "refused: the monitor is gone",
    };
    println!(
        "[vm]      monitor away; block device {disk} grown to {} GiB; its event: {outcome}",
        size * 2
    );
    println!("[vm]      flooding {pairs} VNC connect/disconnect pairs into a ring of {cap}");
    for i in 0..pairs {
        let client = FLAPPING_FIRST + i;
        vm.connect(client);
        vm.disconnect(client);
        if (i + 1) % (pairs / 4).max(1) == 0 || i + 1 == pairs {
            let (accepted, dropped) = (vm.report.accepted, vm.dropped());
            println!(
                "[vm]      {:>7}/{pairs} pairs sent: {accepted} accepted, {dropped} dropped",
                i + 1
            );
        }
    }
    let outcome = match vm.connect(OPERATOR) {
        Sent::Accepted => "accepted",
        Sent::Dropped => "dropped: the ring is full",
        Sent::Closed => "refused: the monitor is gone",
    };
    println!("[vm]      operator console (client {OPERATOR}) connects; its event: {outcome}");
    vm.stop_on_enospc();
    println!("[vm]      guest disk full: VM stopped on ENOSPC, signal vm-stopped raised");
    vm.report.busy = started.elapsed();
    // The monitor may already be gone; then it learns nothing from this.
    let _ = done.send(());
    println!("[vm]      exits; the sender is dropped and the channel closes");
    vm.finish()
}

/// Live mode's VM thread: produces `rate` events per second for `duration`.
fn vm_live(mut vm: Vm, rate: u64, duration: Duration, ready: mpsc::Receiver<()>) -> VmReport {
    if ready.recv_timeout(HANDSHAKE_TIMEOUT).is_err() {
        vm.report.aborted = Some("the monitor never got ready".into());
        return vm.finish();
    }
    println!("[vm]      producing {rate} VNC events/s for {duration:.1?}");
    let total = events_due(duration, rate);
    let started = Instant::now();
    let mut clients = XorShift(0x2545_f491_4f6c_dd1d);
    let mut made = 0;
    while made < total && !vm.tx.is_closed() {
        let due = events_due(started.elapsed(), rate).min(total);
        if made == due {
            // Pacing by time: ahead of schedule, let the monitor's CPU be.
            thread::yield_now();
            continue;
        }
        while made < due {
            if made % RESIZE_EVERY == RESIZE_EVERY - 1 {
                let (disk, base) = DISKS[(made / RESIZE_EVERY % 2) as usize];
                vm.resize(disk, base + clients.next() % 100);
            } else {
                vm.toggle(1 + clients.next() % LIVE_CLIENTS);
            }
            made += 1;
            if made % TICK_EVERY == 0 {
                vm.tick();
            }
        }
    }
    vm.report.busy = started.elapsed();
    vm.stop_on_enospc();
    println!("[vm]      guest disk full: VM stopped on ENOSPC, signal vm-stopped raised; exits");
    vm.finish()
}

/// Events a producer at `rate` per second owes after `elapsed`.
fn events_due(elapsed: Duration, rate: u64) -> u64 {
    let due = elapsed.as_nanos() * u128::from(rate) / 1_000_000_000;
    u64::try_from(due).unwrap_or(u64::MAX)
}

/// A tiny deterministic generator, to pick which client comes or goes.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

// ---------------------------------------------------------------- the monitor

/// Where the events were lost: the first few gaps by position, and a count.
#[derive(Debug, Default)]
struct Gaps {
    count: u64,
    shown: Vec<(u64, u64)>,
}

impl Gaps {
    fn record(&mut self, first: u64, count: u64) {
        self.count += 1;
        if self.shown.len() < GAPS_SHOWN {
            self.shown.push((first, count));
        }
    }
}

impl fmt::Display for Gaps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self
            .shown
            .iter()
            .map(|(first, count)| format!("{first}..{}", first + count))
            .collect();
        write!(f, "{}", shown.join(", "))?;
        let more = self.count - self.shown.len() as u64;
        if more > 0 {
            write!(f, " and {more} more")?;
        }
        Ok(())
    }
}

/// What the monitor learned.
#[derive(Debug, Default)]
struct Tally {
    wakeups: u64,
    /// Signals taken, counting each signal of each take.
    signals_seen: u64,
    delivered: u64,
    lost: u64,
    gaps: Gaps,
    /// Overflows handled, and the re-polls of each class they asked for.
    repolls: u64,
    vnc_repolls: u64,
    disk_repolls: u64,
    /// The VM's run state, read when `VM_STOPPED` was taken.
    stopped: Option<(RunState, IoStatus)>,
    ticks_seen: u64,
    /// The raises the takes of `STATS_TICK` stood for (overrun counts).
    ticks_counted: u64,
    /// The drops the takes of each class stood for (overrun counts).
    vnc_drops_counted: u64,
    disk_drops_counted: u64,
}

/// What one pass of draining found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Batch {
    events: u64,
    gaps: u64,
    lost: u64,
}

/// Prints a line a second in live mode.
#[derive(Debug)]
struct Ticker {
    started: Instant,
    next: Instant,
}

/// The VM monitor: a mio loop around the receiver.
struct Monitor {
    rx: Receiver<Event>,
    poll: Poll,
    events: Events,
    vm: SharedVm,
    /// The VNC client list as the monitor believes it to be.
    view: BTreeSet<ClientId>,
    /// The block device sizes as the monitor believes them to be.
    disks: BTreeMap<DiskId, u64>,
    tally: Tally,
    /// Print a line per wake-up (flood mode).
    chatty: bool,
    ticker: Option<Ticker>,
    writes_while_away: Option<u64>,
}

/// What the monitor hands back at the end.
#[derive(Debug)]
struct MonitorReport {
    tally: Tally,
    view: BTreeSet<ClientId>,
    disks: BTreeMap<DiskId, u64>,
    stats: Stats,
    overflow_left: Option<Overflow>,
    /// Flood mode: eventfd writes made while the monitor was away.
    writes_while_away: Option<u64>,
    error: Option<String>,
}

impl Monitor {
    fn new(mut rx: Receiver<Event>, vm: SharedVm, chatty: bool) -> io::Result<Monitor> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut rx, RECEIVER, Interest::READABLE)?;
        // Start from the VM's state, as a real monitor does when it attaches.
        let (view, disks) = {
            let state = lock(&vm);
            (state.vnc_clients.clone(), state.disks.clone())
        };
        Ok(Monitor {
            rx,
            poll,
            events: Events::with_capacity(8),
            vm,
            view,
            disks,
            tally: Tally::default(),
            chatty,
            ticker: None,
            writes_while_away: None,
        })
    }

    /// Waits in epoll until the receiver is readable or `timeout` passes.
    fn wait_ready(&mut self, timeout: Duration) -> io::Result<bool> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => Ok(self.events.iter().any(|e| e.token() == RECEIVER)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Services the channel whenever epoll says so, until it is closed and
    /// everything was delivered, or `deadline` passes.
    fn run_until_closed(&mut self, deadline: Instant) -> Result<(), String> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err("deadline passed before the channel closed (a lost wake-up?)".into());
            }
            self.progress(now);
            let timeout = self.poll_timeout(now, deadline);
            if !self
                .wait_ready(timeout)
                .map_err(|e| format!("epoll: {e}"))?
            {
                continue;
            }
            self.tally.wakeups += 1;
            // Every send and raise happens before the close: a pass that
            // starts after seeing it delivers everything that is left.
            let closed = self.rx.is_closed();
            self.service();
            if closed {
                if self.chatty {
                    println!("[monitor] channel closed; everything was delivered");
                }
                return Ok(());
            }
        }
    }

    fn poll_timeout(&self, now: Instant, deadline: Instant) -> Duration {
        let mut timeout = POLL_TIMEOUT.min(deadline - now);
        if let Some(t) = &self.ticker {
            timeout = timeout.min(t.next.saturating_duration_since(now));
        }
        timeout
    }

    /// One pass after a wake-up: signals first, then events, then the
    /// overflow re-poll of the classes that lost events. The receiver parks
    /// again at the end of the drain.
    fn service(&mut self) {
        let taken = self.rx.take_signals_counted();
        if !taken.is_empty() {
            self.on_signals(&taken);
        }
        // Read the overflow *before* draining: the drain then passes every
        // drop it stands for, so the re-poll after it is newer than all the
        // events it replaces, and what is delivered later is a gap-free
        // suffix of the VM's log (or a new overflow says it is not).
        let overflow = self.rx.overflow();
        let batch = self.drain_until_empty();
        if self.chatty && batch != Batch::default() {
            println!(
                "[monitor]   {} events delivered, {} gap(s), {} lost",
                batch.events, batch.gaps, batch.lost
            );
        }
        if let Some(ov) = overflow {
            self.repoll(ov);
        }
    }

    fn on_signals(&mut self, taken: &SignalCounts) {
        let signals = taken.signals();
        self.tally.signals_seen += signals.len() as u64;
        if self.chatty {
            println!(
                "[monitor] woke: signals {} (raises: {taken:?})",
                signal_names(signals)
            );
        }
        if signals.contains(STATS_TICK) {
            self.tally.ticks_seen += 1;
        }
        self.tally.ticks_counted += u64::from(taken.count(STATS_TICK));
        self.tally.vnc_drops_counted += u64::from(taken.count(VNC_LOST));
        self.tally.disk_drops_counted += u64::from(taken.count(DISKS_LOST));
        if signals.contains(VM_STOPPED) {
            let (run, io_status) = {
                let state = lock(&self.vm);
                (state.run, state.io_status)
            };
            self.tally.stopped = Some((run, io_status));
            println!("[monitor]   vm-stopped -> query-status: {run}, io-status {io_status}");
        }
    }

    /// Drains until a drain finds nothing (bounded: the receiver keeps its fd
    /// readable if more is pending when we go back to epoll).
    fn drain_until_empty(&mut self) -> Batch {
        let mut batch = Batch::default();
        for _ in 0..MAX_DRAINS_PER_WAKE {
            let before = batch;
            for delivery in self.rx.drain() {
                match delivery {
                    Delivery::Event(Event::Vnc(Vnc::Connected(c))) => {
                        self.view.insert(c);
                        batch.events += 1;
                    }
                    Delivery::Event(Event::Vnc(Vnc::Disconnected(c))) => {
                        self.view.remove(&c);
                        batch.events += 1;
                    }
                    Delivery::Event(Event::Resized(disk, size)) => {
                        self.disks.insert(disk, size);
                        batch.events += 1;
                    }
                    Delivery::Lost { first, count } => {
                        self.tally.gaps.record(first, count);
                        batch.gaps += 1;
                        batch.lost += count;
                    }
                }
            }
            if batch == before {
                break;
            }
        }
        self.tally.delivered += batch.events;
        self.tally.lost += batch.lost;
        batch
    }

    /// Events were lost: what was built from events of the lost classes is
    /// stale. Read the VM's own state of those classes only (a drop with no
    /// class would need a full re-poll; this VM classifies every event),
    /// then acknowledge exactly the drops we saw, and their classes.
    fn repoll(&mut self, overflow: Overflow) {
        let classes = overflow.classes();
        let all = classes.is_empty();
        let mut repolled = Vec::new();
        {
            let state = lock(&self.vm);
            if all || classes.contains(VNC_LOST) {
                self.view = state.vnc_clients.clone();
                self.tally.vnc_repolls += 1;
                repolled.push(format!("query-vnc: {}", clients(&self.view)));
            }
            if all || classes.contains(DISKS_LOST) {
                self.disks = state.disks.clone();
                self.tally.disk_repolls += 1;
                repolled.push(format!("query-block: {:?}", self.disks));
            }
        }
        self.tally.repolls += 1;
        self.rx.acknowledge(overflow);
        if self.chatty {
            println!(
                "[monitor]   overflow ({} lost, classes {}) -> re-polled {}; acknowledged",
                overflow.lost(),
                signal_names(classes),
                repolled.join(", ")
            );
            if !classes.contains(DISKS_LOST) {
                println!(
                    "[monitor]   block devices not re-polled: no block event was lost, the events are exact: {:?}",
                    self.disks
                );
            }
        }
    }

    fn progress(&mut self, now: Instant) {
        let Some(t) = &mut self.ticker else { return };
        if now < t.next {
            return;
        }
        t.next += Duration::from_secs(1);
        let secs = now.duration_since(t.started).as_secs_f64();
        let s = self.rx.stats();
        println!(
            "[monitor] {secs:5.1} s: sent {:>9}, delivered {:>9}, lost {:>7}, doorbell writes {:>7} ({:.4}/event)",
            s.sent,
            self.tally.delivered,
            self.tally.lost,
            s.doorbell_writes,
            per(s.doorbell_writes, s.sent)
        );
    }

    fn finish(self, error: Option<String>) -> MonitorReport {
        MonitorReport {
            stats: self.rx.stats(),
            overflow_left: self.rx.overflow(),
            writes_while_away: self.writes_while_away,
            tally: self.tally,
            view: self.view,
            disks: self.disks,
            error,
        }
    }
}

/// The monitor thread. `flood_done` is `Some` in flood mode: the monitor is
/// away until the VM says the flood is over.
fn monitor_thread(
    rx: Receiver<Event>,
    vm: SharedVm,
    mode: Mode,
    ready: mpsc::Sender<()>,
    flood_done: Option<mpsc::Receiver<()>>,
) -> Result<MonitorReport, String> {
    let chatty = matches!(mode, Mode::Flood);
    let mut m = Monitor::new(rx, vm, chatty).map_err(|e| format!("cannot set up mio: {e}"))?;
    // Look once before sleeping: the receiver parks at the end of a drain, and
    // only a parked receiver gets its fd written.
    m.service();
    println!("[monitor] registered with mio, receiver parked");
    if flood_done.is_some() {
        println!("[monitor] going away");
    }
    ready
        .send(())
        .map_err(|_| "the VM thread is gone".to_string())?;
    let deadline = match (mode, flood_done) {
        (Mode::Flood, Some(done)) => {
            if done.recv_timeout(HANDSHAKE_TIMEOUT).is_err() {
                return Ok(m.finish(Some("the VM never finished its flood".into())));
            }
            m.writes_while_away = Some(m.rx.stats().doorbell_writes);
            println!("[monitor] back: polling");
            Instant::now() + MONITOR_GRACE
        }
        (Mode::Live { duration, .. }, _) => {
            let now = Instant::now();
            m.ticker = Some(Ticker {
                started: now,
                next: now + Duration::from_secs(1),
            });
            now + duration + MONITOR_GRACE
        }
        (Mode::Flood, None) => Instant::now() + MONITOR_GRACE,
    };
    let error = m.run_until_closed(deadline).err();
    Ok(m.finish(error))
}

// ---------------------------------------------------------------- the run

/// Everything the run produced, for the checks and the table.
#[derive(Debug)]
struct Outcome {
    vm: VmReport,
    monitor: MonitorReport,
    truth: VmState,
    elapsed: Duration,
}

fn run(opts: &Options) -> Result<Outcome, Box<dyn Error>> {
    let (tx, rx) = eventsig::builder()
        .capacity(opts.capacity)
        .overrun_counts(true)
        .build_classified(class_of)?;
    let state: SharedVm = Arc::new(Mutex::new(VmState {
        run: RunState::Running,
        io_status: IoStatus::Ok,
        vnc_clients: BTreeSet::new(),
        disks: DISKS.into_iter().collect(),
    }));
    let vm = Vm {
        tx,
        state: Arc::clone(&state),
        report: VmReport::default(),
    };
    // Handshakes: monitor -> VM "parked, go"; VM -> monitor "flood over".
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let started = Instant::now();
    let (vm_report, monitor) = thread::scope(|s| {
        let mode = opts.mode;
        let monitor_vm = Arc::clone(&state);
        let vm_thread = match mode {
            Mode::Flood => s.spawn(move || vm_flood(vm, opts.pairs, ready_rx, done_tx)),
            Mode::Live { rate, duration } => s.spawn(move || vm_live(vm, rate, duration, ready_rx)),
        };
        let flood_done = matches!(mode, Mode::Flood).then_some(done_rx);
        let monitor = s.spawn(move || monitor_thread(rx, monitor_vm, mode, ready_tx, flood_done));
        (vm_thread.join(), monitor.join())
    });
    let vm_report = vm_report.map_err(|_| "the VM thread panicked")?;
    let monitor = monitor.map_err(|_| "the monitor thread panicked")??;
    let truth = lock(&state).clone();
    Ok(Outcome {
        vm: vm_report,
        monitor,
        truth,
        elapsed: started.elapsed(),
    })
}

// ------------------------------------------------------------- the report

/// One line of the verdict.
struct Check {
    what: &'static str,
    ok: bool,
    detail: String,
}

fn checks(o: &Outcome) -> Vec<Check> {
    let t = &o.monitor.tally;
    let s = &o.monitor.stats;
    let sent = o.vm.attempts;
    let stopped = t.stopped == Some((RunState::IoError, IoStatus::NoSpace));
    vec![
        Check {
            what: "vm-stopped signal",
            ok: o.vm.stop_raised && stopped,
            detail: match t.stopped {
                Some((run, io)) => format!("seen; the VM reads {run} / io-status {io}"),
                None => "MISSED".into(),
            },
        },
        Check {
            what: "delivered + lost",
            ok: t.delivered + t.lost == sent && s.sent == sent && s.delivered == t.delivered,
            detail: format!(
                "{} + {} = {} (sent {sent})",
                t.delivered,
                t.lost,
                t.delivered + t.lost
            ),
        },
        Check {
            what: "VNC client list",
            ok: o.monitor.view == o.truth.vnc_clients,
            detail: format!(
                "monitor {} == VM {}",
                clients(&o.monitor.view),
                clients(&o.truth.vnc_clients)
            ),
        },
        Check {
            what: "block devices",
            ok: o.monitor.disks == o.truth.disks,
            detail: format!("monitor {:?} == VM {:?}", o.monitor.disks, o.truth.disks),
        },
        Check {
            what: "overflow handled",
            ok: o.monitor.overflow_left.is_none() && (t.lost == 0 || t.repolls > 0),
            detail: format!("{} overflow(s), none pending at exit", t.repolls),
        },
        Check {
            what: "overrun counts",
            // Every raise is counted by exactly one take: the ticks, and
            // the class raised by each drop.
            ok: t.ticks_counted == o.vm.ticks_raised
                && t.vnc_drops_counted == o.vm.vnc_dropped
                && t.disk_drops_counted == o.vm.disk_dropped,
            detail: format!(
                "stats-tick {} of {} raises; drops by class: VNC {} of {}, block {} of {}",
                t.ticks_counted,
                o.vm.ticks_raised,
                t.vnc_drops_counted,
                o.vm.vnc_dropped,
                t.disk_drops_counted,
                o.vm.disk_dropped
            ),
        },
        Check {
            what: "targeted re-poll",
            // A class is re-polled if and only if some of its events were lost.
            ok: (t.vnc_repolls > 0) == (o.vm.vnc_dropped > 0)
                && (t.disk_repolls > 0) == (o.vm.disk_dropped > 0),
            detail: format!(
                "VNC: {} lost, {} re-poll(s); block: {} lost, {} re-poll(s)",
                o.vm.vnc_dropped, t.vnc_repolls, o.vm.disk_dropped, t.disk_repolls
            ),
        },
        Check {
            what: "monitor finished",
            ok: o.monitor.error.is_none() && o.vm.aborted.is_none(),
            detail: o
                .monitor
                .error
                .clone()
                .or_else(|| o.vm.aborted.clone())
                .unwrap_or_else(|| format!("closed and drained after {} wake-up(s)", t.wakeups)),
        },
    ]
}

fn clients(set: &BTreeSet<ClientId>) -> String {
    if set.len() <= 6 {
        return format!("{set:?}");
    }
    format!("[{} clients]", set.len())
}

fn per(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn print_report(opts: &Options, o: &Outcome, checks: &[Check]) {
    let t = &o.monitor.tally;
    let s = &o.monitor.stats;
    println!();
    match opts.mode {
        Mode::Flood => println!(
            "summary: {} VNC pairs into a ring of {}, monitor away",
            opts.pairs, opts.capacity
        ),
        Mode::Live { rate, duration } => println!(
            "summary: live, {rate} events/s asked for {duration:.1?}, ring of {}",
            opts.capacity
        ),
    }
    let row =
        |label: &str, value: String, note: String| println!("  {label:<26}{value:>10}   {note}");
    let stopped = match t.stopped {
        Some((run, io)) => format!("vm-stopped seen: the VM reads {run} / {io}"),
        None => "vm-stopped MISSED".to_string(),
    };
    row(
        "state changes (signals)",
        format!("{}", t.signals_seen),
        stopped,
    );
    if let Mode::Live { .. } = opts.mode {
        row(
            "  stats-tick",
            format!("{}", t.ticks_seen),
            format!(
                "takes for {} raises (merged raises are reported once; their counts add up to {})",
                o.vm.ticks_raised, t.ticks_counted
            ),
        );
    }
    row(
        "events sent",
        format!("{}", o.vm.attempts),
        format!("{} accepted by the ring", o.vm.accepted),
    );
    row(
        "events delivered",
        format!("{}", t.delivered),
        String::new(),
    );
    let gaps = if t.gaps.count == 0 {
        "no gap".to_string()
    } else {
        format!(
            "in {} gap(s), send numbers first..end: {}",
            t.gaps.count, t.gaps
        )
    };
    row("events lost", format!("{}", t.lost), gaps);
    row(
        "  VNC / block",
        format!("{} / {}", o.vm.vnc_dropped, o.vm.disk_dropped),
        format!("of {} block device resizes", o.vm.resizes),
    );
    row(
        "overflow re-polls",
        format!("{}", t.repolls),
        format!(
            "targeted: VNC client list {}, block devices {} (a full re-poll reads both each time)",
            t.vnc_repolls, t.disk_repolls
        ),
    );
    row(
        "doorbell writes",
        format!("{}", s.doorbell_writes),
        format!(
            "for {} events sent ({:.4} per event), {} parks",
            s.sent,
            per(s.doorbell_writes, s.sent),
            s.parks
        ),
    );
    if let Some(away) = o.monitor.writes_while_away {
        row(
            "  while the monitor away",
            format!("{away}"),
            "one per monitor sleep, however many sends and raises".to_string(),
        );
    }
    if let Mode::Live { .. } = opts.mode {
        let busy = o.vm.busy.as_secs_f64().max(1e-9);
        row(
            "throughput",
            format!("{:.0}", o.vm.attempts as f64 / busy),
            format!("events/s sent over {:.2} s", busy),
        );
        row(
            "",
            format!("{:.0}", t.delivered as f64 / busy),
            "events/s delivered".to_string(),
        );
    }
    println!();
    for c in checks {
        let verdict = if c.ok { "ok  " } else { "FAIL" };
        println!("  {verdict} {:<22}{}", c.what, c.detail);
    }
    println!("  (run took {:.2?})", o.elapsed);
}

fn main() {
    let opts = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(msg) => {
            eprintln!("flood: {msg}\n\n{USAGE}");
            process::exit(2);
        }
    };
    let outcome = match run(&opts) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("flood: {e}");
            process::exit(1);
        }
    };
    let checks = checks(&outcome);
    print_report(&opts, &outcome, &checks);
    if checks.iter().all(|c| c.ok) {
        println!("\nresult: no state lost");
    } else {
        println!("\nresult: STATE LOST");
        process::exit(1);
    }
}
