//! Multi-threaded stress tests, bounded by an operation count and a
//! deadline, checking the cache's invariants at quiescence. Each runs over
//! 2, 4 and 8 threads and small capacities, so eviction, expiry, replacement
//! and table growth all race.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use sesscache::{ManualClock, Session, SessionCache};

const THREADS: [u32; 3] = [2, 4, 8];
const OPS_PER_THREAD: u32 = 40_000;
const DEADLINE: Duration = Duration::from_secs(3);

/// xorshift: cheap per-thread randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A session's value: how many times the cache reported it removed.
type Reports = AtomicU32;

/// Every session leaves the cache at most once, and sessions added =
/// sessions cached + sessions removed, with add, lookup (expiry), take,
/// flush and eviction racing.
#[test]
fn every_session_leaves_at_most_once_and_none_is_lost() {
    for threads in THREADS {
        for capacity in [0usize, 3, 64] {
            run_accounting(threads, capacity);
        }
    }
}

fn run_accounting(threads: u32, capacity: usize) {
    let clock = ManualClock::new(1_000);
    let reports = Arc::new(AtomicU64::new(0));
    let r2 = reports.clone();
    let cache: SessionCache<Reports> = SessionCache::builder()
        .capacity(capacity)
        .table_buckets(2)
        .clock(clock.clone())
        .on_remove(move |s: &Session<Reports>| {
            s.value().fetch_add(1, Ordering::SeqCst);
            r2.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    let start = Instant::now();
    let taken = AtomicU64::new(0);
    let all: Vec<Vec<Arc<Session<Reports>>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (cache, clock, taken) = (&cache, &clock, &taken);
                s.spawn(move || {
                    let mut rng = Rng(0x9e37_79b9 ^ (u64::from(t + 1) * 0x1234_5678_9abc));
                    let mut mine = Vec::new();
                    for i in 0..OPS_PER_THREAD {
                        if i % 1024 == 0 && start.elapsed() > DEADLINE {
                            break;
                        }
                        let now = clock_now(clock);
                        match rng.below(100) {
                            0..=39 => {
                                let id = [t.to_be_bytes(), i.to_be_bytes()].concat();
                                let s = Arc::new(
                                    Session::new(&id, now, rng.below(20), AtomicU32::new(0))
                                        .unwrap(),
                                );
                                assert!(cache.add(&s), "unique ids are always new");
                                mine.push(s);
                            }
                            40..=69 => {
                                if let Some(s) = pick(&mut rng, &mine) {
                                    cache.lookup_with(s.id(), |_| ());
                                }
                            }
                            70..=84 => {
                                if let Some(s) = pick(&mut rng, &mine) {
                                    if let Some(got) = cache.take(s.id()) {
                                        assert!(Arc::ptr_eq(&got, s));
                                        taken.fetch_add(1, Ordering::SeqCst);
                                    }
                                }
                            }
                            85..=89 => {
                                cache.flush(now);
                            }
                            90..=94 => clock.advance(1),
                            _ => {
                                if let Some(s) = pick(&mut rng, &mine) {
                                    let _ = cache.contains(s.id());
                                }
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sessions: Vec<&Arc<Session<Reports>>> = all.iter().flatten().collect();
    let mut cached = 0;
    for s in &sessions {
        let n = s.value().load(Ordering::SeqCst);
        assert!(n <= 1, "a session was reported removed {n} times");
        let present = cache.contains(s.id());
        assert_eq!(present, n == 0, "cached xor reported once");
        assert_eq!(s.is_resumable(), n == 0);
        cached += usize::from(present);
    }
    assert_eq!(cache.len(), cached);
    let (map, index, _) = cache.debug_sizes();
    assert_eq!((map, index), (cached, cached), "map and index agree");
    assert_eq!(
        sessions.len() as u64,
        cached as u64 + reports.load(Ordering::SeqCst),
        "added = cached + removed"
    );
    if capacity > 0 {
        assert!(cache.len() <= capacity, "{} > {capacity}", cache.len());
    }
    assert!(taken.load(Ordering::SeqCst) <= reports.load(Ordering::SeqCst));
}

fn clock_now(clock: &ManualClock) -> u64 {
    use sesscache::Clock;
    clock.now()
}

fn pick<'a, T>(rng: &mut Rng, v: &'a [T]) -> Option<&'a T> {
    if v.is_empty() {
        None
    } else {
        // Mostly recent ones, which are more likely still cached.
        let back = (rng.below(64) as usize).min(v.len() - 1);
        v.get(v.len() - 1 - back)
    }
}

/// Among concurrent takers of one id, exactly one wins, every round.
#[test]
fn concurrent_takers_have_exactly_one_winner() {
    for threads in THREADS {
        let reports = Arc::new(AtomicUsize::new(0));
        let r2 = reports.clone();
        let cache: SessionCache<u32> = SessionCache::builder()
            .table_buckets(2)
            .on_remove(move |_: &Session<u32>| {
                r2.fetch_add(1, Ordering::SeqCst);
            })
            .build();
        let rounds = 2_000u32;
        let wins = AtomicUsize::new(0);
        let barrier = Barrier::new(threads as usize);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (cache, wins, barrier) = (&cache, &wins, &barrier);
                s.spawn(move || {
                    for round in 0..rounds {
                        let id = round.to_be_bytes();
                        if t == 0 {
                            cache.add(&Arc::new(Session::new(&id, 0, u64::MAX, round).unwrap()));
                        }
                        barrier.wait();
                        if let Some(got) = cache.take(&id) {
                            assert_eq!(*got.value(), round);
                            wins.fetch_add(1, Ordering::SeqCst);
                        }
                        barrier.wait();
                    }
                });
            }
        });
        let played = rounds as usize;
        assert_eq!(
            wins.load(Ordering::SeqCst),
            played,
            "exactly one winner per round"
        );
        assert_eq!(
            reports.load(Ordering::SeqCst),
            played,
            "on_remove once per ticket"
        );
        assert!(cache.is_empty());
    }
}

/// A reader of an id that is being replaced over and over sees the old or
/// the new session, never nothing, and never goes back in time.
#[test]
fn lookups_see_replacements_atomically() {
    for threads in THREADS {
        let cache: SessionCache<u64> = SessionCache::builder().table_buckets(2).capacity(0).build();
        cache.add(&Arc::new(Session::new(b"hot", 0, u64::MAX, 0).unwrap()));
        let done = AtomicBool::new(false);
        let start = Instant::now();
        std::thread::scope(|s| {
            let (cache, done) = (&cache, &done);
            s.spawn(move || {
                for v in 1..200_000u64 {
                    if v % 1024 == 0 && start.elapsed() > DEADLINE {
                        break;
                    }
                    cache.add(&Arc::new(Session::new(b"hot", 0, u64::MAX, v).unwrap()));
                    // Other ids come and go so the table grows meanwhile.
                    let id = v.to_be_bytes();
                    cache.add(&Arc::new(Session::new(&id, 0, u64::MAX, v).unwrap()));
                    if v % 2 == 0 {
                        cache.take(&id);
                    }
                }
                done.store(true, Ordering::SeqCst);
            });
            for _ in 1..threads {
                s.spawn(move || {
                    let mut last = 0;
                    while !done.load(Ordering::SeqCst) {
                        let v = cache
                            .lookup_with(b"hot", |s| *s.value())
                            .expect("an id being replaced is never absent");
                        assert!(v >= last, "went back from {last} to {v}");
                        last = v;
                    }
                });
            }
        });
        assert_eq!(cache.len(), cache.debug_sizes().0);
        assert_eq!(cache.len(), cache.debug_sizes().1);
    }
}

/// Everything at once on a small id space: add (new, same object and
/// replacement), remove, take, lookup, flush, capacity changes. At
/// quiescence, the length, the map and the index agree and the bound holds.
#[test]
fn all_operations_mixed_leave_map_and_index_in_agreement() {
    for threads in THREADS {
        for capacity in [1usize, 2, 3, 16] {
            let clock = ManualClock::new(0);
            let cache: SessionCache<u32> = SessionCache::builder()
                .capacity(capacity)
                .table_buckets(2)
                .clock(clock.clone())
                .build();
            let start = Instant::now();
            std::thread::scope(|s| {
                for t in 0..threads {
                    let (cache, clock) = (&cache, &clock);
                    s.spawn(move || {
                        let mut rng = Rng(u64::from(t) * 0x51_7cc1_b727_220a + 99);
                        let mut held: Vec<Arc<Session<u32>>> = Vec::new();
                        for i in 0..OPS_PER_THREAD / 4 {
                            if i % 512 == 0 && start.elapsed() > DEADLINE {
                                break;
                            }
                            let id = (rng.below(24) as u32).to_be_bytes();
                            match rng.below(10) {
                                0..=2 => {
                                    let s = Arc::new(
                                        Session::new(&id, clock_now(clock), rng.below(8), i)
                                            .unwrap(),
                                    );
                                    cache.add(&s);
                                    held.push(s);
                                }
                                3 => {
                                    if let Some(s) = pick(&mut rng, &held) {
                                        cache.add(s);
                                    }
                                }
                                4 => {
                                    cache.remove(&Session::new(&id, 0, 0, 0).unwrap());
                                }
                                5 => {
                                    cache.take(&id);
                                }
                                6 | 7 => {
                                    cache.lookup(&id);
                                }
                                8 => {
                                    cache.flush(clock_now(clock));
                                    clock.advance(1);
                                }
                                _ => {
                                    if t == 0 && rng.below(20) == 0 {
                                        cache.set_capacity(capacity + (rng.below(3) as usize));
                                    }
                                    let _ = cache.contains(&id);
                                }
                            }
                            if held.len() > 256 {
                                held.drain(..128);
                            }
                        }
                    });
                }
            });
            cache.set_capacity(capacity);
            let (map, index, _) = cache.debug_sizes();
            assert_eq!(
                (map, index),
                (cache.len(), cache.len()),
                "threads {threads} cap {capacity}"
            );
            assert!(cache.len() <= capacity);
            let present = (0..24u32)
                .filter(|i| cache.contains(&i.to_be_bytes()))
                .count();
            assert_eq!(present, cache.len());
        }
    }
}

/// An id replaced over and over (each replacement expiring sooner) while
/// other threads add new ids, at capacity 1: whenever everything stops the
/// cache holds one session.
#[test]
fn replacements_racing_new_ids_keep_the_bound() {
    for threads in THREADS {
        let cache: SessionCache<u32> = SessionCache::builder().capacity(1).table_buckets(2).build();
        let barrier = Barrier::new(threads as usize);
        let start = Instant::now();
        let rounds = 3_000u32;
        std::thread::scope(|s| {
            for t in 0..threads {
                let (cache, barrier) = (&cache, &barrier);
                s.spawn(move || {
                    for round in 0..rounds {
                        if t == 0 {
                            let expiry = u64::from(rounds - round) * 10;
                            cache.add(&Arc::new(Session::new(b"churn", 0, expiry, round).unwrap()));
                        } else {
                            let id = [t.to_be_bytes(), round.to_be_bytes()].concat();
                            let expiry = 100_000 + u64::from(round);
                            cache.add(&Arc::new(Session::new(&id, 0, expiry, round).unwrap()));
                        }
                        // Quiescent point: every thread has finished its add.
                        let leader = barrier.wait().is_leader();
                        if leader {
                            assert_eq!(cache.len(), 1, "round {round}: over the bound");
                            let (map, index, _) = cache.debug_sizes();
                            assert_eq!((map, index), (1, 1), "round {round}");
                        }
                        let stop = start.elapsed() > DEADLINE;
                        barrier.wait();
                        if stop {
                            break;
                        }
                    }
                });
            }
        });
    }
}
