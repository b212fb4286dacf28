//! The signal numbers the bridge raises: one per kind of state the monitor
//! re-polls. A signal says "this changed, look at it"; raises merge and are
//! never lost, however full the event ring is.

use eventsig::{Signal, SignalSet};

/// `STOP`: the VM stopped. Re-poll `query-status` (and `query-block`: an
/// I/O error stop says why there).
pub const VM_STOPPED: Signal = signal(0);
/// `RESUME`: the VM runs again. Re-poll `query-status`.
pub const VM_RESUMED: Signal = signal(1);
/// `SHUTDOWN`: the VM or QEMU is going down. Re-poll `query-status`.
pub const VM_SHUTDOWN: Signal = signal(2);
/// `BLOCK_IO_ERROR`: a disk request failed. Re-poll `query-block`.
pub const BLOCK_IO_ERROR: Signal = signal(3);
/// The VNC class fallback: a VNC event did not fit in the ring. Re-poll
/// `query-vnc`. (The channel's overflow says the same; this signal names
/// the class of the lost events.)
pub const VNC_DROPPED: Signal = signal(4);
/// A QMP line could not be understood: it may have been any event, so
/// re-poll everything.
pub const RESYNC: Signal = signal(5);

/// Signals after which the run state is re-polled.
pub const RUN_STATE: SignalSet = SignalSet::EMPTY
    .with(VM_STOPPED)
    .with(VM_RESUMED)
    .with(VM_SHUTDOWN)
    .with(RESYNC);

const fn signal(n: u32) -> Signal {
    match Signal::new(n) {
        Ok(s) => s,
        Err(_) => panic!("signal numbers are below 64"),
    }
}

/// The name of one of the signals above (`signal N` for others).
///
/// ```
/// assert_eq!(eventsig_qmp::signals::name(eventsig_qmp::signals::VM_STOPPED), "vm-stopped");
/// ```
pub fn name(s: Signal) -> String {
    match s {
        VM_STOPPED => "vm-stopped".into(),
        VM_RESUMED => "vm-resumed".into(),
        VM_SHUTDOWN => "vm-shutdown".into(),
        BLOCK_IO_ERROR => "block-io-error".into(),
        VNC_DROPPED => "vnc-dropped".into(),
        RESYNC => "resync".into(),
        other => format!("signal {}", other.number()),
    }
}

/// The names of a set, as `{a, b}`.
///
/// ```
/// use eventsig_qmp::signals::{names, VM_STOPPED, BLOCK_IO_ERROR};
/// use eventsig::SignalSet;
/// assert_eq!(names(SignalSet::from(VM_STOPPED) | BLOCK_IO_ERROR), "{vm-stopped, block-io-error}");
/// ```
pub fn names(set: SignalSet) -> String {
    let names: Vec<String> = set.iter().map(name).collect();
    format!("{{{}}}", names.join(", "))
}
