//! `irqfd`: a device model whose doorbell is an eventfd someone else owns.
//!
//! In a VMM, a device's interrupt line is often an eventfd registered with
//! KVM as an *irqfd* (`KVM_IRQFD`): a write to it injects the interrupt into
//! the guest, and KVM consumes the counter. A vhost-user backend's call fd
//! works the same way, with the VMM as the reader. Such an fd already
//! exists when the device model starts, so the channel adopts it
//! (`eventsig::builder().eventfd(fd)`) instead of making its own.
//!
//! Here there is no `/dev/kvm`, so a thread stands in for KVM: it reads the
//! eventfd (poll, then read, as KVM's irqfd wakeup does) and "injects" one
//! interrupt per read into the "guest driver", the thread that owns the
//! receiver. The guest driver, on each interrupt, takes the signals (a
//! config-space change) and takes completions with `try_recv` until `Empty`,
//! which parks the receiver: only then can the next completion ring the line
//! again. So completions are batched into few interrupts, the way
//! virtio's interrupt suppression batches them, with nothing lost.
//!
//! The device thread completes requests in bursts and raises a config
//! signal now and then. The run exits with status 1 if a completion or a
//! signal was lost, or if there were more interrupts than parks.
//!
//! ```text
//! cargo run --release --example irqfd
//! cargo run --release --example irqfd -- --requests 1000000
//! ```

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use eventsig::{Delivery, Signal};

/// "The device's config space changed": the guest re-reads it.
const CONFIG_CHANGED: Signal = match Signal::new(0) {
    Ok(s) => s,
    Err(_) => panic!("signal 0 exists"),
};
/// Requests completed per burst before the device pauses.
const BURST: u64 = 32;
/// Nothing takes this long unless an interrupt was lost.
const STUCK: Duration = Duration::from_secs(5);

/// The eventfd KVM would hold: made with `eventfd(2)` directly (blocking,
/// as a VMM's own code might make it); the channel makes it nonblocking.
fn irq_line() -> OwnedFd {
    // SAFETY: no pointer argument; the result is checked.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if raw < 0 {
        eprintln!("irqfd: eventfd: {}", std::io::Error::last_os_error());
        process::exit(2);
    }
    // SAFETY: a new fd nobody else owns.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// KVM's side of the irqfd: waits for the line to be written, consumes the
/// counter, injects one interrupt. Returns the number of interrupts.
fn kvm(line: OwnedFd, inject: mpsc::Sender<()>, done: &AtomicBool) -> u64 {
    let mut injected = 0;
    while !done.load(Ordering::Acquire) {
        let mut pfd = libc::pollfd {
            fd: line.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; a 10 ms timeout to look at `done`.
        if unsafe { libc::poll(&mut pfd, 1, 10) } <= 0 {
            continue;
        }
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into a u64 we own; the fd is nonblocking, so
        // a reader that lost a race gets EAGAIN, which we ignore.
        let n = unsafe { libc::read(line.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        if n == 8 && count > 0 {
            injected += 1;
            if inject.send(()).is_err() {
                break;
            }
        }
    }
    injected
}

fn main() {
    let mut requests = 200_000u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--requests", Some(n)) => requests = n,
            _ => {
                println!("usage: irqfd [--requests N]");
                process::exit(if arg == "--help" || arg == "-h" { 0 } else { 2 });
            }
        }
    }

    let line = irq_line();
    let kvm_end = line.try_clone().expect("dup the irq line");
    let (mut tx, mut rx) = match eventsig::builder()
        .capacity(256)
        .eventfd(line)
        .build::<u64>()
    {
        Ok(channel) => channel,
        Err(e) => {
            eprintln!("irqfd: {e}");
            process::exit(2);
        }
    };
    // The line is the receiver's fd: hand it out (it is registered with KVM),
    // which parks the receiver at once.
    let _ = std::os::fd::AsFd::as_fd(&rx);

    let done = AtomicBool::new(false);
    let (inject, interrupted) = mpsc::channel::<()>();
    let started = Instant::now();
    let (completed, config_raises, outcome, injected) = thread::scope(|s| {
        let kvm = s.spawn(|| kvm(kvm_end, inject, &done));
        let device = s.spawn(move || {
            let mut raises = 0u64;
            let mut i = 0;
            while i < requests {
                for _ in 0..BURST.min(requests - i) {
                    // Back-pressure, as a virtqueue has: a full ring waits.
                    let deadline = Instant::now() + STUCK;
                    while tx.free_slots() == 0 {
                        if Instant::now() > deadline {
                            return (i, raises);
                        }
                        thread::yield_now();
                    }
                    tx.send(i).expect("room was checked");
                    i += 1;
                }
                if i % (64 * BURST) == 0 {
                    tx.raise(CONFIG_CHANGED).expect("the guest is alive");
                    raises += 1;
                }
                thread::yield_now(); // the device pauses between bursts
            }
            (i, raises)
        });

        // The guest driver: runs on each interrupt.
        let mut next = 0u64;
        let mut config_reads = 0u64;
        let mut outcome = Ok(());
        while next < requests {
            if interrupted.recv_timeout(STUCK).is_err() {
                outcome = Err(format!("no interrupt for {STUCK:?} at completion {next}"));
                break;
            }
            if !rx.take_signals().is_empty() {
                config_reads += 1;
            }
            // `try_recv` until `Empty`, which parks: the next completion
            // rings the line. (A `drain` that yielded something writes the fd
            // itself so that an epoll caller comes back; on an irqfd that
            // write would be one more interrupt for the guest.)
            while let Ok(d) = rx.try_recv() {
                match d {
                    Delivery::Event(v) if v == next => next += 1,
                    other => {
                        outcome = Err(format!("expected completion {next}, got {other:?}"));
                        break;
                    }
                }
            }
            if outcome.is_err() {
                break;
            }
        }
        let (completed, raises) = device.join().expect("device thread");
        if outcome.is_ok() && raises > 0 && config_reads == 0 && !rx.take_signals().is_empty() {
            config_reads += 1;
        }
        done.store(true, Ordering::Release);
        let injected = kvm.join().expect("kvm thread");
        let outcome = outcome.and_then(|()| {
            if raises > 0 && config_reads == 0 {
                Err("config change raised but never seen".to_string())
            } else {
                Ok(())
            }
        });
        (completed, raises, outcome, injected)
    });
    let stats = rx.stats();
    println!(
        "irqfd: {completed} completions in {:.1?}: {injected} interrupts injected \
         ({:.4} per completion), {config_raises} config changes raised; {stats}",
        started.elapsed(),
        injected as f64 / completed.max(1) as f64,
    );
    let outcome = outcome.and_then(|()| {
        if injected > stats.doorbell_writes + stats.self_rings {
            Err(format!(
                "{injected} interrupts for {} writes",
                stats.doorbell_writes
            ))
        } else if stats.doorbell_writes > stats.parks {
            Err(format!(
                "{} writes for {} parks",
                stats.doorbell_writes, stats.parks
            ))
        } else if completed != requests || stats.delivered != requests {
            Err(format!(
                "{} of {requests} completions delivered",
                stats.delivered
            ))
        } else {
            Ok(())
        }
    });
    match outcome {
        Ok(()) => println!("irqfd: OK: every completion delivered, interrupts coalesced"),
        Err(e) => {
            eprintln!("irqfd: FAILED: {e}");
            process::exit(1);
        }
    }
}
