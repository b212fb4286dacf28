//! The seed story on a real QEMU, with assertions: a VNC flood into a small
//! ring while the monitor is away, then a real ENOSPC stop. Also QEMU dying
//! under the bridge.
//!
//! Needs `qemu-system-x86_64` (Debian: `qemu-system-x86`) or
//! `$QEMU_SYSTEM_X86_64`; without it each test prints
//! `SKIPPED: qemu: not installed` and passes. QEMU is killed when its
//! `QemuVm` is dropped, also when an assertion fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use eventsig_qmp::qemu::{self, QemuVm, DISK};
use eventsig_qmp::vnc::{self, VncConsole};
use eventsig_qmp::{signals, Bridge, BridgeEnd, BridgeStats, Monitor, View, VncEvent};

const PAIRS: u64 = 1000;
const CAPACITY: usize = 64;
const STEP: Duration = Duration::from_secs(60);
const VNC_TIMEOUT: Duration = Duration::from_secs(5);

fn qemu_or_skip() -> Option<PathBuf> {
    let found = qemu::find_qemu();
    if found.is_none() {
        println!("SKIPPED: qemu: not installed");
    }
    found
}

fn wait(bridge: &Bridge, done: impl FnMut(&BridgeStats) -> bool, what: &str) -> BridgeStats {
    match bridge.wait_for(done, STEP) {
        Some(stats) => stats,
        None => panic!("timed out waiting for {what}; bridge: {:?}", bridge.stats()),
    }
}

/// QEMU, the bridge on one QMP connection and the monitor on the other.
fn start(qemu: &Path) -> (QemuVm, Bridge, Monitor) {
    let vm = QemuVm::launch(qemu).unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = eventsig::channel::<VncEvent>(CAPACITY).unwrap();
    let bridge = Bridge::spawn(vm.connect_events().unwrap(), tx).unwrap();
    let monitor = Monitor::new(rx, vm.connect_control().unwrap()).unwrap();
    (vm, bridge, monitor)
}

fn ports(view: &View) -> Vec<String> {
    view.clients.iter().map(|c| c.service.clone()).collect()
}

#[test]
fn vnc_flood_then_enospc_stop() {
    let Some(qemu) = qemu_or_skip() else { return };
    let (mut vm, bridge, mut monitor) = start(&qemu);

    // On start the monitor re-polled: events before the handshake are lost.
    let view = monitor.view();
    assert_eq!(view.repolls, [1, 1, 1], "{:?}", view.repoll_errors);
    assert_eq!(
        view.status.as_ref().map(|s| s.status.as_str()),
        Some("prelaunch")
    );
    assert!(view
        .blocks
        .iter()
        .any(|b| b.device == DISK && !b.is_nospace()));
    assert!(view.clients.is_empty());

    // Away: the flood, the operator's console, then the stop.
    vnc::flood(vm.vnc_port(), PAIRS, VNC_TIMEOUT).unwrap();
    let flood = wait(&bridge, |s| s.vnc_events >= 2 * PAIRS, "the flood");
    assert_eq!(
        (flood.vnc_connected, flood.vnc_disconnected),
        (PAIRS, PAIRS)
    );
    assert_eq!(flood.vnc_sent, CAPACITY as u64);
    let console = VncConsole::open(vm.vnc_port(), VNC_TIMEOUT).unwrap();
    let console_port = console.local_port().unwrap().to_string();
    wait(&bridge, |s| s.vnc_initialized == 1, "VNC_INITIALIZED");
    monitor.qmp().unwrap().cont().unwrap();
    let stopped = wait(
        &bridge,
        |s| s.stops >= 1 && s.block_io_errors >= 1,
        "the STOP",
    );
    assert!(stopped.nospace_errors >= 1);

    // Back: the stop and its cause, always.
    assert!(monitor.run_until(View::knew_enospc_stop, STEP).unwrap());
    let view = monitor.view().clone();
    assert!(view.signals.contains(signals::VM_STOPPED));
    assert!(view.signals.contains(signals::BLOCK_IO_ERROR));
    assert!(view.signals.contains(signals::VNC_DROPPED));
    assert_eq!(
        view.status.as_ref().map(|s| s.status.as_str()),
        Some("io-error")
    );
    assert!(view
        .blocks
        .iter()
        .any(|b| b.device == DISK && b.is_nospace()));
    // The ring held the first 64 VNC events; one gap right after them
    // covers the rest of what the bridge had read.
    assert_eq!(view.delivered, CAPACITY as u64);
    assert_eq!(
        view.gaps,
        [(CAPACITY as u64, stopped.vnc_events - CAPACITY as u64)]
    );
    assert_eq!(view.delivered + view.lost, stopped.vnc_events);
    assert_eq!(view.misplaced, 0);
    // The client list was re-polled on the overflow, and it is the truth:
    // only the console (whose VNC_CONNECTED was dropped) is connected.
    assert_eq!(ports(&view), [console_port]);
    assert_eq!(view.overflows_acknowledged, 1);

    // The console leaves: this event fits, and the list follows it.
    drop(console);
    assert!(monitor
        .run_until(|v| v.delivered_by_kind[2] > view.delivered_by_kind[2], STEP)
        .unwrap());
    assert!(monitor.view().clients.is_empty());
    assert!(monitor
        .qmp()
        .unwrap()
        .query_vnc()
        .unwrap()
        .clients
        .is_empty());

    // QEMU quits: SHUTDOWN is a signal, then the channel closes.
    monitor.qmp().unwrap().quit().unwrap();
    assert!(vm.wait_exit(STEP).unwrap().is_some(), "QEMU did not exit");
    assert!(monitor.run_until(|v| v.closed, STEP).unwrap());
    let report = bridge.join();
    assert!(matches!(report.end, BridgeEnd::Closed), "{}", report.end);
    let end = monitor.view();
    assert!(end.signals.contains(signals::VM_SHUTDOWN));
    // Counted on the QMP side: every VNC event the bridge read was
    // delivered or lost in a gap, nothing else.
    let s = report.stats;
    assert_eq!(s.vnc_events, 2 * PAIRS + 3, "{s:?}");
    assert_eq!(end.delivered + end.lost, s.vnc_events);
    assert_eq!(end.lost, s.vnc_dropped);
    assert_eq!(end.gaps.iter().map(|g| g.1).sum::<u64>(), end.lost);
    assert_eq!(end.misplaced, 0);
    assert_eq!((s.bad_lines, s.stops, s.shutdowns), (0, 1, 1));
}

#[test]
fn qemu_dying_keeps_the_signals_already_raised() {
    let Some(qemu) = qemu_or_skip() else { return };
    let (mut vm, bridge, mut monitor) = start(&qemu);

    // The VM stops on ENOSPC while the monitor is away; then QEMU dies.
    monitor.qmp().unwrap().cont().unwrap();
    wait(&bridge, |s| s.stops >= 1, "the STOP");
    vm.kill().unwrap();
    let report = bridge.join();
    assert!(
        matches!(report.end, BridgeEnd::Closed | BridgeEnd::Failed(_)),
        "{}",
        report.end
    );

    // The monitor comes back to a dead VM: the stop it was told about is
    // still there, the close follows, and re-polling fails without a panic.
    assert!(monitor.run_until(|v| v.closed, STEP).unwrap());
    let view = monitor.view();
    assert!(view.signals.contains(signals::VM_STOPPED));
    assert!(view.signals.contains(signals::BLOCK_IO_ERROR));
    assert_eq!(view.stop_signals, 1);
    assert!(!view.repoll_errors.is_empty());
    assert!(monitor.qmp().is_none());
}
