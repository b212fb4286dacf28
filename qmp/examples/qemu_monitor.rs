//! `qemu_monitor`: eventsig's seed story on a real QEMU.
//!
//! A monitor watches a VM through one eventsig channel fed by a QMP bridge:
//! run-state changes and disk errors arrive as signals, VNC client events as
//! queued events in a small ring (64 by default).
//!
//! 1. QEMU starts paused; its disk fails every write with ENOSPC
//!    (`blkdebug`, `werror=enospc`), and its boot sector does nothing but
//!    write to that disk.
//! 2. The monitor starts by re-polling the VM, then goes away.
//! 3. A flapping VNC client connects and disconnects 1000 times; then the
//!    operator opens a VNC console and the VM is started (`cont`). The guest
//!    writes, the write fails with ENOSPC, and the VM stops.
//! 4. The monitor comes back. It must know that the VM stopped on ENOSPC,
//!    how many VNC events it missed and where, and who is connected now.
//! 5. The operator leaves, QEMU is told to quit; every VNC event the bridge
//!    read is accounted for: delivered or in a gap.
//!
//! Exit status 1 if the stop was missed or any account is off, 2 if QEMU
//! cannot be run. Every wait is bounded.
//!
//! ```text
//! cd qmp && cargo run --release --example qemu_monitor
//! cd qmp && cargo run --release --example qemu_monitor -- --pairs 200 --capacity 16
//! ```

use std::error::Error;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use eventsig_qmp::qemu::{self, QemuVm, DISK};
use eventsig_qmp::vnc::{self, VncConsole};
use eventsig_qmp::{signals, Bridge, BridgeStats, Monitor, View, VncEvent};

/// Longest wait for any one step (QEMU booting under TCG, the flood).
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// Per VNC connection.
const VNC_TIMEOUT: Duration = Duration::from_secs(5);
/// Gaps listed by position; the rest are counted.
const GAPS_SHOWN: usize = 6;

const USAGE: &str = "\
usage: cargo run --release --example qemu_monitor -- [--pairs N] [--capacity N]

  --pairs N     VNC connect/disconnect pairs in the flood (default 1000)
  --capacity N  event ring capacity (default 64)

Needs qemu-system-x86_64 (Debian: qemu-system-x86), or $QEMU_SYSTEM_X86_64.
Exit status: 0 when the monitor lost no state, 1 when it did, 2 when QEMU
could not be run or on bad arguments.";

struct Options {
    pairs: u64,
    capacity: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        pairs: 1000,
        capacity: 64,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|&v| v > 0)
                .ok_or(format!("{arg} needs a positive number"))
        };
        match arg.as_str() {
            "--pairs" => opts.pairs = value()?,
            "--capacity" => opts.capacity = value()? as usize,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("qemu_monitor: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some(qemu) = qemu::find_qemu() else {
        eprintln!(
            "qemu_monitor: qemu-system-x86_64 not found: install it (Debian: apt-get install qemu-system-x86) or set {}",
            qemu::QEMU_ENV
        );
        return ExitCode::from(2);
    };
    let mut vm = match QemuVm::launch(&qemu) {
        Ok(vm) => vm,
        Err(e) => {
            eprintln!("qemu_monitor: {e}");
            return ExitCode::from(2);
        }
    };
    match story(&mut vm, &opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("qemu_monitor: {e}");
            let stderr = vm.stderr();
            if !stderr.trim().is_empty() {
                eprintln!("QEMU's stderr:\n{}", stderr.trim());
            }
            ExitCode::from(1)
        }
    }
    // `vm` is dropped here: QEMU is killed if it still runs.
}

struct Clock(Instant);

impl Clock {
    fn say(&self, what: impl AsRef<str>) {
        println!(
            "[{:6.2} s] {}",
            self.0.elapsed().as_secs_f64(),
            what.as_ref()
        );
    }
}

