//! Timed multi-threaded runs on a rayon pool.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Runs a timed measurement on `threads` threads of a fresh rayon pool.
///
/// Each thread first calls `setup(thread_index)` (untimed: taking a cache
/// handle, prefilling a private copy), then all threads start together and
/// run the closure `setup` returned until `stop` is raised after `duration`.
/// Each closure returns the operations it completed and should check `stop`
/// every few dozen operations. Returns millions of operations per second.
pub fn timed<'a, S>(threads: usize, duration: Duration, setup: S) -> f64
where
    S: Fn(usize) -> Box<dyn FnMut(&AtomicBool) -> u64 + 'a> + Sync,
{
    let (ops, elapsed) = run_timed(threads, duration, setup);
    ops as f64 / elapsed.as_secs_f64() / 1e6
}

/// [`timed`]'s measurement: the operations counted, and the time from the
/// first worker's start to the last one's end. The workers time themselves,
/// so the interval covers every counted operation: with more threads than
/// cores the workers released by the start line may run long before the
/// thread that raises `stop` is scheduled again, and finish the
/// operations they had begun after it raised it.
fn run_timed<'a, S>(threads: usize, duration: Duration, setup: S) -> (u64, Duration)
where
    S: Fn(usize) -> Box<dyn FnMut(&AtomicBool) -> u64 + 'a> + Sync,
{
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads + 1)
        .thread_name(|i| format!("harness-{i}"))
        .build()
        .expect("a thread pool");
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let start_line = Barrier::new(threads + 1);
    // Nanoseconds since `base`: the earliest start and the latest end.
    let base = Instant::now();
    let first_start = AtomicU64::new(u64::MAX);
    let last_end = AtomicU64::new(0);
    let since_base = |at: Instant| u64::try_from((at - base).as_nanos()).unwrap_or(u64::MAX);
    pool.install(|| {
        rayon::scope(|s| {
            for t in 0..threads {
                let (stop, total, start_line, setup) = (&stop, &total, &start_line, &setup);
                let (first_start, last_end, since_base) = (&first_start, &last_end, &since_base);
                s.spawn(move |_| {
                    let mut work = setup(t);
                    start_line.wait();
                    // Relaxed: the counters are read after the scope joins
                    // every worker, which orders them.
                    first_start.fetch_min(since_base(Instant::now()), Ordering::Relaxed);
                    let ops = work(stop);
                    last_end.fetch_max(since_base(Instant::now()), Ordering::Relaxed);
                    total.fetch_add(ops, Ordering::Relaxed);
                });
            }
            start_line.wait();
            std::thread::sleep(duration);
            stop.store(true, Ordering::Relaxed);
        });
    });
    let (start, end) = (
        first_start.load(Ordering::Relaxed),
        last_end.load(Ordering::Relaxed),
    );
    // No worker (threads == 0): the requested duration, and no operations.
    let elapsed = if start <= end {
        Duration::from_nanos(end - start)
    } else {
        duration
    };
    // Never zero: a rate divides by it.
    (
        total.load(Ordering::Relaxed),
        elapsed.max(Duration::from_nanos(1)),
    )
}

/// Splits `0..n` into `parts` contiguous ranges.
pub fn split(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.max(1);
    (0..parts)
        .map(|p| (n * p / parts)..(n * (p + 1) / parts))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_everything_once() {
        for (n, parts) in [(10, 3), (0, 2), (7, 7), (100, 1)] {
            let r = split(n, parts);
            assert_eq!(r.len(), parts);
            assert_eq!(r.iter().map(|r| r.len()).sum::<usize>(), n);
            assert!(r.windows(2).all(|w| w[0].end == w[1].start));
        }
    }

    /// The interval covers every counted operation: a worker that runs
    /// 60 ms past a 5 ms measurement (as one does when the thread that
    /// raises `stop` waits for a core) is timed to its end, not to `stop`.
    #[test]
    fn the_interval_covers_a_worker_that_overruns_stop() {
        let (ops, elapsed) = run_timed(2, Duration::from_millis(5), |t| {
            Box::new(move |stop: &AtomicBool| {
                let began = Instant::now();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed)
                    || (t == 0 && began.elapsed() < Duration::from_millis(60))
                {
                    n += 1;
                    std::hint::spin_loop();
                }
                n
            })
        });
        assert!(ops > 0);
        assert!(elapsed >= Duration::from_millis(60), "{elapsed:?}");
    }

    #[test]
    fn timed_counts_work_of_every_thread() {
        let mops = timed(3, Duration::from_millis(50), |_| {
            Box::new(|stop: &AtomicBool| {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    std::hint::spin_loop();
                }
                n
            })
        });
        assert!(mops > 0.0);
    }
}
