//! The raw split-ordered list: the algorithm, with raw pointers and guards.
//!
//! See the [module documentation](super) for the picture. Everything here is
//! `pub(crate)`; [`SessionMap`](super::SessionMap) is the typed face the cache
//! uses.

use core::cmp::Ordering as KeyOrdering;
use core::hash::BuildHasher;
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use super::Keyed;
use crate::session::SessionId;
use crate::sync::epoch::{self, Atomic, Guard, Owned, Shared};
use crate::sync::{prefetch, AtomicIsize, AtomicPtr, AtomicUsize, Ordering};

/// Tag on a node's `next` pointer: the node is logically deleted and will be
/// unlinked by the next traversal that passes it. Set only after the node's
/// slot became null, and never cleared.
const DELETED: usize = 1;

/// How many segments the bucket directory has. Segment 0 holds `base`
/// buckets, segment `s ≥ 1` holds `base << (s - 1)`, so the table can grow to
/// `base << (SEGMENTS - 1)` buckets without moving a node.
const SEGMENTS: usize = 40;

/// The largest first segment: larger hints are clamped (the table grows
/// online anyway), so segment 0 stays a modest allocation.
const MAX_BASE: usize = 1 << 20;

/// The most buckets the table grows to: a power of two, so that doubling
/// from below it lands on it and never past it.
const MAX_BUCKETS: usize = 1 << (usize::BITS - 24);

/// The table doubles its bucket count when it holds more than this many
/// entries per bucket on average.
const MAX_LOAD: usize = 1;

/// A node of the one lock-free sorted list that holds every entry.
///
/// A *dummy* node starts each bucket; its `so_key` is even, it holds no
/// value, and its slot holds its link state instead (`UNLINKED`, `LINKING`,
/// `LINKED`: never dereferenced). A *regular* node holds one value, with
/// its id; its `so_key` is odd. Regular nodes with equal `so_key`s (ids
/// with equal hashes) form a run in no particular order; a new node always
/// goes at the head of its run, so every insertion of a `so_key` contends
/// on one link.
///
/// Slot states of a regular node:
///
/// ```text
///   ┌────────┐  publish (CAS E1→E2: replacement)   ┌────────┐
///   │ slot=E1│ ───────────────────────────────────▶│ slot=E2│
///   └───┬────┘                                     └───┬────┘
///       │ unpublish (CAS E→null)                       │
///       ▼                                              ▼
///   ┌────────────┐  mark next (tag DELETED)  ┌──────────────────┐ unlink (CAS pred)  freed by
///   │ slot=null  │ ─────────────────────────▶│ slot=null, marked│──────────────────▶ the epoch
///   │ (dead)     │                           └──────────────────┘
///   └────────────┘
/// ```
///
/// Null is final: a dead node never gets a value again; searches pass over
/// it (its id is gone with its value) and a publisher inserts a fresh node.
pub(crate) struct Node<T> {
    so_key: u64,
    /// An `Arc<T>` turned into a raw pointer (the node owns one strong count),
    /// or null. The id a regular node stands for is its value's
    /// ([`Keyed::key`]): nodes carry no copy of it.
    slot: AtomicPtr<T>,
    next: Atomic<Node<T>>,
}

impl<T> Node<T> {
    fn dummy(so_key: u64) -> Self {
        Node {
            so_key,
            slot: AtomicPtr::new(core::ptr::null_mut()),
            next: Atomic::null(),
        }
    }

    fn regular(so_key: u64, value: *mut T) -> Self {
        Node {
            so_key,
            slot: AtomicPtr::new(value),
            next: Atomic::null(),
        }
    }

    /// The slot's value (Acquire: pairs with the Release that published it,
    /// so the `T` it points to is initialised).
    fn load_slot(&self) -> *mut T {
        #[cfg(not(sesscache_mutant = "relaxed_slot_load"))]
        let v = self.slot.load(Ordering::Acquire);
        // Seeded bug: the publication's Acquire weakened.
        #[cfg(sesscache_mutant = "relaxed_slot_load")]
        let v = self.slot.load(Ordering::Relaxed);
        v
    }
}

impl<T: Keyed> Node<T> {
    /// The value this node holds for `id`, if it holds one: a live regular
    /// node whose value has that id.
    ///
    /// # Safety
    /// `self` must have been read under `guard`, which must outlive every use
    /// of the returned pointer.
    unsafe fn value_for(&self, id: &SessionId, _guard: &Guard) -> Option<*mut T> {
        let v = self.load_slot();
        // SAFETY: a non-null slot owns a strong count of this `Arc`, released
        // only through `guard.defer` after the pointer leaves the slot, so it
        // outlives `guard`.
        (!v.is_null() && unsafe { (*v).key() } == id).then_some(v)
    }
}

/// What [`RawMap::find_in_run`] found.
struct Found<'g, T> {
    /// The link the node was read from.
    pred: &'g Atomic<Node<T>>,
    /// The node, as read from `pred` (its untagged pointer).
    node: Shared<'g, Node<T>>,
    /// The same node, dereferenced.
    node_ref: &'g Node<T>,
    /// The value its slot held.
    value: *mut T,
}

