//! Panics held until an operation is over.
//!
//! A callback (`on_remove`, `on_new`) or a value's `drop` may panic in the
//! middle of an operation that touches many sessions (a flush, a store that
//! evicts). The operation keeps the first panic, finishes every step, so
//! that nothing is left half removed or unreported, and then resumes it.
//! Each step, and each drop of a removed session, runs outside any
//! unwinding, so a second panicking `drop` is caught like the first
//! instead of aborting the process.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use crate::sync::epoch::{self, Guard};

/// The first panic an operation met, if any.
pub(crate) type HeldPanic = Option<Box<dyn Any + Send>>;

/// Runs `f`; if it panics, keeps the panic in `first` unless an earlier one
/// is already there, so the caller can finish its work and resume it.
pub(crate) fn catch_first_panic(first: &mut HeldPanic, f: impl FnOnce()) {
    if let Err(p) = panic::catch_unwind(AssertUnwindSafe(f)) {
        first.get_or_insert(p);
    }
}

/// `epoch::pin()`, keeping a panic it raises in `first` (see
/// [`catch_first_panic`]) and pinning again. Pinning may run the epoch's
/// garbage, whose frees run the `drop` of values removed by any thread; a
/// panicking one unwinds out of the pin after it unpinned, and the bag of
/// deferred functions it panicked in is gone from the garbage (the rest of
/// that bag is never run: leaked), so each retry gets further.
pub(crate) fn pin_holding_panic(first: &mut HeldPanic) -> Guard {
    loop {
        match panic::catch_unwind(epoch::pin) {
            Ok(guard) => return guard,
            Err(p) => {
                first.get_or_insert(p);
            }
        }
    }
}

/// Drops `held` (a value's `drop` in it may panic too), then resumes the
/// panic `p`: nothing is dropped while `p` unwinds. A second panic from
/// the drop is forgotten, payload and all, for the same reason.
pub(crate) fn drop_then_resume<T>(held: T, p: Box<dyn Any + Send>) -> ! {
    if let Err(second) = panic::catch_unwind(AssertUnwindSafe(|| drop(held))) {
        core::mem::forget(second);
    }
    panic::resume_unwind(p)
}