fn story(vm: &mut QemuVm, opts: &Options) -> Result<bool, Box<dyn Error>> {
    let clock = Clock(Instant::now());
    let port = vm.vnc_port();

    // 1. The bridge, on its own QMP connection.
    let events = vm.connect_events()?;
    let version = events
        .greeting()
        .version
        .map(|(a, b, c)| format!("{a}.{b}.{c}"))
        .unwrap_or_else(|| "?".into());
    clock.say(format!(
        "QEMU {version} started paused (-S): VNC on 127.0.0.1:{port}, drive {DISK} through blkdebug \
         (every write fails with errno 28, ENOSPC; werror=enospc), temp dir {}",
        vm.dir().display()
    ));
    let (tx, rx) = eventsig::channel::<VncEvent>(opts.capacity)?;
    let bridge = Bridge::spawn(events, tx)?;
    clock.say(format!(
        "bridge: reading QMP events; VNC events go to a ring of {}",
        opts.capacity
    ));

    // 2. The monitor starts by re-polling, then goes away.
    let mut monitor = Monitor::new(rx, vm.connect_control()?)?;
    clock.say(format!(
        "monitor: started; re-polled: {}",
        state(monitor.view())
    ));
    clock.say("monitor: away (not servicing its receiver)");

    // 3. The flood, the operator's console, the guest's disk write.
    vnc::flood(port, opts.pairs, VNC_TIMEOUT)?;
    let flood_events = 2 * opts.pairs;
    let read = wait(
        &bridge,
        |s| s.vnc_events >= flood_events,
        "the flood's VNC events",
    )?;
    clock.say(format!(
        "flood: {} VNC connect/disconnect pairs; bridge read {} VNC events: {} queued, {} dropped",
        opts.pairs, read.vnc_events, read.vnc_sent, read.vnc_dropped
    ));
    let console = VncConsole::open(port, VNC_TIMEOUT)?;
    let console_port = console.local_port()?.to_string();
    wait(
        &bridge,
        |s| s.vnc_initialized >= 1,
        "the console's VNC_INITIALIZED",
    )?;
    clock.say(format!(
        "operator: VNC console 127.0.0.1:{console_port} connected and initialized ({}x{}, \"{}\")",
        console.size.0, console.size.1, console.name
    ));
    monitor.qmp().ok_or("no QMP command connection")?.cont()?;
    clock.say("operator: cont; the guest boots and writes to its disk");
    let read = wait(
        &bridge,
        |s| s.stops >= 1 && s.block_io_errors >= 1,
        "the STOP",
    )?;
    clock.say(format!(
        "bridge: read RESUME x{}, BLOCK_IO_ERROR x{} (nospace x{}), STOP x{}",
        read.resumes, read.block_io_errors, read.nospace_errors, read.stops
    ));

    // 4. The monitor comes back.
    clock.say("monitor: back");
    monitor.run_until(View::knew_enospc_stop, STEP_TIMEOUT)?;
    let view = monitor.view().clone();
    clock.say(format!(
        "monitor: signals {}; {} VNC events delivered, {} lost; re-polled: {}",
        signals::names(view.signals),
        view.delivered,
        view.lost,
        state(&view)
    ));
    let knew = view.knew_enospc_stop();
    let clients: Vec<String> = view
        .clients
        .iter()
        .map(|c| format!("{}:{}", c.host, c.service))
        .collect();
    let clients_ok = clients == [format!("127.0.0.1:{console_port}")];

    // 5. The operator leaves, QEMU quits; the accounts are settled.
    drop(console);
    monitor.run_until(
        |v| v.delivered_by_kind[2] > view.delivered_by_kind[2],
        STEP_TIMEOUT,
    )?;
    let after_leave: Vec<String> = monitor
        .view()
        .clients
        .iter()
        .map(|c| c.service.clone())
        .collect();
    let polled = monitor
        .qmp()
        .ok_or("no QMP command connection")?
        .query_vnc()?;
    clock.say(format!(
        "operator: console closed; monitor's client list from the event: {after_leave:?}; query-vnc: {:?}",
        polled.clients.iter().map(|c| &c.service).collect::<Vec<_>>()
    ));
    let leave_ok = after_leave.is_empty() && polled.clients.is_empty();
    let errors_before_quit = monitor.view().repoll_errors.len();
    monitor.qmp().ok_or("no QMP command connection")?.quit()?;
    let status = vm.wait_exit(STEP_TIMEOUT)?;
    monitor.run_until(|v| v.closed, STEP_TIMEOUT)?;
    let report = bridge.join();
    let end = monitor.view().clone();
    clock.say(format!(
        "operator: quit; QEMU exited ({}); bridge: {}; monitor: signals {}, channel closed: {}",
        status.map_or("still running".into(), |s| s.to_string()),
        report.end,
        signals::names(end.signals),
        end.closed
    ));

    let stats = report.stats;
    let accounted = end.delivered + end.lost == stats.vnc_events && end.lost == stats.vnc_dropped;
    let rx_stats = monitor.receiver_stats();
    println!();
    println!("=== what the monitor knew when it came back ===");
    println!(
        "VM stopped on ENOSPC:   {}  (STOP signal taken: {}; query-status: {}; {DISK} io-status: {})",
        yes(knew),
        yes(view.stop_signals > 0),
        view.status.as_ref().map_or("?", |s| s.status.as_str()),
        view.blocks
            .iter()
            .find(|b| b.device == DISK)
            .and_then(|b| b.io_status.as_deref())
            .unwrap_or("?"),
    );
    println!(
        "VNC events:             {} delivered, {} lost, of {} the bridge had read",
        view.delivered, view.lost, read.vnc_events
    );
    println!("gaps (first, count):    {}", gaps(&view.gaps));
    let source = if view.overflows_acknowledged > 0 {
        "re-polled on overflow"
    } else {
        "from events, no overflow"
    };
    println!(
        "VNC clients ({source}): {:?}  (the operator's console is {console_port}: {})",
        clients,
        if clients_ok { "matches" } else { "MISMATCH" }
    );
    println!(
        "overflows acknowledged: {} (after query-vnc)",
        view.overflows_acknowledged
    );
    println!();
    println!("=== accounts at the end ===");
    println!(
        "bridge read from QMP:   {} VNC events ({} connected, {} initialized, {} disconnected), {} STOP, {} RESUME, {} SHUTDOWN, {} BLOCK_IO_ERROR, {} other events, {} bad lines",
        stats.vnc_events,
        stats.vnc_connected,
        stats.vnc_initialized,
        stats.vnc_disconnected,
        stats.stops,
        stats.resumes,
        stats.shutdowns,
        stats.block_io_errors,
        stats.other_events,
        stats.bad_lines
    );
    println!(
        "monitor got:            {} delivered + {} lost = {} ({}); out of place: {}",
        end.delivered,
        end.lost,
        end.delivered + end.lost,
        if accounted {
            "all accounted for"
        } else {
            "MISMATCH"
        },
        end.misplaced
    );
    println!("all gaps:               {}", gaps(&end.gaps));
    println!(
        "client list after the console left: events {after_leave:?}, query-vnc {:?} ({})",
        polled.clients,
        if leave_ok { "both empty" } else { "MISMATCH" }
    );
    println!(
        "receiver:               {} wake-ups, {} eventfd writes for {} send attempts and {} signal raises",
        end.wakeups, rx_stats.doorbell_writes, rx_stats.sent, rx_stats.raised
    );
    let (before, after) = end.repoll_errors.split_at(errors_before_quit);
    println!(
        "re-polls:               status {}, block {}, vnc {}; failed before quit: {before:?}; \
         after quit (QEMU gone, expected): {after:?}",
        end.repolls[0], end.repolls[1], end.repolls[2]
    );

    let ok = knew && accounted && clients_ok && leave_ok && end.misplaced == 0;
    println!();
    if ok {
        println!("OK: the stop was not missed and no state was lost");
    } else if !knew {
        println!("FAILED: the monitor missed the ENOSPC stop");
    } else {
        println!("FAILED: some state was lost (see MISMATCH above)");
    }
    Ok(ok)
}

