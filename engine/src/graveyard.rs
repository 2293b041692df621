//! Keeps the flushing thread, not the readers, paying for what a flush
//! frees.
//!
//! An entry that a flush removes is still referenced from three places that
//! are released through the epoch (its map slot, its map node's neighbour and
//! its skiplist node), and whichever thread happens to run the epoch's
//! deferred functions drops the last reference — often a reader doing a
//! lookup, since every thread that pins runs a share of them. Dropping the
//! last reference of an entry frees the entry, its session and the session's
//! value: the expensive part. A flush of a million sessions would hand that
//! work to its readers, in bursts of hundreds of frees, and show up in their
//! tail latency.
//!
//! So the flush keeps one reference of every entry it removed in a
//! graveyard, in removal order, and drops it itself once the epoch has
//! released the others (its reference is then the last, `strong_count == 1`):
//! the deferred functions readers run only decrement counts and free small
//! nodes. The check is a heuristic for where the work lands, never a
//! condition for soundness: dropping an `Arc` is always safe.
//!
//! A value's `drop` may panic. The graveyard drops one entry at a time,
//! each in [`catch_first_panic`], and keeps the first panic for the flush
//! to resume once it is over: a panicking `drop` neither skips the other
//! entries nor runs while another's panic unwinds (which would abort).
//! (One that panics inside the epoch's garbage instead makes crossbeam-epoch
//! skip the rest of that bag: entries whose releases were in it never reach
//! a count of 1, and `drain` gives up on them; they are leaked.)

use std::collections::VecDeque;
use std::sync::Arc;

use crate::panics::{catch_first_panic, HeldPanic};
#[cfg(not(sesscache_loom))]
use crate::sync::epoch;

/// How many times `drain` helps the epoch along before it drops what is
/// left anyway. Under loom the rounds would only multiply the executions to
/// explore, so it drops at once (see `drain`).
#[cfg(not(sesscache_loom))]
const DRAIN_ROUNDS: usize = 64;

/// Entries a flush removed, oldest first, until this thread can drop them
/// last.
pub(crate) struct Graveyard<T> {
    held: VecDeque<Arc<T>>,
}

impl<T> Graveyard<T> {
    pub(crate) fn new() -> Self {
        Graveyard {
            held: VecDeque::new(),
        }
    }

    pub(crate) fn hold(&mut self, e: Arc<T>) {
        self.held.push_back(e);
    }

    /// Drops, oldest first, the entries no one else references any more;
    /// stops at the first one the epoch has not released yet (later ones
    /// were removed later and are unlikely to be released before it). A
    /// panicking `drop` goes to `first` and the sweep goes on.
    pub(crate) fn sweep(&mut self, first: &mut HeldPanic) {
        while self.held.front().is_some_and(|e| Arc::strong_count(e) == 1) {
            let e = self.held.pop_front();
            catch_first_panic(first, || drop(e));
        }
    }

    /// Helps the epoch along until every held entry can be dropped here, for
    /// a bounded number of rounds, then drops whatever is left; the
    /// graveyard is empty afterwards. Panics go to `first`, as in
    /// [`sweep`](Self::sweep).
    pub(crate) fn drain(&mut self, first: &mut HeldPanic) {
        #[cfg(not(sesscache_loom))]
        for _ in 0..DRAIN_ROUNDS {
            self.sweep(first);
            if self.held.is_empty() {
                return;
            }
            // Pushes this thread's deferred functions to the global queue
            // and runs a batch of the expired ones, whose frees may run a
            // value's `drop` too.
            catch_first_panic(first, || epoch::pin().flush());
        }
        while let Some(e) = self.held.pop_front() {
            catch_first_panic(first, || drop(e));
        }
    }
}
