//! N vCPU threads raising and sending into one monitor loop on mio, through
//! one eventsig hub: one eventfd, one ring per vCPU, one signals word.
//!
//! Each vCPU thread has its own `HubSender`: it reports its exits (a
//! sequence-numbered event each, in bursts, with pauses) and, when it halts,
//! raises its "state changed" signal and drops its sender. Two vCPUs are
//! hot-plugged while the monitor runs, and one is unplugged early. The
//! monitor sleeps in `mio::Poll`, takes the signals, drains the hub (fair
//! round-robin passes), stalls now and then so that rings overflow, and
//! acknowledges each vCPU's overflow as a real monitor would after
//! re-polling that vCPU's state.
//!
//! At the end it checks, per vCPU: events in order, each gap where its drops
//! were, delivered + lost == the attempts the vCPU made, one `Closed` after
//! its last delivery, its halt signal seen; and for the hub: at most one
//! eventfd write per park. It exits 1 if anything was lost or a poll waited
//! 10 s for nothing (a lost wake-up), 0 otherwise.
//!
//! ```text
//! cargo run --release --example vcpus [-- --vcpus 8 --exits 20000]
//! ```

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use eventsig::hub::{HubDelivery, HubSender, SenderId};
use eventsig::{Signal, SignalSet};
use mio::{Events, Interest, Poll, Token};

/// A vCPU exit, as the monitor sees it.
#[derive(Debug, Clone, Copy)]
struct Exit {
    vcpu: u32,
    /// This vCPU's exit number: 0, 1, 2, ...
    seq: u64,
}

/// The signal a vCPU raises when it halts ("vCPU n changed state").
fn halted(vcpu: u32) -> Signal {
    Signal::new(1 + vcpu % 63).expect("1..64")
}

/// What a vCPU thread reports when it is done.
struct Report {
    vcpu: u32,
    id: SenderId,
    attempts: u64,
}

/// A vCPU: `exits` exits in bursts with pauses, then halt.
fn run_vcpu(vcpu: u32, mut tx: HubSender<Exit>, exits: u64, start: Option<Arc<Barrier>>) -> Report {
    if let Some(start) = start {
        start.wait();
    }
    let id = tx.id();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(u64::from(vcpu) + 1) | 1;
    let mut seq = 0;
    while seq < exits {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let burst = 1 + rng % 64;
        for _ in 0..burst.min(exits - seq) {
            // Err(Full): dropped and counted; the monitor sees the gap.
            let _ = tx.send(Exit { vcpu, seq });
            seq += 1;
        }
        if rng % 4 == 0 {
            thread::yield_now();
        } else {
            for _ in 0..rng % 5_000 {
                std::hint::spin_loop();
            }
        }
    }
    tx.raise(halted(vcpu)).expect("the monitor is alive");
    Report {
        vcpu,
        id,
        attempts: seq,
    }
}

/// One vCPU's stream, as the monitor checks it.
#[derive(Debug, Default)]
struct Stream {
    vcpu: Option<u32>,
    next: u64,
    delivered: u64,
    lost: u64,
    closed: bool,
    errors: Vec<String>,
}

