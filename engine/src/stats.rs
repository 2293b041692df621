//! Statistics counters, striped so that threads counting lookups do not all
//! write one cache line.

use crossbeam_utils::CachePadded;

use crate::sync::{thread_stripe, AtomicU64, Ordering};

/// A snapshot of the cache's counters, named as OpenSSL's `SSL_CTX_sess_*`
/// statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sessions cached now (`SSL_CTX_sess_number`).
    pub number: u64,
    /// Lookups (and takes) that returned a live session, from the cache or
    /// from `on_get` (`SSL_CTX_sess_hits`).
    pub hits: u64,
    /// Internal lookups (and takes) that found nothing (`SSL_CTX_sess_misses`).
    pub misses: u64,
    /// Sessions found expired by a lookup or take (`SSL_CTX_sess_timeouts`).
    pub timeouts: u64,
    /// Sessions evicted because the cache was full (`SSL_CTX_sess_cache_full`).
    pub cache_full: u64,
    /// Sessions supplied by `on_get` (`SSL_CTX_sess_cb_hits`).
    pub cb_hits: u64,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Counter {
    Hits,
    Misses,
    Timeouts,
    CacheFull,
    CbHits,
}

const COUNTERS: usize = 5;

/// One stripe: a cache line of counters.
#[derive(Default)]
struct Stripe {
    counts: [AtomicU64; COUNTERS],
}

pub(crate) struct StripedStats {
    stripes: Box<[CachePadded<Stripe>]>,
}

impl StripedStats {
    pub(crate) fn new() -> Self {
        let n = if cfg!(sesscache_loom) {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(8, |n| n.get())
                .saturating_mul(2)
                .next_power_of_two()
                .min(256)
        };
        StripedStats {
            stripes: (0..n)
                .map(|_| CachePadded::new(Stripe::default()))
                .collect(),
        }
    }

    pub(crate) fn bump(&self, c: Counter) {
        let stripe = &self.stripes[thread_stripe() & (self.stripes.len() - 1)];
        // Relaxed: an event count; nothing is published through it.
        stripe.counts[c as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The sum over stripes; concurrent bumps may or may not be included.
    pub(crate) fn snapshot(&self, number: u64) -> Stats {
        let mut sum = [0u64; COUNTERS];
        for s in self.stripes.iter() {
            for (total, c) in sum.iter_mut().zip(s.counts.iter()) {
                // Relaxed: see `bump`.
                *total += c.load(Ordering::Relaxed);
            }
        }
        Stats {
            number,
            hits: sum[Counter::Hits as usize],
            misses: sum[Counter::Misses as usize],
            timeouts: sum[Counter::Timeouts as usize],
            cache_full: sum[Counter::CacheFull as usize],
            cb_hits: sum[Counter::CbHits as usize],
        }
    }
}
