//! A counting global allocator, for memory per session. The binary installs
//! it; library users and tests that do not install it read zeros.
//!
//! Counting is off unless a measurement turns it on ([`counting`]): a shared
//! counter updated on every allocation would be a contended cache line that
//! penalises the caches that allocate on their hot paths in the throughput
//! workloads. Off, the allocator costs one read of a flag that never changes
//! during a throughput measurement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// Bytes allocated minus bytes freed through [`Counting`] while counting was on.
pub static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

/// Whether [`Counting`] counts.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Runs `f` with counting on (single-threaded measurements only: frees of
/// memory allocated before are counted too, as negative bytes).
pub fn counting<R>(f: impl FnOnce() -> R) -> R {
    // Relaxed: the flag only selects whether to count; the measuring thread
    // reads the counter it updated itself.
    ENABLED.store(true, Ordering::Relaxed);
    let r = f();
    // Relaxed: see above.
    ENABLED.store(false, Ordering::Relaxed);
    r
}

#[inline]
fn count(delta: isize) {
    // Relaxed: see `counting`.
    if ENABLED.load(Ordering::Relaxed) {
        // Relaxed: a statistic; no memory is published through it.
        LIVE_BYTES.fetch_add(delta, Ordering::Relaxed);
    }
}

/// The system allocator, counting live bytes.
#[derive(Debug)]
pub struct Counting;

// SAFETY: defers every call to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Relaxed: see `alloc`.
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Bytes allocated now (0 when the counting allocator is not installed).
pub fn live_bytes() -> isize {
    // Relaxed: see `Counting::alloc`.
    LIVE_BYTES.load(Ordering::Relaxed)
}
