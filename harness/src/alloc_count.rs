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

/// Width of a size class of the breakdown, in bytes (malloc's alignment).
pub const CLASS_BYTES: usize = 16;
/// Size classes tracked one by one; larger blocks share the last class.
pub const CLASSES: usize = 4096 / CLASS_BYTES + 1;

/// Live blocks per size class while counting; the last class holds every
/// block of 4 KiB or more.
static CLASS_LIVE: [AtomicIsize; CLASSES] = [const { AtomicIsize::new(0) }; CLASSES];
/// Bytes of the live blocks in the last class.
static LARGE_BYTES: AtomicIsize = AtomicIsize::new(0);

/// What a block really occupies. With glibc: its chunk (the usable size
/// plus malloc's size word), the unit `mallinfo2` counts in; elsewhere the
/// size asked for, rounded up to [`CLASS_BYTES`].
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn footprint(ptr: *mut u8, _layout: Layout) -> usize {
    // SAFETY: `ptr` is a live block of the system allocator (glibc's
    // malloc, for every alignment `System` serves).
    let usable = unsafe { libc::malloc_usable_size(ptr.cast()) };
    usable + core::mem::size_of::<usize>()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn footprint(_ptr: *mut u8, layout: Layout) -> usize {
    layout.size().next_multiple_of(CLASS_BYTES)
}

/// Counts a block of the system allocator into (`sign` 1) or out of
/// (`sign` -1) its size class, while counting is on.
#[inline]
fn classify(ptr: *mut u8, layout: Layout, sign: isize) {
    // Relaxed: see `counting`.
    if ptr.is_null() || !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let bytes = footprint(ptr, layout);
    let class = (bytes.div_ceil(CLASS_BYTES)).min(CLASSES - 1);
    // Relaxed: statistics; no memory is published through them.
    CLASS_LIVE[class].fetch_add(sign, Ordering::Relaxed);
    if class == CLASSES - 1 {
        LARGE_BYTES.fetch_add(sign * bytes as isize, Ordering::Relaxed);
    }
}

/// A snapshot of the live blocks by size ([`by_size`]).
#[derive(Clone, Debug)]
pub struct BlockCounts {
    /// Live blocks per class: class `i` holds blocks of `i * CLASS_BYTES`
    /// bytes (rounded up to the class); the last holds every block of
    /// 4 KiB or more.
    pub classes: [isize; CLASSES],
    /// Bytes of the blocks in the last class.
    pub large_bytes: isize,
}

impl BlockCounts {
    /// `(block bytes, blocks)` for each class under 4 KiB.
    pub fn sized(&self) -> impl Iterator<Item = (usize, isize)> + '_ {
        self.classes[..CLASSES - 1]
            .iter()
            .enumerate()
            .map(|(i, &n)| (i * CLASS_BYTES, n))
    }
}

/// Live blocks by size, as counted so far. Differences of two snapshots
/// taken under [`counting`] are what was allocated between them; taking
/// one allocates nothing, so it does not count itself.
pub fn by_size() -> BlockCounts {
    BlockCounts {
        // Relaxed: see `classify`.
        classes: core::array::from_fn(|i| CLASS_LIVE[i].load(Ordering::Relaxed)),
        // Relaxed: see `classify`.
        large_bytes: LARGE_BYTES.load(Ordering::Relaxed),
    }
}

/// Whether block sizes are malloc chunks (glibc) rather than the sizes
/// asked for, rounded up to [`CLASS_BYTES`].
pub const BLOCKS_ARE_CHUNKS: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

/// The system allocator, counting live bytes.
#[derive(Debug)]
pub struct Counting;

// SAFETY: defers every call to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        classify(ptr, layout, 1);
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        classify(ptr, layout, -1);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        classify(ptr, layout, -1);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if new.is_null() {
            // Failed: the old block is still live, nothing changed.
            classify(ptr, layout, 1);
        } else {
            count(new_size as isize - layout.size() as isize);
            if let Ok(grown) = Layout::from_size_align(new_size, layout.align()) {
                classify(new, grown, 1);
            }
        }
        new
    }
}

/// Bytes allocated now (0 when the counting allocator is not installed).
pub fn live_bytes() -> isize {
    // Relaxed: see `Counting::alloc`.
    LIVE_BYTES.load(Ordering::Relaxed)
}
