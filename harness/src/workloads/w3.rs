//! W3: flush under load. Many sessions expire at T while others stay live;
//! one thread flushes at T+1 while the others look up live sessions. The
//! lookup latency during the flush shows whether a flush stalls handshakes
//! (OpenSSL flushes under its write lock).
//!
//! Latencies are corrected for coordinated omission: a lookup thread that is
//! stalled issues no lookups meanwhile, so without correction a stall of
//! 100 ms counts once and the percentiles hide it. Each stall is back-filled
//! with the lookups that would have arrived at the pre-flush rate.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use rand::Rng;

use super::{rng_for, Suite};
use crate::cache::Driver;
use crate::ids::{own_copy, random_ids};
use crate::results::{FlushRun, MachineFloor};
use crate::runner::split;

const WARMUP: u8 = 0;
/// `latency_during`'s phases: warm-up, then timing while `during` runs
/// (the flush, or the floor's spinning thread), then done.
const TIMING: u8 = 1;
const DONE: u8 = 2;

/// Sizes of W3: (expired, live), as the workload defines them in both
/// modes.
pub(crate) fn sizes() -> (usize, usize) {
    (1_000_000, 100_000)
}

/// W3's timing loop: `threads` threads each run the operation `make_op`
/// gives them, over and over, first for a warm-up that sets the interval at
/// which operations would keep arriving, then while the calling thread runs
/// `during`; returns the latencies of the operations run during it, merged
/// over the threads. An operation times itself and returns its latency in
/// nanoseconds, so that choosing its input stays out of the timing.
///
/// Latencies are corrected for coordinated omission: an operation stalled
/// for `ns` stands for every operation that would have arrived meanwhile
/// (handshakes do not wait for the previous one), as hdrhistogram's
/// `record_correct` back-fills them at the interval at which the thread's
/// operations arrived in the warm-up (its wall time per operation, the
/// loop's own work included).
fn latency_during<'a, M>(threads: usize, make_op: M, during: impl FnOnce()) -> During
where
    M: Fn(usize) -> Box<dyn FnMut() -> u64 + 'a> + Sync,
{
    let phase = AtomicU8::new(WARMUP);
    let mut hist = new_histogram();
    let mut timed = 0u64;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (make_op, phase) = (&make_op, &phase);
                s.spawn(move || {
                    let mut op = make_op(t);
                    let mut hist = new_histogram();
                    let mut timed = 0u64;
                    let warm_start = Instant::now();
                    let mut warm_n = 0u64;
                    // The warm-up's interval between operations, fixed by
                    // the first timed one.
                    let mut interval = None;
                    loop {
                        let before = phase.load(Ordering::Acquire);
                        if before == DONE {
                            break;
                        }
                        let ns = op();
                        // An operation that began in the warm-up but ended
                        // after `during` began overlapped it: it is timed
                        // (a lookup stalled by the flush's start must not
                        // be taken for warm-up, nor inflate its interval).
                        if before == WARMUP && phase.load(Ordering::Acquire) == WARMUP {
                            warm_n += 1;
                        } else {
                            let expected = *interval.get_or_insert_with(|| {
                                // The warm-up's wall time: up to the start
                                // of this operation.
                                let warm_ns =
                                    (warm_start.elapsed().as_nanos() as u64).saturating_sub(ns);
                                (warm_ns / warm_n.max(1)).max(1)
                            });
                            let _ = hist.record_correct(ns.max(1), expected);
                            timed += 1;
                        }
                    }
                    (hist, timed)
                })
            })
            .collect();
        // Let the threads get going (and measure their warm-up), then run
        // `during`.
        std::thread::sleep(std::time::Duration::from_millis(50));
        phase.store(TIMING, Ordering::Release);
        during();
        phase.store(DONE, Ordering::Release);
        for w in workers {
            let (h, n) = w.join().expect("W3 timing thread");
            hist.add(h).expect("same bounds");
            timed += n;
        }
    });
    During { hist, timed }
}

/// What [`latency_during`] measured.
struct During {
    /// Every latency recorded, the back-filled ones included.
    hist: Histogram<u64>,
    /// How many operations were timed (the histogram's count without the
    /// back-filled ones).
    timed: u64,
}

fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// Runs W3 once against a fresh cache of `driver`'s, with `lookup_threads`
/// lookup threads ([`FlushLatency::from_runs`](crate::results::FlushLatency::from_runs)
/// makes an entry of runs).
pub fn flush_under_load(suite: &Suite, driver: &dyn Driver, lookup_threads: usize) -> FlushRun {
    let (expired_n, live_n) = sizes();
    let cache = driver.build(&suite.config(0).holding(expired_n + live_n));
    let start = suite.start;
    let t_expire = start + 10;
    let expired = random_ids(expired_n, 31);
    let live = random_ids(live_n, 32);
    // Fill in parallel: the fill is setup, not measured.
    std::thread::scope(|s| {
        for part in split(expired.len(), lookup_threads + 1) {
            let (cache, expired, value) = (&cache, &expired, &suite.value);
            s.spawn(move || {
                let mut h = cache.handle();
                for id in &expired[part] {
                    h.store(id, &own_copy(value), start, t_expire - start);
                }
            });
        }
    });
    {
        let mut h = cache.handle();
        for id in &live {
            h.store(id, &own_copy(&suite.value), start, 7200);
        }
    }
    let mut flush_ms = 0.0;
    let mut flushed = 0;
    // The flushing thread's handle, made before anything is timed.
    let mut h = cache.handle();
    let During { hist, timed } = latency_during(
        lookup_threads,
        |t| {
            let mut h = cache.handle();
            let mut rng = rng_for(t, 0x33);
            let live = &live;
            Box::new(move || {
                let id = &live[rng.random_range(0..live.len())];
                let t0 = Instant::now();
                let hit = h.lookup(id, start);
                let ns = t0.elapsed().as_nanos() as u64;
                std::hint::black_box(hit);
                ns
            })
        },
        || {
            let t0 = Instant::now();
            flushed = h.flush(t_expire + 1);
            flush_ms = t0.elapsed().as_secs_f64() * 1e3;
        },
    );
    FlushRun {
        lookups: timed,
        recorded: hist.len(),
        p50_ns: hist.value_at_quantile(0.50),
        p99_ns: hist.value_at_quantile(0.99),
        p999_ns: hist.value_at_quantile(0.999),
        max_ns: hist.max(),
        flush_ms,
        flushed,
    }
}

/// How many one-second windows the machine floor times: one per repetition
/// of the suite (5 with `--full`), and at least 3.
pub(crate) fn floor_windows(suite: &Suite) -> usize {
    suite.repeats.max(3)
}

/// How long one window of the machine floor lasts.
pub(crate) const FLOOR_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

/// The stand-in for a lookup in the machine floor: about 250 ns of
/// arithmetic on registers (a W3 lookup takes a few hundred ns here), no
/// memory, no atomics.
const FLOOR_OP_NS: u64 = 250;

/// W3's timing loop with no cache, `windows` times: `threads` threads time
/// a stand-in operation of pure arithmetic while another thread spins for
/// `window` where the flush would run. Whatever latency it records beyond
/// the operation's own is the machine's (preemption, the hypervisor's
/// stalls, interrupts), and any cache's W3 percentiles on this machine
/// include it: a p99.9 target below the floor's p99.9 in every window
/// cannot be shown here. The figures reported are the window with the
/// median p99.9; every window's p99.9 is kept. (The suite times its
/// windows one by one between W3's runs: see [`FloorProbe`].)
pub fn machine_floor(threads: usize, windows: usize, window: std::time::Duration) -> MachineFloor {
    let probe = FloorProbe::new(threads, window);
    let runs = (0..windows.max(1)).map(|_| probe.window()).collect();
    probe.floor(runs)
}

/// The machine floor, one window at a time, so that the suite can time a
/// window after each repetition of W3's caches: the floor is then sampled
/// across the same minutes as the caches' runs, in whatever states the
/// machine passed through.
pub(crate) struct FloorProbe {
    threads: usize,
    window: std::time::Duration,
    /// Rounds of [`spin`] per stand-in operation, calibrated once.
    rounds: u32,
}

/// One window of the machine floor (what [`FloorProbe::window`] timed).
pub(crate) struct FloorWindow(During);

impl FloorProbe {
    pub(crate) fn new(threads: usize, window: std::time::Duration) -> Self {
        FloorProbe {
            threads,
            window,
            rounds: calibrate(FLOOR_OP_NS),
        }
    }

    /// Times one window.
    pub(crate) fn window(&self) -> FloorWindow {
        let (rounds, window) = (self.rounds, self.window);
        FloorWindow(latency_during(
            self.threads,
            |t| {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ t as u64;
                Box::new(move || {
                    let t0 = Instant::now();
                    x = spin(x, rounds);
                    let ns = t0.elapsed().as_nanos() as u64;
                    std::hint::black_box(x);
                    ns
                })
            },
            || {
                let t0 = Instant::now();
                let mut x = 1u64;
                while t0.elapsed() < window {
                    x = spin(x, 64);
                }
                std::hint::black_box(x);
            },
        ))
    }

    /// The floor of the windows timed, in the order they ran (at least
    /// one): the figures of the window with the median p99.9, and every
    /// window's p99.9.
    pub(crate) fn floor(&self, windows: Vec<FloorWindow>) -> MachineFloor {
        assert!(!windows.is_empty(), "the machine floor times a window");
        let mut runs: Vec<During> = windows.into_iter().map(|w| w.0).collect();
        let windows_p999_ns: Vec<u64> = runs
            .iter()
            .map(|d| d.hist.value_at_quantile(0.999))
            .collect();
        runs.sort_by_key(|d| d.hist.value_at_quantile(0.999));
        // The median window (the lower middle one for an even count).
        let During { hist, timed } = &runs[(runs.len() - 1) / 2];
        MachineFloor {
            threads: self.threads,
            op_ns: FLOOR_OP_NS,
            window_ms: self.window.as_millis() as u64,
            operations: *timed,
            samples: hist.len(),
            p50_ns: hist.value_at_quantile(0.50),
            p99_ns: hist.value_at_quantile(0.99),
            p999_ns: hist.value_at_quantile(0.999),
            max_ns: hist.max(),
            windows_p999_ns,
        }
    }
}

