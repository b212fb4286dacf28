//! The only place that names the atomic types the crate uses.
//!
//! Every atomic protocol in eventsig goes through this module, so that the
//! verification work can swap these re-exports for loom's model-checked ones
//! under `cfg(eventsig_loom)` and check the very code that ships.

pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
pub(crate) use std::sync::Arc;

/// An `UnsafeCell` whose access goes through closures, the shape loom's
/// `UnsafeCell` has, so the ring's slot accesses can be model-checked too.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

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
