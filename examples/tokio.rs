//! The VM-monitor story on tokio: a monitor *task* follows a VM's state
//! (signals) and its VNC connection log (events) raised and sent from plain
//! OS threads, without blocking a runtime thread.
//!
//! A "VNC" thread floods the 64-slot log in bursts (some events are lost, and
//! the monitor sees exactly where); a "VM" thread raises "migration state
//! changed" many times (coalesced) and finally "VM stopped". The monitor
//! must end up knowing that the VM stopped, and account for every event
//! attempt (delivered + lost == sent). It exits by itself well within 2 s:
//! 0 on success, 1 if any state was lost, 2 if a wake-up was lost.
//!
//!     cargo run --example tokio --features tokio

use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use eventsig::tokio::AsyncReceiver;
use eventsig::{Delivery, Signal};

#[derive(Debug)]
enum Vnc {
    Connected(u32),
    Disconnected(u32),
}

const BURSTS: u32 = 5;
const CLIENTS_PER_BURST: u32 = 200;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let started = Instant::now();
    let migration = Signal::new(1).expect("1 < 64");
    let vm_stopped = Signal::new(3).expect("3 < 64");
    let (mut tx, rx) = eventsig::channel::<Vnc>(64).expect("an eventfd");
    let raiser = tx.raiser();
    let mut rx = AsyncReceiver::new(rx).expect("registered with the reactor");

    let vnc = thread::spawn(move || {
        let mut attempts = 0u64;
        for burst in 0..BURSTS {
            for i in 0..CLIENTS_PER_BURST {
                let client = burst * CLIENTS_PER_BURST + i;
                let _ = tx.send(Vnc::Connected(client)); // Err(Full): counted, reported
                let _ = tx.send(Vnc::Disconnected(client));
                attempts += 2;
            }
            // Let the monitor catch up between bursts (bounded, no sleep).
            let deadline = Instant::now() + Duration::from_secs(1);
            while tx.free_slots() < tx.capacity() && Instant::now() < deadline {
                thread::yield_now();
            }
        }
        attempts
    }); // dropping `tx`: one producer handle less
    let vm = thread::spawn(move || {
        for _ in 0..1000 {
            let _ = raiser.raise(migration); // merges while pending
        }
        let _ = raiser.raise(vm_stopped);
    }); // the last handle: the channel closes

    let (mut delivered, mut lost, mut gaps, mut acks) = (0u64, 0u64, 0u64, 0u64);
    let (mut migrations_seen, mut stopped) = (0u64, false);
    let mut last_client = None;
    loop {
        let remaining = Duration::from_millis(1500).saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, rx.wait()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("monitor: the reactor failed: {e}");
                return ExitCode::from(2);
            }
            Err(_) => {
                eprintln!("monitor: nothing came within the deadline: a wake-up was lost");
                return ExitCode::from(2);
            }
        }
        // Read before taking: whatever was sent before the close is in now.
        let closed = rx.is_closed();
        let signals = rx.take_signals();
        if signals.contains(migration) {
            migrations_seen += 1; // re-read the migration state here
        }
        if signals.contains(vm_stopped) {
            stopped = true;
            println!("monitor: the VM stopped (after {:?})", started.elapsed());
        }
        let overflow = rx.overflow(); // read before draining, act after
        for d in rx.drain() {
            match d {
                Delivery::Event(Vnc::Connected(c) | Vnc::Disconnected(c)) => {
                    delivered += 1;
                    last_client = Some(c);
                }
                Delivery::Lost { first, count } => {
                    gaps += 1;
                    lost += count;
                    if gaps <= 3 {
                        println!("monitor: lost {count} VNC events from attempt {first} on");
                    }
                }
            }
        }
        if let Some(ov) = overflow {
            // Re-poll the VNC client list here, then:
            rx.acknowledge(ov);
            acks += 1;
        }
        if closed {
            break;
        }
    }

    let attempts = vnc.join().expect("the VNC thread");
    vm.join().expect("the VM thread");
    let stats = rx.stats();
    println!(
        "monitor: {delivered} VNC events delivered, {lost} lost in {gaps} gaps \
         ({acks} overflows acknowledged), last client {last_client:?}; \
         migration seen {migrations_seen} times for 1000 raises; \
         {} doorbell writes; {:?}",
        stats.doorbell_writes,
        started.elapsed()
    );

    let mut ok = true;
    if !stopped {
        eprintln!("monitor: the VM stop was lost");
        ok = false;
    }
    if migrations_seen == 0 {
        eprintln!("monitor: the migration signal was lost");
        ok = false;
    }
    if delivered + lost != attempts || stats.sent != attempts {
        eprintln!("monitor: {attempts} sent but {delivered} delivered + {lost} lost");
        ok = false;
    }
    if rx.overflow().is_some() {
        eprintln!("monitor: an overflow was left unacknowledged");
        ok = false;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
