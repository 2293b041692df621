//! The one place where the engine gets its synchronisation primitives.
//!
//! Every atomic, the epoch collector and the thread-local used by the engine
//! come through this module, so that a model checker can replace all of them
//! at once. A normal build re-exports `std` and `crossbeam-epoch`; a build
//! with `RUSTFLAGS="--cfg sesscache_loom --cfg crossbeam_loom"` (and
//! crossbeam-epoch's `loom` feature) re-exports loom's primitives instead, so
//! loom explores every interleaving of the engine's own protocol, including
//! crossbeam-epoch's pins and deferred frees.

#[cfg(not(sesscache_loom))]
mod imp {
    pub(crate) use std::sync::atomic::{
        AtomicBool, AtomicIsize, AtomicPtr, AtomicU64, AtomicUsize,
    };
}

#[cfg(sesscache_loom)]
mod imp {
    pub(crate) use loom::sync::atomic::{
        AtomicBool, AtomicIsize, AtomicPtr, AtomicU64, AtomicUsize,
    };
}

pub(crate) use core::sync::atomic::Ordering;
pub(crate) use imp::*;

/// The epoch-based reclamation scheme (Fraser 2004, as implemented by
/// crossbeam-epoch). Under `sesscache_loom` this is the same crate compiled
/// with its `loom` feature, so its atomics are loom's too.
pub(crate) mod epoch {
    pub(crate) use crossbeam_epoch::{pin, unprotected, Atomic, Guard, Owned, Shared};
}

/// Which stripe of the striped statistics counters this thread writes.
///
/// Threads are numbered round-robin on first use, so up to `stripes` threads
/// write distinct cache lines. Any stripe is correct; the choice only spreads
/// contention. Under loom every thread uses stripe 0, which keeps the models
/// deterministic.
#[cfg(not(sesscache_loom))]
pub(crate) fn thread_stripe() -> usize {
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    static NEXT: StdAtomicUsize = StdAtomicUsize::new(0);
    std::thread_local! {
        // Relaxed: a ticket counter; only its atomicity matters.
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    STRIPE.with(|s| *s)
}

#[cfg(sesscache_loom)]
pub(crate) fn thread_stripe() -> usize {
    0
}

/// Asks the processor to start loading the cache line at `p`, so a later
/// read of it does not wait for memory. Only a hint: nothing is read, any
/// address (even a dangling or null one) is allowed, and it never faults.
/// A no-op under the model checker, under Miri and off x86-64.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(all(target_arch = "x86_64", not(sesscache_loom), not(miri)))]
    // SAFETY: `prefetcht0` needs only SSE, which every x86-64 processor has;
    // it does not access memory in the language's sense, so the pointer need
    // not be valid.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(all(target_arch = "x86_64", not(sesscache_loom), not(miri))))]
    let _ = p;
}
