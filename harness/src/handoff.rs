//! How long a cache line takes to travel between two processors: the
//! machine state that decides what every write-shared structure costs.
//!
//! Two threads, pinned to the first two processors the process may run on,
//! pass a counter back and forth: each waits for the other's increment,
//! then increments it. The time per increment is one one-way hand-off of
//! the counter's cache line. Between the two hardware threads of one core
//! (which share their caches) it is a few tens of nanoseconds; between
//! cores, and more so between chiplets or sockets, several times that.
//!
//! On a virtual machine the host may move the virtual processors between
//! those placements during a run, and every multi-threaded figure that
//! shares written lines between the threads moves with it: on the 2-vCPU
//! machine the published runs come from, W2 (every store evicts sessions
//! the other thread stored) reads about 3 Mops/s at a 28 ns hand-off and
//! about 1.15 at 160 ns. The harness measures the hand-off before every
//! throughput cell, so a report shows which state each workload ran in.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_utils::CachePadded;

/// Round trips per measurement: about 1 ms at a 25 ns hand-off, 7 ms at
/// 170 ns.
pub const ROUND_TRIPS: u64 = 20_000;

/// The mean one-way hand-off of a cache line between the first two
/// processors the process may run on, in nanoseconds, over `round_trips`
/// round trips; `None` with fewer than two processors or when a thread
/// cannot be pinned.
pub fn handoff_ns(round_trips: u64) -> Option<f64> {
    let cores = core_affinity::get_core_ids()?;
    let [a, b] = [*cores.first()?, *cores.get(1)?];
    let line = CachePadded::new(AtomicU64::new(0));
    // Raised by a side that could not pin itself; never written otherwise,
    // so reading it costs the spinning sides nothing.
    let abort = CachePadded::new(AtomicBool::new(false));
    let passes = round_trips.max(1) * 2;
    std::thread::scope(|s| {
        let (line, abort) = (&line, &abort);
        // Each side waits for its turn (even counts for the first, odd for
        // the second) and passes the line on with its increment.
        let side = move |core, first: bool| {
            move || {
                if !core_affinity::set_for_current(core) {
                    // Unpinned, the two threads might share a processor and
                    // spin for whole time slices: give up the measurement.
                    // Release: the other side's wait reads this.
                    abort.store(true, Ordering::Release);
                    return None;
                }
                let start = Instant::now();
                let mut turn = u64::from(!first);
                while turn < passes {
                    // Acquire: pairs with the other side's Release.
                    while line.load(Ordering::Acquire) != turn {
                        // Acquire: pairs with the Release above.
                        if abort.load(Ordering::Acquire) {
                            return None;
                        }
                        std::hint::spin_loop();
                    }
                    // Release: the other side waits for this value.
                    line.store(turn + 1, Ordering::Release);
                    turn += 2;
                }
                Some(start.elapsed())
            }
        };
        let second = s.spawn(side(b, false));
        let first = s.spawn(side(a, true)).join().ok()?;
        let second = second.join().ok()?;
        Some(first?.max(second?).as_nanos() as f64 / passes as f64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a machine with two processors that threads may pin themselves to,
    /// the hand-off is measured (its size depends on the machine and on what
    /// else runs beside the test); elsewhere it is `None`.
    #[test]
    fn the_hand_off_is_measured_where_there_are_two_processors() {
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        // Whether a thread may pin itself here (a container may forbid it).
        let pinnable = cores.len() >= 2
            && cores.iter().take(2).all(|&c| {
                std::thread::spawn(move || core_affinity::set_for_current(c))
                    .join()
                    .unwrap_or(false)
            });
        let ns = handoff_ns(2_000);
        if !pinnable {
            assert_eq!(ns, None, "no two pinnable processors: no measurement");
            return;
        }
        let ns = ns.expect("two processors: a measurement");
        assert!(ns.is_finite() && ns > 1.0, "{ns} ns");
    }
}