#[cfg(test)]
std::thread_local! {
    /// How many removals this thread unlinked with a search because their
    /// one-CAS unlink failed (see [`RawMap::unpublish`]).
    static UNLINK_FALLBACKS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// The split-order key of a regular entry: the hash with its top bit set,
/// bit-reversed (so it is odd).
fn regular_key(hash: u64) -> u64 {
    (hash | 1 << 63).reverse_bits()
}

/// Whether `so_key` is a regular node's (odd) rather than a dummy's (even).
fn is_regular_key(so_key: u64) -> bool {
    so_key & 1 == 1
}

/// The pointer a dummy's `slot` holds for link state `state`: a small
/// address without provenance, never dereferenced.
fn link_state<T>(state: usize) -> *mut T {
    core::ptr::null_mut::<T>().wrapping_byte_add(state)
}

/// The link state a dummy's `slot` holds.
fn state_of<T>(slot: *mut T) -> usize {
    slot as usize
}

/// Whether dummy `d` is `LINKED`. Acquire: pairs with the Release store of
/// `LINKED` in `dummy_for`, so the dummy's link is visible when the state is.
fn is_linked<T>(d: &Node<T>) -> bool {
    state_of(d.slot.load(Ordering::Acquire)) == LINKED
}

/// The split-order key of bucket `b`'s dummy node (even, since `b < 2^63`).
fn dummy_key(b: usize) -> u64 {
    (b as u64).reverse_bits()
}

/// The bucket `b` splits from: `b` without its highest set bit.
fn parent_bucket(b: usize) -> usize {
    debug_assert!(b > 0, "bucket 0 has no parent");
    b & !(1 << (usize::BITS - 1 - b.leading_zeros()))
}

/// Link states of a dummy node, kept in its `slot` (a dummy holds no value,
/// so the slot is free for this; it is never dereferenced):
///
/// ```text
///   UNLINKED ──claim (CAS, one winner)──▶ LINKING ──link CAS done──▶ LINKED
/// ```
///
/// Only the thread that claimed a dummy links it, so no two threads ever
/// prepare the same node's `next`. While a dummy is not `LINKED` its bucket
/// is served from its closest linked ancestor, whose dummy precedes it in
/// the list: any operation can proceed without waiting for the linker.
const UNLINKED: usize = 0;
const LINKING: usize = 1;
const LINKED: usize = 2;

/// One segment of the bucket directory: the buckets' dummy nodes
/// themselves, inline, so finding a bucket's dummy costs no pointer chase
/// and no allocation of its own. Each is `UNLINKED` until first needed.
struct Segment<T> {
    dummies: Box<[Node<T>]>,
}

/// What [`RawMap::debug_check`] found.
#[cfg(any(test, sesscache_loom))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListShape {
    /// Regular nodes in the list (dead ones included).
    pub(crate) regular: usize,
    /// Buckets of the current table that hold a regular node but whose
    /// dummy is not linked (served from an ancestor).
    pub(crate) unlinked_in_use: usize,
}

/// A lock-free hash map from session id to `Arc<T>`: Shalev & Shavit's
/// split-ordered list with Michael's list algorithm, reclaimed by epochs.
pub(crate) struct RawMap<T, S> {
    hasher: S,
    /// Buckets in segment 0 (a power of two, at least 2).
    base: usize,
    /// The bucket count in use (a power of two). Only grows.
    size: AtomicUsize,
    /// Regular nodes whose slot holds a value. Signed: the remover of a value
    /// may decrement before its inserter increments. On a cache line of its
    /// own: every insert and remove writes it, while every lookup reads the
    /// fields around it (the hasher's keys, `size`, `segments`), which would
    /// otherwise move between processors with each write.
    count: CachePadded<AtomicIsize>,
    segments: Box<[AtomicPtr<Segment<T>>]>,
}

// SAFETY: the map hands `&T` to any thread and drops `Arc<T>`s on whichever
// thread reclaims them, which is sound when `T: Send + Sync`; the hasher is
// only read.
unsafe impl<T: Send + Sync, S: Send> Send for RawMap<T, S> {}
// SAFETY: as above; all shared mutation goes through atomics.
unsafe impl<T: Send + Sync, S: Sync> Sync for RawMap<T, S> {}