/// `rounds` steps of xorshift64, which the compiler cannot fold away.
fn spin(mut x: u64, rounds: u32) -> u64 {
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = std::hint::black_box(x);
    }
    x
}

/// The rounds of [`spin`] that take about `ns` nanoseconds on this machine
/// (the fastest of several timings, so a stall during calibration does not
/// shorten the operation).
fn calibrate(ns: u64) -> u32 {
    const PROBE: u32 = 100_000;
    let best = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            std::hint::black_box(spin(1, PROBE));
            t0.elapsed().as_nanos().max(1)
        })
        .min()
        .unwrap_or(1);
    (u128::from(ns) * u128::from(PROBE) / best).clamp(1, u128::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operation that begins in the warm-up and is still running when
    /// `during` begins (a lookup that the flush's start stalls) is timed.
    #[test]
    fn an_operation_straddling_the_start_is_timed() {
        use std::sync::atomic::AtomicBool;
        use std::time::{Duration, Instant};
        const STALL: Duration = Duration::from_millis(20);
        let during_began = AtomicBool::new(false);
        let During { hist, .. } = latency_during(
            1,
            |_| {
                let during_began = &during_began;
                let mut calls = 0u32;
                Box::new(move || {
                    calls += 1;
                    if calls != 100 {
                        return 1_000;
                    }
                    // Begun in the warm-up (99 calls take microseconds of
                    // its 50 ms): wait for `during`, then stall.
                    let t0 = Instant::now();
                    while !during_began.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                    let stalled = Instant::now();
                    while stalled.elapsed() < STALL {
                        std::hint::spin_loop();
                    }
                    u64::try_from(t0.elapsed().as_nanos()).unwrap()
                })
            },
            || {
                during_began.store(true, Ordering::Release);
                let t0 = Instant::now();
                while t0.elapsed() < 2 * STALL {
                    std::hint::spin_loop();
                }
            },
        );
        let stall_ns = u64::try_from(STALL.as_nanos()).unwrap();
        assert!(hist.max() >= stall_ns, "max {} ns", hist.max());
    }

    /// A stall is back-filled at the interval at which operations arrived
    /// in the warm-up, which includes the loop's own work, not at the
    /// operations' mean latency: here each operation takes ~10 µs of wall
    /// time but reports 1 µs, so a 1 ms stall stands for about 100
    /// operations, not 1 000. The timed count leaves the back-fill out.
    #[test]
    fn a_stall_is_back_filled_at_the_warm_up_interval() {
        use std::sync::atomic::AtomicBool;
        use std::time::{Duration, Instant};
        let during_began = AtomicBool::new(false);
        let stalled = AtomicBool::new(false);
        let During { hist, timed } = latency_during(
            1,
            |_| {
                let (during_began, stalled) = (&during_began, &stalled);
                Box::new(move || {
                    let t0 = Instant::now();
                    while t0.elapsed() < Duration::from_micros(10) {
                        std::hint::spin_loop();
                    }
                    if during_began.load(Ordering::Acquire) && !stalled.swap(true, Ordering::AcqRel)
                    {
                        1_000_000
                    } else {
                        1_000
                    }
                })
            },
            || {
                during_began.store(true, Ordering::Release);
                let t0 = Instant::now();
                while t0.elapsed() < Duration::from_millis(5) || !stalled.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
            },
        );
        assert!(timed >= 1, "nothing timed");
        assert_eq!(hist.max(), hist.highest_equivalent(1_000_000));
        let back_filled = hist.len() - timed;
        assert!(
            back_filled < 300,
            "a 1 ms stall back-filled {back_filled} operations: the interval is not the \
             warm-up's ~10 µs per operation"
        );
    }

    #[test]
    fn the_floor_times_its_operation_and_orders_its_percentiles() {
        let f = machine_floor(1, 3, std::time::Duration::from_millis(20));
        assert_eq!(f.threads, 1);
        // The median window of three.
        assert_eq!(f.windows_p999_ns.len(), 3);
        let mut w = f.windows_p999_ns.clone();
        w.sort_unstable();
        assert_eq!(f.p999_ns, w[1], "{f:?}");
        assert!(f.samples > 0, "no operation was timed: {f:?}");
        assert!(
            f.p50_ns <= f.p99_ns && f.p99_ns <= f.p999_ns && f.p999_ns <= f.max_ns,
            "{f:?}"
        );
        // The operation is calibrated to about FLOOR_OP_NS: its median
        // cannot be far below it (the calibration takes the fastest timing).
        assert!(f.p50_ns * 4 >= FLOOR_OP_NS, "{f:?}");
    }

    #[test]
    fn calibration_scales_with_the_duration_asked_for() {
        let (short, long) = (calibrate(100), calibrate(10_000));
        assert!(long > short * 10, "100 ns: {short} rounds, 10 µs: {long}");
    }
}
