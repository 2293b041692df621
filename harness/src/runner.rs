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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads + 1)
        .thread_name(|i| format!("harness-{i}"))
        .build()
        .expect("a thread pool");
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let start_line = Barrier::new(threads + 1);
    let elapsed = pool.install(|| {
        let mut elapsed = Duration::ZERO;
        rayon::scope(|s| {
            for t in 0..threads {
                let (stop, total, start_line, setup) = (&stop, &total, &start_line, &setup);
                s.spawn(move |_| {
                    let mut work = setup(t);
                    start_line.wait();
                    let ops = work(stop);
                    total.fetch_add(ops, Ordering::Relaxed);
                });
            }
            start_line.wait();
            let begun = Instant::now();
            std::thread::sleep(duration);
            stop.store(true, Ordering::Relaxed);
            elapsed = begun.elapsed();
        });
        elapsed
    });
    total.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64() / 1e6
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