fn wait(
    bridge: &Bridge,
    done: impl FnMut(&BridgeStats) -> bool,
    what: &str,
) -> Result<BridgeStats, String> {
    bridge.wait_for(done, STEP_TIMEOUT).ok_or_else(|| {
        format!(
            "timed out after {STEP_TIMEOUT:?} waiting for {what}; bridge: {:?}",
            bridge.stats()
        )
    })
}

fn state(view: &View) -> String {
    let status = view.status.as_ref().map_or("?", |s| s.status.as_str());
    let blocks: Vec<String> = view
        .blocks
        .iter()
        .map(|b| {
            format!(
                "{} io-status {}",
                b.device,
                b.io_status.as_deref().unwrap_or("-")
            )
        })
        .collect();
    format!(
        "status {status}, {}, {} VNC clients",
        blocks.join(", "),
        view.clients.len()
    )
}

fn gaps(gaps: &[(u64, u64)]) -> String {
    let mut shown: Vec<String> = gaps
        .iter()
        .take(GAPS_SHOWN)
        .map(|(first, count)| format!("({first}, {count})"))
        .collect();
    if gaps.len() > GAPS_SHOWN {
        shown.push(format!("... {} more", gaps.len() - GAPS_SHOWN));
    }
    if shown.is_empty() {
        "none".into()
    } else {
        shown.join(" ")
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "NO"
    }
}