impl<T: Keyed + Send + Sync + 'static, S: BuildHasher> RawMap<T, S> {
    /// A map whose table starts at `buckets` buckets (rounded up to a power of
    /// two, at least 2).
    pub(crate) fn new(buckets: usize, hasher: S) -> Self {
        let base = buckets.clamp(2, MAX_BASE).next_power_of_two();
        let segments = (0..SEGMENTS)
            .map(|_| AtomicPtr::new(core::ptr::null_mut()))
            .collect();
        let map = RawMap {
            hasher,
            base,
            size: AtomicUsize::new(base),
            count: CachePadded::new(AtomicIsize::new(0)),
            segments,
        };
        // Bucket 0's dummy is the head of the whole list: linked from the
        // start, so that every traversal has one. Release: the map is
        // published to other threads later anyway; this keeps it ordered.
        map.bucket_dummy(0)
            .slot
            .store(link_state(LINKED), Ordering::Release);
        map
    }

    pub(crate) fn hash(&self, id: &SessionId) -> u64 {
        self.hasher.hash_one(id.as_bytes())
    }

    /// How many values the map holds.
    pub(crate) fn len(&self) -> usize {
        // Relaxed: a statistic; callers do not read other memory through it.
        self.count.load(Ordering::Relaxed).max(0) as usize
    }

    /// The bucket count in use.
    pub(crate) fn buckets(&self) -> usize {
        // Relaxed: see `bucket_of`.
        self.size.load(Ordering::Relaxed)
    }

    fn max_buckets(&self) -> usize {
        // `base` ≤ 2^20 (MAX_BASE) and SEGMENTS − 1 = 39: at most 2^59, no
        // bit is shifted out of a 64-bit usize.
        (self.base << (SEGMENTS - 1)).min(MAX_BUCKETS)
    }

    /// The first bucket of segment `s`.
    fn segment_start(&self, s: usize) -> usize {
        if s == 0 {
            0
        } else {
            self.base << (s - 1)
        }
    }

    fn segment_len(&self, s: usize) -> usize {
        if s == 0 {
            self.base
        } else {
            self.base << (s - 1)
        }
    }

    /// (segment, index in segment) of bucket `b`.
    fn locate(&self, b: usize) -> (usize, usize) {
        if b < self.base {
            (0, b)
        } else {
            // s = log2(b / base), rounded down, from bit positions: `base`
            // is a power of two, so no division (a long-latency instruction
            // at the start of every operation's dependent chain) is needed.
            let s = (usize::BITS - 1 - b.leading_zeros() - self.base.trailing_zeros()) as usize;
            (s + 1, b - (self.base << s))
        }
    }

    fn segment_if_present(&self, s: usize) -> Option<&Segment<T>> {
        // Acquire: pairs with the Release CAS in `bucket_dummy`, so the
        // segment's dummies are initialised when seen.
        let p = self.segments[s].load(Ordering::Acquire);
        // SAFETY: a non-null segment pointer came from `Box::into_raw` and
        // stays valid until the map is dropped.
        unsafe { p.as_ref() }
    }

    /// The dummy node of bucket `b` if its segment exists (never allocates).
    fn dummy_if_present(&self, b: usize) -> Option<&Node<T>> {
        let (s, i) = self.locate(b);
        self.segment_if_present(s).map(|seg| &seg.dummies[i])
    }

    /// The dummy node of bucket `b` (linked or not), allocating its segment
    /// on first use.
    fn bucket_dummy(&self, b: usize) -> &Node<T> {
        let (s, i) = self.locate(b);
        if let Some(seg) = self.segment_if_present(s) {
            return &seg.dummies[i];
        }
        let first = self.segment_start(s);
        let fresh = Box::into_raw(Box::new(Segment {
            dummies: (first..first + self.segment_len(s))
                .map(|b| Node::dummy(dummy_key(b)))
                .collect(),
        }));
        // Release: publishes the initialised dummies; Acquire on failure:
        // the winner's dummies are read next.
        let seg = match self.segments[s].compare_exchange(
            core::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(current) => {
                // SAFETY: `fresh` came from Box::into_raw above and lost the
                // race, so no other thread has seen it.
                drop(unsafe { Box::from_raw(fresh) });
                current
            }
        };
        // SAFETY: `seg` is a published segment, valid until the map drops.
        unsafe { &(*seg).dummies[i] }
    }

    fn bucket_of(&self, hash: u64) -> usize {
        // Acquire: a bucket count larger than the caller last saw comes with
        // nothing to publish (no caller relies on the new half's segment
        // existing: each checks or allocates it); the count only grows.
        let size = self.size.load(Ordering::Acquire);
        (hash as usize) & (size - 1)
    }

    /// A linked dummy from which an operation on bucket `b` may search: the
    /// bucket's own dummy, linked now (with its ancestors) if it was not,
    /// or, while another thread is linking it, the dummy of its closest
    /// linked ancestor, which precedes it in the list.
    fn dummy_for<'g>(&self, b: usize, guard: &'g Guard) -> Shared<'g, Node<T>> {
        let d = self.bucket_dummy(b);
        // Acquire: pairs with the Release store of LINKED below, so the
        // dummy's link is visible when the state is.
        let state = state_of(d.slot.load(Ordering::Acquire));
        if state == LINKED {
            return Shared::from(core::ptr::from_ref(d));
        }
        debug_assert!(b > 0, "bucket 0 is linked from the start");
        let parent = self.dummy_for(parent_bucket(b), guard);
        #[cfg(not(sesscache_mutant = "dummy_without_claim"))]
        let claimed = state == UNLINKED
            // Relaxed on success: the claim publishes nothing, only its
            // atomicity matters (one winner). Acquire on failure: pairs with
            // the Release store of LINKED, so a LINKED read here sees the link.
            && match d.slot.compare_exchange(
                link_state(UNLINKED),
                link_state(LINKING),
                Ordering::Relaxed,
                Ordering::Acquire,
            ) {
                Ok(_) => true,
                Err(now) if state_of(now) == LINKED => {
                    return Shared::from(core::ptr::from_ref(d));
                }
                Err(_) => false,
            };
        // Seeded bug: every thread that sees the dummy unlinked links it, so
        // two threads can prepare and link the same node.
        #[cfg(sesscache_mutant = "dummy_without_claim")]
        let claimed = state != LINKED;
        if !claimed {
            // Another thread is linking it: start from the ancestor.
            return parent;
        }
        self.link_dummy(parent, d, guard);
        // Release: publishes the link to threads that read LINKED.
        d.slot.store(link_state(LINKED), Ordering::Release);
        Shared::from(core::ptr::from_ref(d))
    }

    /// The dummy a lookup of `hash` searches from: the bucket's own, linked
    /// now by this lookup (see [`dummy_for`](Self::dummy_for)) if it was not
    /// but its parent is. Otherwise the lookup goes up to the parent, and
    /// the same again: it starts from the closest linked ancestor, after
    /// linking the one below it when it could. A lookup never allocates a
    /// directory segment: it links a dummy only after seeing its segment
    /// present (a bucket read under a just-doubled size may be in a segment
    /// the doubling thread has not allocated yet; the lookup then goes up),
    /// and the parent it read as `LINKED` is in a present segment too, so
    /// `dummy_for` goes no further up and allocates nothing. Linking runs
    /// the writers' search, so such a lookup may also unlink deleted nodes
    /// it passes (handing them to the epoch) and retry its link CAS: it is
    /// lock-free where a lookup that found its dummy linked is a bounded
    /// walk.
    ///
    /// Linking on the read path is what keeps lookups short in a table that
    /// grew: after a doubling, a bucket no writer has touched since would
    /// otherwise be served from its parent, through the parent's entries,
    /// for as long as only lookups reach it (over a quarter of the lookups
    /// in a table of 10⁵ sessions, half right after a doubling). Each dummy
    /// is linked once, by whichever thread claims it first; later lookups
    /// only read it.
    fn read_start<'g>(&self, hash: u64, guard: &'g Guard) -> Shared<'g, Node<T>> {
        let mut b = self.bucket_of(hash);
        loop {
            if let Some(d) = self.dummy_if_present(b) {
                if is_linked(d) {
                    return Shared::from(core::ptr::from_ref(d));
                }
                if self
                    .dummy_if_present(parent_bucket(b))
                    .is_some_and(is_linked)
                {
                    // The parent is linked, so `dummy_for` goes no further
                    // up: it links `b` (or, if another thread is, returns
                    // the parent).
                    return self.dummy_for(b, guard);
                }
            }
            b = parent_bucket(b);
        }
    }

    /// Links the dummy `d`, which this thread claimed, into the list after
    /// `start`. Nobody else writes `d.next` before the link: the claim makes
    /// this thread its only linker.
    fn link_dummy(&self, start: Shared<'_, Node<T>>, d: &Node<T>, guard: &Guard) {
        let node = Shared::from(core::ptr::from_ref(d));
        loop {
            let (pred, curr) = self.find(start, d.so_key, guard);
            debug_assert!(
                // SAFETY: `curr` was read under `guard`.
                unsafe { curr.as_ref() }.map_or(true, |c| c.so_key != d.so_key),
                "a dummy is linked once"
            );
            // Relaxed: the node is unreachable until the CAS below publishes
            // it, and only this thread writes its link before that.
            d.next.store(curr, Ordering::Relaxed);
            // AcqRel: Release publishes the node's link with it.
            if pred
                .compare_exchange(curr, node, Ordering::AcqRel, Ordering::Acquire, guard)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Michael's search: the first node whose key is not less than
    /// `so_key` (the head of the run of that key, if there is one), and the
    /// link that points to it. Unlinks every deleted node it passes;
    /// restarts from `start` when a link changed under it.
    fn find<'g>(
        &self,
        start: Shared<'g, Node<T>>,
        so_key: u64,
        guard: &'g Guard,
    ) -> (&'g Atomic<Node<T>>, Shared<'g, Node<T>>) {
        self.search(start, so_key, false, guard)
    }

    /// [`find`](Self::find), or with `past` the first node whose key is
    /// greater than `so_key`: a search that passes (and so unlinks the
    /// deleted nodes of) the whole run of `so_key`.
    fn search<'g>(
        &self,
        start: Shared<'g, Node<T>>,
        so_key: u64,
        past: bool,
        guard: &'g Guard,
    ) -> (&'g Atomic<Node<T>>, Shared<'g, Node<T>>) {
        'retry: loop {
            // SAFETY: dummy nodes are never unlinked before the map drops.
            let mut pred: &'g Atomic<Node<T>> = unsafe { &start.deref().next };
            // Acquire: pairs with the Release of the CAS that linked the node,
            // so its fields are initialised when read.
            let mut curr = pred.load(Ordering::Acquire, guard);
            loop {
                // SAFETY: `curr` was read under `guard` from a link of a node
                // that was reachable, so it is not freed before the guard drops.
                let Some(c) = (unsafe { curr.as_ref() }) else {
                    return (pred, curr);
                };
                // Acquire: as for `curr`.
                let succ = c.next.load(Ordering::Acquire, guard);
                if succ.tag() == DELETED {
                    // Unlink `c`. AcqRel: the new link is published to readers
                    // of `pred`, and a failure re-reads the current link.
                    match pred.compare_exchange(
                        curr,
                        succ.with_tag(0),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                        guard,
                    ) {
                        Ok(_) => {
                            // SAFETY: this CAS unlinked `c`, so exactly this
                            // thread frees it, after every guard that might
                            // still see it is gone. A deleted node's slot is
                            // null, so freeing it drops no value.
                            unsafe { guard.defer_destroy(curr) };
                            curr = succ.with_tag(0);
                            continue;
                        }
                        Err(_) => continue 'retry,
                    }
                }
                if c.so_key > so_key || (c.so_key == so_key && !past) {
                    return (pred, curr);
                }
                pred = &c.next;
                curr = succ;
            }
        }
    }

    /// The value stored under `id`. Past its start (see
    /// [`read_start`](Self::read_start), which may link the bucket's dummy
    /// once) a lookup writes to no shared memory and allocates nothing.
    pub(crate) fn get<'g>(&self, hash: u64, id: &SessionId, guard: &'g Guard) -> Option<&'g T> {
        let so_key = regular_key(hash);
        let start = self.read_start(hash, guard);
        // SAFETY: dummy nodes live until the map drops.
        let mut curr = unsafe { start.deref() }.next.load(Ordering::Acquire, guard);
        // Walking through deleted nodes is safe (they are freed only after our
        // guard drops) and spares the lookup the unlinking CASes.
        // SAFETY: every pointer was read under `guard` from a reachable link.
        while let Some(c) = unsafe { curr.with_tag(0).as_ref() } {
            match c.so_key.cmp(&so_key) {
                KeyOrdering::Less => {}
                KeyOrdering::Equal => {
                    // SAFETY: `c` was read under `guard`.
                    if let Some(v) = unsafe { c.value_for(id, guard) } {
                        // SAFETY: see `value_for`: valid for `guard`.
                        return Some(unsafe { &*v });
                    }
                }
                KeyOrdering::Greater => return None,
            }
            // Acquire: as in `find`.
            curr = c.next.load(Ordering::Acquire, guard);
        }
        None
    }

    /// Starts loading step `depth` of the path that removing an entry of
    /// `hash` takes: 0 is the bucket's dummy node, 1 the node after it, and
    /// so on, up to the first node past the run of `hash` (the one an
    /// unlinking search stops at); deeper steps load nothing. The steps
    /// before `depth` are read (never written), so calling this for depth
    /// 0, 1, 2 … over a batch of hashes, one depth at a time, lets the
    /// batch's cache misses overlap instead of following one another. Only
    /// a hint: for a bucket not yet linked nothing past its dummy is loaded.
    pub(crate) fn prefetch(&self, hash: u64, depth: usize, guard: &Guard) {
        let so_key = regular_key(hash);
        let Some(d) = self.dummy_if_present(self.bucket_of(hash)) else {
            return;
        };
        if depth == 0 {
            prefetch(d);
            return;
        }
        if !is_linked(d) {
            return;
        }
        // Acquire: as in `find`.
        let mut curr = d.next.load(Ordering::Acquire, guard);
        for _ in 1..depth {
            // SAFETY: read under `guard` from a reachable link.
            let Some(c) = (unsafe { curr.with_tag(0).as_ref() }) else {
                return;
            };
            if c.so_key > so_key {
                return;
            }
            // Acquire: as in `find`.
            curr = c.next.load(Ordering::Acquire, guard);
        }
        prefetch(curr.with_tag(0).as_raw());
    }

    /// The node of the run starting at `curr` that holds a value for `id`,
    /// that value, and the link the node was read from (`pred`: the link
    /// `curr` was read from).
    fn find_in_run<'g>(
        &self,
        mut pred: &'g Atomic<Node<T>>,
        mut curr: Shared<'g, Node<T>>,
        so_key: u64,
        id: &SessionId,
        guard: &'g Guard,
    ) -> Option<Found<'g, T>> {
        // SAFETY: every pointer was read under `guard` from a reachable link.
        while let Some(c) = unsafe { curr.with_tag(0).as_ref() } {
            if c.so_key != so_key {
                return None;
            }
            // SAFETY: `c` was read under `guard`.
            if let Some(value) = unsafe { c.value_for(id, guard) } {
                return Some(Found {
                    pred,
                    node: curr.with_tag(0),
                    node_ref: c,
                    value,
                });
            }
            pred = &c.next;
            // Acquire: as in `find`.
            curr = c.next.load(Ordering::Acquire, guard);
        }
        None
    }

    /// Stores `value` under `id`. Returns the value it replaced, if a node for
    /// `id` held one; that value's slot reference is released through the
    /// epoch, so the returned `&T` is valid for `guard`'s lifetime.
    pub(crate) fn publish<'g>(
        &self,
        hash: u64,
        id: &SessionId,
        value: Arc<T>,
        guard: &'g Guard,
    ) -> Option<&'g T> {
        debug_assert!(value.key() == id, "a value is stored under its own id");
        let so_key = regular_key(hash);
        let raw = Arc::into_raw(value).cast_mut();
        let start = self.dummy_for(self.bucket_of(hash), guard);
        let mut fresh: Option<Owned<Node<T>>> = None;
        loop {
            let (pred, curr) = self.find(start, so_key, guard);
            if let Some(Found {
                node_ref: c,
                value: old,
                ..
            }) = self.find_in_run(pred, curr, so_key, id, guard)
            {
                // AcqRel: Release publishes the new value's contents;
                // Acquire orders our later use of `old`.
                if c.slot
                    .compare_exchange(old, raw, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    // SAFETY: `old` left the slot through this CAS, so this
                    // thread owns the slot's strong count; it is dropped
                    // only after every guard that could have read `old`.
                    #[cfg(not(sesscache_mutant = "leak_replaced"))]
                    unsafe {
                        self.release_later(old, guard)
                    };
                    // Seeded bug: the replaced value's count is never
                    // released, so its entry and session leak.
                    // SAFETY: the deferred drop above runs after `guard`.
                    return Some(unsafe { &*old });
                }
                // Replaced or removed meanwhile: look again.
                continue;
            }
            // No live node for `id`: a new one goes at the head of the run,
            // so a concurrent insertion of the same key makes this CAS fail.
            let node = fresh
                .take()
                .unwrap_or_else(|| Owned::new(Node::regular(so_key, raw)));
            // Seeded bug: the node is linked before its value is written, so
            // another publisher passes it as dead and links a second node for
            // the same id; once the late store lands, two nodes hold it.
            #[cfg(sesscache_mutant = "publish_before_init")]
            node.slot.store(core::ptr::null_mut(), Ordering::Relaxed);
            // Relaxed: the node is private until the CAS publishes it.
            node.next.store(curr, Ordering::Relaxed);
            // AcqRel: Release publishes the node and its value.
            match pred.compare_exchange(curr, node, Ordering::AcqRel, Ordering::Acquire, guard) {
                Ok(_linked) => {
                    #[cfg(sesscache_mutant = "publish_before_init")]
                    // SAFETY: the node was just linked under `guard`.
                    unsafe { _linked.deref() }
                        .slot
                        .store(raw, Ordering::Release);
                    self.grew_by_one();
                    return None;
                }
                Err(e) => fresh = Some(e.new),
            }
        }
    }

    /// Empties the slot of `id` if it still holds `expected`. Returns whether
    /// it did; the node is then unlinked (by this call or a later traversal).
    pub(crate) fn unpublish(&self, hash: u64, id: &SessionId, expected: &T, guard: &Guard) -> bool {
        let so_key = regular_key(hash);
        let start = self.dummy_for(self.bucket_of(hash), guard);
        let expected = (expected as *const T).cast_mut();
        let (pred, curr) = self.find(start, so_key, guard);
        let Some(Found {
            pred,
            node,
            node_ref: c,
            value,
        }) = self.find_in_run(pred, curr, so_key, id, guard)
        else {
            return false;
        };
        if value != expected {
            return false;
        }
        // AcqRel: the emptied slot is seen by publishers before they reuse the
        // node; Acquire pairs with the value's publication.
        let Ok(taken) = c.slot.compare_exchange(
            expected,
            core::ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) else {
            return false;
        };
        // Relaxed: a statistic (see `len`).
        self.count.fetch_sub(1, Ordering::Relaxed);
        // Only the thread that emptied the slot marks the node, so the link
        // read back carries no mark.
        let succ = c.next.fetch_or(DELETED, Ordering::AcqRel, guard);
        debug_assert_eq!(succ.tag(), 0, "a node is marked once");
        // Unlink it now rather than leave it to the next traversal: usually
        // the link read on the way here still points to it. AcqRel: as in
        // `search`'s unlinking CAS.
        if pred
            .compare_exchange(node, succ, Ordering::AcqRel, Ordering::Acquire, guard)
            .is_ok()
        {
            // SAFETY: `taken` left the slot through the CAS above. A link
            // that holds the node without a mark can only be the `next` of
            // the unmarked node (or dummy) just before it in the list: only
            // marked nodes are unlinked, a marked node's `next` never changes
            // and carries the mark, and a node being linked is private until
            // its linking CAS. So this CAS is the one unlink of the node, the
            // same word `search`'s unlinking CAS would change, and this
            // thread alone frees both, in one deferred call, after every
            // guard that could still see them. `node` is the pointer read
            // from the list, so freeing through it keeps its provenance.
            unsafe { self.release_with_node(taken, node, guard) };
            return true;
        }
        // The link changed or never held the node unmarked: the predecessor
        // was marked (when read or since), a node or a dummy was linked in
        // between, or another traversal unlinked the node already. Release
        // the value alone, and unlink the node with a search past its key,
        // which walks through its run (the node was marked before the search
        // started, so it is unlinked before this call returns).
        // Release the pointer the slot held, not one made from `expected`: a
        // pointer derived from a shared reference may not be used to drop.
        // SAFETY: `taken` left the slot through the CAS above.
        unsafe { self.release_later(taken, guard) };
        #[cfg(test)]
        UNLINK_FALLBACKS.with(|n| n.set(n.get() + 1));
        let _ = self.search(start, so_key, true, guard);
        true
    }

    /// # Safety
    /// As [`release_later`](Self::release_later) for `ptr`; and `node` must
    /// be a regular node this thread unlinked (so no other thread frees it),
    /// reachable now only through copies read under guards pinned before now.
    unsafe fn release_with_node(&self, ptr: *mut T, node: Shared<'_, Node<T>>, guard: &Guard) {
        let ptr = ptr.cast_const();
        let node = node.as_raw().cast_mut();
        // SAFETY: per this function's contract the count and the node are
        // ours, and the closure runs after every guard that could still read
        // either; `T: Send + Sync` makes dropping the value on another thread
        // sound. Regular nodes are allocated with `Owned::new`. One deferred
        // call for both: a removal defers one function fewer.
        unsafe {
            guard.defer_unchecked(move || {
                drop(Arc::from_raw(ptr));
                drop(Owned::from_raw(node));
            });
        }
    }

    /// # Safety
    /// `ptr` must come from `Arc::into_raw` and the caller must own that
    /// strong count, with no other way left for a thread to reach it but
    /// copies read under guards pinned before now.
    unsafe fn release_later(&self, ptr: *mut T, guard: &Guard) {
        let ptr = ptr.cast_const();
        // SAFETY: per this function's contract the count is ours, and the
        // closure runs after every guard that could still read `ptr`; `T:
        // Send + Sync` makes dropping it on another thread sound. The raw
        // pointer is captured as is (no integer round trip), so it keeps its
        // provenance.
        unsafe {
            guard.defer_unchecked(move || drop(Arc::from_raw(ptr)));
        }
    }

    /// Walks the list and the directory, at quiescence, and panics unless:
    /// keys never decrease, and each dummy has its bucket's key and is in
    /// the list, once, exactly when it is `LINKED`.
    #[cfg(any(test, sesscache_loom))]
    pub(crate) fn debug_check(&self) -> ListShape {
        let guard = epoch::pin();
        let mut curr = Shared::from(core::ptr::from_ref(self.bucket_dummy(0)));
        let mut prev = None::<u64>;
        let mut dummies = std::collections::HashSet::new();
        let mut regular = 0;
        let mut unlinked_in_use = std::collections::HashSet::new();
        let size = self.buckets();
        // SAFETY: every pointer was read under `guard` from a reachable link.
        while let Some(c) = unsafe { curr.with_tag(0).as_ref() } {
            if let Some(p) = prev {
                assert!(p <= c.so_key, "the list is sorted");
                assert!(is_regular_key(c.so_key) || p < c.so_key, "a dummy once");
            }
            prev = Some(c.so_key);
            if is_regular_key(c.so_key) {
                regular += 1;
                // The bucket of this node's hash in the current table.
                let b = c.so_key.reverse_bits() as usize & (size - 1);
                if !self.dummy_if_present(b).is_some_and(is_linked) {
                    unlinked_in_use.insert(b);
                }
            } else {
                assert!(dummies.insert(core::ptr::from_ref(c) as usize));
            }
            curr = c.next.load(Ordering::Acquire, &guard);
        }
        let mut linked = 0;
        for s in 0..SEGMENTS {
            let Some(seg) = self.segment_if_present(s) else {
                continue;
            };
            let first = self.segment_start(s);
            for (i, d) in seg.dummies.iter().enumerate() {
                assert_eq!(d.so_key, dummy_key(first + i));
                let state = state_of(d.slot.load(Ordering::Acquire));
                let in_list = dummies.contains(&(core::ptr::from_ref(d) as usize));
                assert_eq!(state == LINKED, in_list, "bucket {}", first + i);
                linked += usize::from(state == LINKED);
            }
        }
        assert_eq!(linked, dummies.len());
        ListShape {
            regular,
            unlinked_in_use: unlinked_in_use.len(),
        }
    }

    /// (nodes, marked nodes) linked in the list now, dummies included.
    #[cfg(test)]
    pub(crate) fn debug_nodes(&self) -> (usize, usize) {
        let guard = epoch::pin();
        let (mut nodes, mut marked) = (0, 0);
        let mut curr = Shared::from(core::ptr::from_ref(self.bucket_dummy(0)));
        // SAFETY: every pointer was read under `guard` from a reachable link.
        while let Some(c) = unsafe { curr.with_tag(0).as_ref() } {
            nodes += 1;
            let next = c.next.load(Ordering::Acquire, &guard);
            marked += usize::from(next.tag() == DELETED);
            curr = next;
        }
        (nodes, marked)
    }

    fn grew_by_one(&self) {
        // Relaxed: the count only steers resizing, which is correct at any size.
        let count = (self.count.fetch_add(1, Ordering::Relaxed) + 1).max(0) as usize;
        // Relaxed: see `bucket_of`; the CAS below is the only writer.
        let size = self.size.load(Ordering::Relaxed);
        if count > size * MAX_LOAD && size < self.max_buckets() {
            // AcqRel: nothing is published with the new size (the segment is
            // allocated after it, and every reader checks for it). A lost
            // race means another thread doubled it already.
            if self
                .size
                .compare_exchange(size, size * 2, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                // The new half of the table is one segment, starting at
                // bucket `size`: the thread that doubled the table allocates
                // it now (the first writer into the new half would have), so
                // that lookups, which allocate nothing, find their buckets'
                // dummies there and can link them.
                let _ = self.bucket_dummy(size);
            }
        }
    }
}

