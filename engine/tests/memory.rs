//! Memory comes back: after a large flush, every session, entry, map node
//! and index node is freed through the epoch; what stays is the hash table's
//! bucket directory, sized by the most sessions ever held. Dropping the cache
//! returns that too. Counted with a counting global allocator; this file
//! holds one test so no other test allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use sesscache::{Session, SessionCache};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: defers to the system allocator and only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: same layout contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

/// Lets the epoch collector run until nothing more comes back.
fn collect() {
    let mut last = live();
    let mut still = 0;
    for _ in 0..100_000 {
        crossbeam_epoch::pin().flush();
        let now = live();
        if now == last {
            still += 1;
            if still > 300 {
                break;
            }
        } else {
            still = 0;
            last = now;
        }
    }
}

const SESSIONS: u32 = 200_000;
const VALUE: usize = 256;

#[test]
fn memory_returns_after_a_large_flush_and_after_drop() {
    collect();
    let baseline = live();
    let cache: SessionCache<Vec<u8>> = SessionCache::builder().capacity(0).build();
    for i in 0..SESSIONS {
        let id = [i.to_be_bytes(); 8].concat();
        cache.add(&Arc::new(
            Session::new(&id, 0, 100, vec![0u8; VALUE]).unwrap(),
        ));
    }
    collect();
    let full = live() - baseline;
    let payload = (SESSIONS as usize * VALUE) as isize;
    assert!(full > payload, "the sessions are counted: {full}");
    let per_session = (full - payload) as f64 / f64::from(SESSIONS);
    eprintln!("bytes per cached session beyond the value: {per_session:.0}");

    assert_eq!(cache.flush(0), SESSIONS as usize);
    collect();
    let after_flush = live() - baseline;
    let (map, index, buckets) = cache.debug_sizes();
    assert_eq!((map, index), (0, 0));
    // What stays: one inline dummy node (24 bytes) per bucket of the
    // directory, plus the skiplist's head and epoch bookkeeping.
    let table = buckets as isize * 24 + 64 * 1024;
    eprintln!("after flush: {after_flush} bytes for {buckets} buckets (bound {table})");
    assert!(
        after_flush <= table,
        "{after_flush} bytes stay after flushing {SESSIONS} sessions (table bound {table})"
    );
    assert!(after_flush < full / 4);

    drop(cache);
    collect();
    let after_drop = live() - baseline;
    assert!(
        after_drop <= 64 * 1024,
        "{after_drop} bytes stay after drop"
    );
}
