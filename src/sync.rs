//! The only place that names the atomic types the crate uses.
//!
//! Every atomic protocol in eventsig goes through this module. Under
//! `--cfg eventsig_loom` the re-exports are loom's model-checked types and the
//! eventfd doorbell is a model ([`Bell`]) built on loom's `Mutex`/`Condvar`,
//! so loom explores the very code that ships: publish, ring, park, wake.

#[cfg(not(eventsig_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(eventsig_loom))]
pub(crate) use std::sync::Arc;

#[cfg(eventsig_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(eventsig_loom)]
pub(crate) use loom::sync::Arc;

/// The doorbell's kernel object: a real eventfd.
#[cfg(not(eventsig_loom))]
pub(crate) use crate::eventfd::EventFd as Bell;

/// An `UnsafeCell` whose access goes through closures, the shape loom's
/// `UnsafeCell` has, so the ring's slot accesses are model-checked too.
///
/// `repr(transparent)`, like `std::cell::UnsafeCell`: a slice of these is laid
/// out as a slice of `T` (the ring's runs rely on it).
#[cfg(not(eventsig_loom))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(eventsig_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer that may be written through while the caller
    /// has exclusive access to the cell by the protocol that guards it.
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(eventsig_loom)]
pub(crate) use loom::cell::UnsafeCell;

#[cfg(eventsig_loom)]
pub(crate) use model::Bell;

/// The eventfd, modelled for loom: a counter under a mutex, and a condvar
/// for `wait`. A lost wake-up shows up as loom's deadlock report: every
/// thread blocked, the receiver in `wait` with nobody left to ring.
#[cfg(eventsig_loom)]
mod model {
    use std::io;
    use std::time::Duration;

    use loom::sync::{Condvar, Mutex};

    #[derive(Debug)]
    pub(crate) struct Bell {
        count: Mutex<u64>,
        readable: Condvar,
    }

    impl Bell {
        pub(crate) fn new() -> io::Result<Bell> {
            Ok(Bell {
                count: Mutex::new(0),
                readable: Condvar::new(),
            })
        }

        pub(crate) fn notify(&self) -> io::Result<()> {
            let mut count = self.count.lock().unwrap();
            *count += 1;
            self.readable.notify_all();
            Ok(())
        }

        pub(crate) fn clear(&self) -> io::Result<u64> {
            let mut count = self.count.lock().unwrap();
            Ok(std::mem::take(&mut *count))
        }

        /// Blocks until the counter is nonzero. The timeout is ignored: a
        /// model run must not be able to time its way out of a lost wake-up.
        pub(crate) fn wait(&self, _timeout: Option<Duration>) -> io::Result<bool> {
            let mut count = self.count.lock().unwrap();
            while *count == 0 {
                count = self.readable.wait(count).unwrap();
            }
            Ok(true)
        }
    }
}