impl<T, S> Drop for RawMap<T, S> {
    fn drop(&mut self) {
        // SAFETY: `&mut self` proves no other thread can reach the map, so no
        // guard is needed to walk and free it.
        let guard = unsafe { epoch::unprotected() };
        // SAFETY: segment 0 is allocated in `new` and never freed before now.
        let first = unsafe { &*self.segments[0].load(Ordering::Relaxed) };
        // Bucket 0's dummy heads the list; dummies live in their segments,
        // freed below, so only regular nodes are freed one by one.
        let mut curr = first.dummies[0].next.load(Ordering::Relaxed, guard);
        while !curr.is_null() {
            // SAFETY: every node still linked is owned by the list (unlinked
            // nodes were handed to the epoch and are not reachable from here).
            let node = unsafe { curr.deref() };
            let next = node.next.load(Ordering::Relaxed, guard).with_tag(0);
            if is_regular_key(node.so_key) {
                // SAFETY: a regular node was allocated by `publish` with
                // `Owned::new` and is owned by the list.
                let node = unsafe { curr.into_owned() };
                let v = node.slot.load(Ordering::Relaxed);
                if !v.is_null() {
                    // SAFETY: the slot owns one strong count of this Arc.
                    drop(unsafe { Arc::from_raw(v.cast_const()) });
                }
            }
            curr = next;
        }
        for seg in self.segments.iter() {
            // Relaxed: `&mut self`, no other thread can touch the map.
            let p = seg.load(Ordering::Relaxed);
            if !p.is_null() {
                // SAFETY: came from Box::into_raw in `bucket_dummy`; freed once.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// The dummies' link protocol, checked from inside: the list stays sorted
/// with every dummy in it once, exactly the `LINKED` ones, under concurrent
/// growth and across a claimer that stalls between its claim and its link.
#[cfg(all(test, not(sesscache_loom)))]
mod link_tests {
    use std::collections::hash_map::RandomState;

    use super::*;
    use crate::map::tests::{id, val, Val};

    fn check(map: &RawMap<Val, RandomState>) -> usize {
        map.debug_check().regular
    }

    /// Doubling stops at the cap, never past it: every size the table can
    /// reach is a power of two, so the cap must be one too.
    #[test]
    fn the_bucket_cap_is_a_power_of_two_reached_exactly() {
        // A first segment of MAX_BASE dummies is 24 MiB: too slow for Miri.
        let bases: &[usize] = if cfg!(miri) {
            &[2, 1 << 10]
        } else {
            &[2, 1 << 10, MAX_BASE]
        };
        for &base in bases {
            let map: RawMap<Val, RandomState> = RawMap::new(base, RandomState::new());
            let cap = map.max_buckets();
            assert!(cap.is_power_of_two(), "cap {cap} for base {base}");
            let mut size = base;
            while size < cap {
                size *= 2;
            }
            assert_eq!(size, cap, "doubling from {base} passes the cap");
        }
    }

    /// Every bucket lies in exactly the segment and at the index `locate`
    /// says, up to the largest bucket of each base tried.
    #[test]
    fn locate_agrees_with_the_segment_layout() {
        for base in [2, 16, 1 << 10] {
            let map: RawMap<Val, RandomState> = RawMap::new(base, RandomState::new());
            let last = if cfg!(miri) { base << 3 } else { base << 8 };
            for b in (0..last).chain([map.max_buckets() - 1]) {
                let (s, i) = map.locate(b);
                assert!(s < SEGMENTS, "base {base} bucket {b}: segment {s}");
                assert!(i < map.segment_len(s), "base {base} bucket {b}");
                assert_eq!(map.segment_start(s) + i, b, "base {base} bucket {b}");
            }
        }
    }

    #[test]
    fn concurrent_growth_links_every_dummy_once_in_order() {
        let (rounds, per_thread) = if cfg!(miri) { (1, 60) } else { (20, 3_000) };
        for _ in 0..rounds {
            let map: RawMap<Val, RandomState> = RawMap::new(2, RandomState::new());
            std::thread::scope(|s| {
                for t in 0..4u32 {
                    let map = &map;
                    s.spawn(move || {
                        for k in 0..per_thread {
                            let n = k * 4 + t;
                            let guard = epoch::pin();
                            let h = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                            map.publish(h, &id(n), val(n, 0), &guard);
                        }
                    });
                }
            });
            assert_eq!(check(&map), 4 * per_thread as usize);
        }
    }

    /// Lookups alone link the dummies that growth left unlinked, a parent
    /// before its child; the thread that doubles the table allocates the new
    /// half's segment, and a lookup never allocates one: in the moment
    /// between a doubling and that allocation, a bucket whose segment is
    /// missing is served from its closest linked ancestor.
    #[test]
    fn lookups_link_the_dummies_growth_left_and_allocate_nothing() {
        // Hashes are passed in directly; the hasher is never used.
        let map: RawMap<Val, RandomState> = RawMap::new(2, RandomState::new());
        let guard = epoch::pin();
        // 64 odd hashes from 257 on, stored while the table grows to 64
        // buckets: their final buckets (257, 259, … 383 in a table of 512)
        // and half their parents (65 … 127) see no writer after that.
        let first: Vec<u32> = (0..64).map(|j| 257 + 2 * j).collect();
        for &h in &first {
            map.publish(u64::from(h), &id(h), val(h, 0), &guard);
        }
        // Even hashes below 256 only (ids ≥ 1000; hashes repeat): the table
        // grows to 512 buckets, but no writer links a bucket ≥ 256.
        for m in 0..400u32 {
            let k = 1000 + m;
            map.publish(u64::from(2 * (m % 128)), &id(k), val(k, 0), &guard);
        }
        assert_eq!(map.buckets(), 512);
        assert!(map.segment_if_present(map.locate(511).0).is_some());
        let linked = |b: usize| is_linked(map.bucket_dummy(b));
        let found = |h: u32| map.get(u64::from(h), &id(h), &guard).is_some();
        let buckets: Vec<usize> = first.iter().map(|&h| h as usize).collect();
        let parents: Vec<usize> = buckets.iter().map(|&b| parent_bucket(b)).collect();
        assert!(buckets.iter().all(|&b| !linked(b)));
        assert!(parents.iter().any(|&p| !linked(p)));
        assert_eq!(map.debug_check().unlinked_in_use, first.len());
        // A lookup links its bucket if the parent is linked, else the
        // closest unlinked ancestor below a linked one: two rounds suffice.
        assert!(first.iter().all(|&h| found(h)));
        assert!(parents.iter().all(|&p| linked(p)));
        assert!(buckets.iter().any(|&b| !linked(b)));
        assert!(first.iter().all(|&h| found(h)));
        assert!(buckets.iter().all(|&b| linked(b)));
        let shape = map.debug_check();
        assert_eq!(shape.regular, first.len() + 400);
        assert_eq!(shape.unlinked_in_use, 0);
        // The moment after a doubling, before its segment exists: keys whose
        // buckets are in the new half are found through their ancestors,
        // and no lookup allocates the segment.
        let late: Vec<u32> = (0..8).map(|j| 513 + 2 * j).collect();
        for &h in &late {
            map.publish(u64::from(h), &id(h), val(h, 0), &guard);
        }
        map.size.store(1024, Ordering::Release);
        let top = map.locate(1023).0;
        assert!(map.segment_if_present(top).is_none());
        assert!(late.iter().all(|&h| found(h)));
        assert!(map.segment_if_present(top).is_none(), "a lookup allocated");
    }

    /// A claimer "preempted" between its claim and its link: the bucket and
    /// its children are served through the ancestor meanwhile; the late link
    /// still lands before the nodes inserted in the meantime.
    #[test]
    fn a_stalled_claimer_blocks_nobody_and_links_in_order_later() {
        // Hashes are passed in directly; the hasher is never used.
        let map: RawMap<Val, RandomState> = RawMap::new(2, RandomState::new());
        let d = map.bucket_dummy(3);
        d.slot
            .compare_exchange(
                link_state(UNLINKED),
                link_state(LINKING),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .unwrap();
        // Odd hashes: buckets 1, 3, 5, 7, … of a growing table.
        let keys: Vec<u32> = (0..400).map(|k| k * 2 + 1).collect();
        let guard = epoch::pin();
        for &k in &keys {
            assert!(map
                .publish(u64::from(k), &id(k), val(k, 0), &guard)
                .is_none());
        }
        assert!(map.buckets() >= 256);
        assert_eq!(state_of(d.slot.load(Ordering::Acquire)), LINKING);
        for &k in &keys {
            assert!(map.get(u64::from(k), &id(k), &guard).is_some());
        }
        let start = map.dummy_for(1, &guard);
        map.link_dummy(start, d, &guard);
        d.slot.store(link_state(LINKED), Ordering::Release);
        assert_eq!(check(&map), keys.len());
        for &k in &keys {
            let v = map.get(u64::from(k), &id(k), &guard).unwrap();
            assert!(map.unpublish(u64::from(k), &id(k), v, &guard));
        }
        assert_eq!(check(&map), 0);
    }
}

/// `unpublish` unlinks its node with one CAS on the link it read, or, when
/// that link changed, by a search through the run: both leave no marked
/// node behind and keep every other value.
#[cfg(all(test, not(sesscache_loom)))]
mod unlink_tests {
    use std::collections::hash_map::RandomState;

    use super::*;
    use crate::map::tests::{id, val, Val};

    /// Empties and marks the node holding `k` without unlinking it, as a
    /// remover preempted between its mark and its unlink leaves it.
    fn kill_without_unlinking(map: &RawMap<Val, RandomState>, hash: u64, k: u32, guard: &Guard) {
        let so_key = regular_key(hash);
        let start = map.dummy_for(map.bucket_of(hash), guard);
        let (pred, curr) = map.find(start, so_key, guard);
        let Found {
            node_ref: c,
            value: v,
            ..
        } = map
            .find_in_run(pred, curr, so_key, &id(k), guard)
            .expect("published");
        c.slot
            .compare_exchange(
                v,
                core::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .expect("nobody else removes it");
        // SAFETY: `v` left the slot through the CAS above.
        unsafe { map.release_later(v, guard) };
        map.count.fetch_sub(1, Ordering::Relaxed);
        c.next.fetch_or(DELETED, Ordering::AcqRel, guard);
    }

    fn fallbacks() -> usize {
        UNLINK_FALLBACKS.with(core::cell::Cell::get)
    }

    #[test]
    fn a_removal_behind_a_marked_node_unlinks_both() {
        // Every id in one run (one hash); new nodes go at the head of the
        // run, so the list holds 5, 4, 3, 2, 1, 0.
        for hash in [0, 7, u64::MAX] {
            let map: RawMap<Val, RandomState> = RawMap::new(2, RandomState::new());
            let guard = epoch::pin();
            for k in 0..6 {
                assert!(map.publish(hash, &id(k), val(k, k), &guard).is_none());
            }
            // Nothing marked in the way: one CAS unlinks the node, at the
            // head of the run (5), inside it (1) and at its end (0).
            let before = fallbacks();
            for k in [5, 1, 0] {
                let v = map.get(hash, &id(k), &guard).expect("published");
                assert!(map.unpublish(hash, &id(k), v, &guard));
            }
            assert_eq!(fallbacks(), before, "hash {hash:#x}: a removal searched");
            assert_eq!(map.debug_check().regular, 3, "hash {hash:#x}");
            kill_without_unlinking(&map, hash, 3, &guard);
            assert_eq!(map.debug_nodes().1, 1, "hash {hash:#x}: one marked node");
            // 2 follows the marked 3: the link to it carries the mark, so the
            // one-CAS unlink fails and the search unlinks both.
            let v = map.get(hash, &id(2), &guard).expect("published");
            assert!(map.unpublish(hash, &id(2), v, &guard));
            assert_eq!(fallbacks(), before + 1, "hash {hash:#x}: no search");
            assert_eq!(
                map.debug_nodes().1,
                0,
                "hash {hash:#x}: a marked node stayed"
            );
            assert_eq!(map.debug_check().regular, 1, "hash {hash:#x}");
            for k in 0..6 {
                let got = map.get(hash, &id(k), &guard).map(|x| x.v);
                assert_eq!(got, (k == 4).then_some(k), "hash {hash:#x} id {k}");
            }
            assert_eq!(map.len(), 1);
        }
    }

    /// Neighbours in one run removed and stored again by several threads at
    /// once, while the table grows: whichever way each unlink goes, no
    /// marked node is left and every thread's last word stands.
    #[test]
    fn neighbouring_removals_in_one_run_leave_no_marked_node() {
        let (rounds, steps) = if cfg!(miri) { (1, 40) } else { (20, 2_000) };
        for round in 0..rounds {
            // One hash for every id: a single run, as `search` sees it.
            let hash = 0x5bd1_e995_u64.wrapping_mul(round + 1);
            let map: RawMap<Val, RandomState> = RawMap::new(2, RandomState::new());
            // Ids 100.. in other buckets make the table grow meanwhile.
            let last: Vec<Vec<Option<u32>>> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..4u32)
                    .map(|t| {
                        let map = &map;
                        s.spawn(move || {
                            let mut mine = vec![None; 4];
                            for step in 0..steps {
                                let guard = epoch::pin();
                                let slot = (step as usize) % 4;
                                let k = t * 4 + slot as u32;
                                if step % 3 == 2 {
                                    if let Some(v) = map.get(hash, &id(k), &guard) {
                                        assert!(map.unpublish(hash, &id(k), v, &guard));
                                    }
                                    mine[slot] = None;
                                } else {
                                    map.publish(hash, &id(k), val(k, step), &guard);
                                    mine[slot] = Some(step);
                                }
                                if step % 50 == 0 {
                                    let g = 100 + t * steps + step;
                                    let h = u64::from(g).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                                    map.publish(h, &id(g), val(g, 0), &guard);
                                }
                            }
                            mine
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            assert_eq!(
                map.debug_nodes().1,
                0,
                "round {round}: a marked node stayed"
            );
            let guard = epoch::pin();
            for (t, mine) in last.iter().enumerate() {
                for (slot, want) in mine.iter().enumerate() {
                    let k = t as u32 * 4 + slot as u32;
                    let got = map.get(hash, &id(k), &guard).map(|x| x.v);
                    assert_eq!(got, *want, "round {round} id {k}");
                }
            }
            map.debug_check();
        }
    }
}