impl Stream {
    fn see(&mut self, d: HubDelivery<Exit>) {
        if self.closed {
            self.errors.push(format!("a delivery after Closed: {d:?}"));
        }
        match d {
            HubDelivery::Event(e) => {
                if *self.vcpu.get_or_insert(e.vcpu) != e.vcpu {
                    self.errors
                        .push(format!("exit of vCPU {} in another's ring", e.vcpu));
                }
                if e.seq != self.next {
                    self.errors
                        .push(format!("exit {} where {} was due", e.seq, self.next));
                }
                self.next = e.seq + 1;
                self.delivered += 1;
            }
            HubDelivery::Lost { first, count } => {
                if first != self.next {
                    self.errors
                        .push(format!("gap at {first} where {} was due", self.next));
                }
                self.next = first + count;
                self.lost += count;
            }
            HubDelivery::Closed => self.closed = true,
        }
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

fn main() -> ExitCode {
    let vcpus = arg("--vcpus", 8).clamp(1, 60) as u32;
    let exits = arg("--exits", 20_000);
    let (hub, mut monitor) = eventsig::hub::builder()
        .capacity(256)
        .max_senders(64)
        .drain_budget(64)
        .build::<Exit>()
        .expect("hub");

    let mut poll = Poll::new().expect("epoll");
    poll.registry()
        .register(&mut monitor, Token(0), Interest::READABLE)
        .expect("register the hub");

    // The boot vCPUs start together; one of them is unplugged early.
    let start = Arc::new(Barrier::new(vcpus as usize + 1));
    let mut threads = Vec::new();
    for vcpu in 0..vcpus {
        let tx = hub.add_sender().expect("a free slot");
        let n = if vcpu == 0 { exits / 10 } else { exits };
        let start = Some(Arc::clone(&start));
        threads.push(thread::spawn(move || run_vcpu(vcpu, tx, n, start)));
    }
    // Two vCPUs hot-plugged while the monitor runs.
    let plugged = Arc::new(Mutex::new(Vec::new()));
    let plugger = {
        let (hub, plugged) = (hub.clone(), Arc::clone(&plugged));
        thread::spawn(move || {
            for vcpu in vcpus..vcpus + 2 {
                thread::sleep(Duration::from_millis(5));
                let tx = hub.add_sender().expect("a free slot");
                let t = thread::spawn(move || run_vcpu(vcpu, tx, exits, None));
                plugged.lock().expect("not poisoned").push(t);
            }
        })
    };
    drop(hub); // the hub closes when every vCPU has halted
    start.wait();

    let t0 = Instant::now();
    let mut streams: HashMap<SenderId, Stream> = HashMap::new();
    let mut signals = SignalSet::EMPTY;
    let mut events = Events::with_capacity(4);
    let (mut drains, mut sleeps, mut acknowledged, mut failures) = (0u64, 0u64, 0u64, 0u64);
    while !monitor.is_finished() {
        signals |= monitor.take_signals();
        // After readiness: drain until a drain yields nothing (its end parks
        // the receiver; a drain that yielded keeps the fd readable).
        loop {
            drains += 1;
            let mut any = false;
            for (id, d) in monitor.drain() {
                any = true;
                streams.entry(id).or_default().see(d);
            }
            if drains % 97 == 0 {
                // The monitor is busy elsewhere for a moment: rings fill.
                let busy = Instant::now();
                while busy.elapsed() < Duration::from_micros(300) {
                    std::hint::spin_loop();
                }
            }
            if !any {
                break;
            }
        }
        // Re-poll the state of every vCPU that lost exits, then acknowledge.
        let overflowed: Vec<_> = monitor.overflows().collect();
        for (id, ov) in overflowed {
            acknowledged += ov.lost();
            monitor.acknowledge(id, ov);
        }
        if monitor.is_finished() {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .expect("epoll_wait");
        sleeps += 1;
        if events.is_empty() {
            eprintln!("FAIL: no readiness for 10 s: a lost wake-up");
            failures += 1;
            break;
        }
    }
    signals |= monitor.take_signals();
    let elapsed = t0.elapsed();

    plugger.join().expect("hot-plug thread");
    let mut reports: Vec<Report> = threads
        .into_iter()
        .chain(plugged.lock().expect("not poisoned").drain(..))
        .map(|t| t.join().expect("vCPU thread"))
        .collect();
    reports.sort_by_key(|r| r.vcpu);

    let stats = monitor.stats();
    let (mut delivered, mut lost, mut attempted) = (0, 0, 0);
    for r in &reports {
        attempted += r.attempts;
        let Some(s) = streams.get(&r.id) else {
            eprintln!("FAIL: vCPU {} ({}): never heard of", r.vcpu, r.id);
            failures += 1;
            continue;
        };
        delivered += s.delivered;
        lost += s.lost;
        let mut problems = s.errors.clone();
        if s.delivered + s.lost != r.attempts || s.next != r.attempts {
            problems.push(format!(
                "delivered {} + lost {} != {} attempts",
                s.delivered, s.lost, r.attempts
            ));
        }
        if !s.closed {
            problems.push("no Closed".into());
        }
        if !signals.contains(halted(r.vcpu)) {
            problems.push("its halt signal was lost".into());
        }
        for p in &problems {
            eprintln!("FAIL: vCPU {} ({}): {p}", r.vcpu, r.id);
        }
        failures += problems.len() as u64;
    }
    if streams.len() != reports.len() {
        eprintln!(
            "FAIL: {} senders seen, {} vCPUs ran",
            streams.len(),
            reports.len()
        );
        failures += 1;
    }
    if stats.doorbell_writes > stats.parks {
        eprintln!(
            "FAIL: {} eventfd writes for {} parks",
            stats.doorbell_writes, stats.parks
        );
        failures += 1;
    }
    // A vCPU's overflow goes with its `Closed`: drops acknowledged are at
    // most the drops, and every drop was reported in a gap.
    if acknowledged > stats.dropped || lost != stats.dropped {
        eprintln!(
            "FAIL: {lost} reported lost, {acknowledged} acknowledged, {} dropped",
            stats.dropped
        );
        failures += 1;
    }

    println!(
        "{} vCPUs ({} hot-plugged, 1 unplugged early): {attempted} exits in {:.1} ms; \
         {delivered} delivered, {lost} lost in gaps (every gap in place), {} halts seen",
        reports.len(),
        2,
        elapsed.as_secs_f64() * 1e3,
        reports
            .iter()
            .filter(|r| signals.contains(halted(r.vcpu)))
            .count(),
    );
    println!(
        "monitor: {drains} drains, {sleeps} sleeps in epoll, {} parks, {} eventfd writes \
         ({:.4} per exit), {} self-rings",
        stats.parks,
        stats.doorbell_writes,
        stats.doorbell_writes as f64 / attempted.max(1) as f64,
        stats.self_rings
    );
    if failures > 0 {
        eprintln!("{failures} failures");
        return ExitCode::FAILURE;
    }
    println!("OK: nothing lost");
    ExitCode::SUCCESS
}
