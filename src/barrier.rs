//! The StoreLoad barrier of the wake-up protocol, made asymmetric.
//!
//! The protocol (see `doorbell.rs`) needs a full barrier between a producer's
//! publication and its load of the park flag, and between the consumer's
//! store of the park flag and its re-check. Producers run it on every send
//! and raise; the consumer only when it is about to sleep. So the cost is put
//! on the consumer's side:
//!
//! - **light** (producer): a compiler fence only: the compiler keeps the
//!   publication before the load in program order, and emits no instruction.
//! - **heavy** (consumer): `membarrier(2)` with
//!   `MEMBARRIER_CMD_PRIVATE_EXPEDITED`, which returns only after every other
//!   running thread of the process has passed a full memory barrier.
//!
//! Why no wake-up is lost: the consumer stores the flag, then the membarrier
//! puts a full barrier into each producer's instruction stream at some point
//! P. If the producer's publication comes before P in its program order, the
//! barrier at P made it visible before the membarrier returned, so the
//! consumer's re-check (after the call) sees it. If it comes after P, so does
//! the producer's load of the flag, which then sees the consumer's store
//! (visible before P, since the caller's side of membarrier is a full barrier
//! too). This is the argument of folly's `asymmetricHeavyBarrier` and of the
//! kernel's own use of membarrier; it is not expressible in the C++ memory
//! model, which is why loom checks the symmetric fallback below.
//!
//! **Fallback** (no membarrier: old kernel, seccomp, Miri, loom, or
//! `EVENTSIG_NO_MEMBARRIER=1` in the environment): `fence(SeqCst)` on both
//! sides. A channel chooses its mode once, when it is built.

use crate::sync::{fence, Ordering};

/// Which barrier pair a channel uses; fixed when the channel is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Barrier {
    /// Compiler fence on the producer, `membarrier(2)` on the consumer.
    Asymmetric,
    /// `fence(SeqCst)` on both sides.
    Symmetric,
}

impl Barrier {
    /// The best mode this process supports.
    pub(crate) fn detect() -> Barrier {
        if membarrier::available() {
            Barrier::Asymmetric
        } else {
            Barrier::Symmetric
        }
    }

    /// Producer side: between the publication and the load of the park flag.
    #[inline(always)]
    pub(crate) fn light(self) {
        match self {
            // A compiler fence: the heavy side supplies the hardware barrier.
            Barrier::Asymmetric => std::sync::atomic::compiler_fence(Ordering::SeqCst),
            // SeqCst fence: pairs with the fence in `heavy`.
            Barrier::Symmetric => fence(Ordering::SeqCst),
        }
    }

    /// Consumer side: between the store of the park flag and the re-check.
    pub(crate) fn heavy(self) {
        match self {
            Barrier::Asymmetric => membarrier::private_expedited(),
            // SeqCst fence: pairs with the fence in `light`.
            Barrier::Symmetric => fence(Ordering::SeqCst),
        }
    }
}

#[cfg(not(any(miri, eventsig_loom)))]
mod membarrier {
    use std::sync::OnceLock;

    // From <linux/membarrier.h>.
    const CMD_QUERY: libc::c_long = 0;
    const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier(cmd: libc::c_long) -> libc::c_long {
        // SAFETY: membarrier takes two integers and no pointer; the caller
        // checks the return value.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long) }
    }

    /// Whether private expedited membarrier is usable, registering this
    /// process for it the first time (`membarrier(2)`: the registration is
    /// needed once per process before the command may be used).
    pub(super) fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            if std::env::var_os("EVENTSIG_NO_MEMBARRIER").is_some_and(|v| v == "1") {
                return false;
            }
            let supported = membarrier(CMD_QUERY);
            supported >= 0
                && supported & CMD_PRIVATE_EXPEDITED != 0
                && membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
        })
    }

    pub(super) fn private_expedited() {
        // Cannot fail once the process is registered (`available` checked
        // that before any channel chose this mode): the command is valid and
        // takes no pointer. Should a kernel refuse it anyway, the fence below
        // at least orders this thread's side.
        if membarrier(CMD_PRIVATE_EXPEDITED) != 0 {
            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[cfg(any(miri, eventsig_loom))]
mod membarrier {
    pub(super) fn available() -> bool {
        false
    }

    pub(super) fn private_expedited() {
        unreachable!("no channel uses membarrier under Miri or loom")
    }
}

#[cfg(all(test, not(any(miri, eventsig_loom))))]
mod tests {
    use super::*;

    #[test]
    fn detection_is_stable_and_the_heavy_barrier_returns() {
        let mode = Barrier::detect();
        assert_eq!(mode, Barrier::detect());
        mode.light();
        mode.heavy();
        Barrier::Symmetric.heavy();
    }
}
