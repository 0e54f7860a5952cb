//! The tokio runtime `zkserver` runs on, with a small blocking pool.
//!
//! The quorum shells run their database calls (log appends, fsyncs, snapshots) inside
//! `block_in_place` ([`zk_quorum::zab::db`]): the worker hands its core to a thread of the
//! blocking pool and blocks. A follower does that for every batch of packets from the
//! leader, a few thousand times a second under load. When no pool thread is idle at that
//! instant (the thread that blocked last is not back yet: startup, a burst, a thread
//! descheduled on a busy machine) the pool starts another one; afterwards the idle threads
//! are woken in turn, none stays idle for the 10 s keep-alive, and the pool never shrinks.
//! With tokio's default cap (512) the thread count only ratchets up, and every thread that
//! ran tasks keeps its own allocator heap (mimalloc's thread-local pages, 0.3-0.5 MiB each
//! here): followers with 16-18 threads sat 3-5 MiB above a leader with 6-8, and a follower's
//! RSS that stepped from 13 to 27 MiB in a 30-minute soak had no other cause found
//! (docs/rss-soak.md).
//!
//! Capping the pool bounds that. The cap is the most threads blocked at once the server
//! needs: the learner's or the leader's quorum shell (one each), and the occasional
//! `spawn_blocking` (a 3.9 admin `snapshot`, metrics probes, a `lookup_host`). When all are
//! busy a `block_in_place` still proceeds (its core waits for the next free thread) and a
//! `spawn_blocking` queues; none of them waits for a task on the pool (a leader's SNAP
//! waits for the pipeline, which runs on the main thread), so the queue always drains.

/// Most threads of the blocking pool, on top of the worker threads (tokio's default: 512).
pub const MAX_BLOCKING_THREADS: usize = 8;

/// The multi-threaded runtime `zkserver` runs on (one worker per CPU, all drivers).
pub fn builder() -> tokio::runtime::Builder {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all().max_blocking_threads(MAX_BLOCKING_THREADS);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// Threads a 2-worker runtime from `b` starts while 24 tasks hand their core off with
    /// `block_in_place` (slow blocking calls, as fsyncs on a busy machine) and 24
    /// `spawn_blocking` calls run.
    fn threads_started(mut b: tokio::runtime::Builder) -> usize {
        let started = Arc::new(AtomicUsize::new(0));
        let counter = started.clone();
        let rt = b
            .worker_threads(2)
            .on_thread_start(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..24 {
                tasks.push(tokio::spawn(async {
                    for _ in 0..3 {
                        tokio::task::block_in_place(|| {
                            std::thread::sleep(Duration::from_millis(20))
                        });
                        tokio::task::yield_now().await;
                    }
                }));
                tasks.push(tokio::spawn(async {
                    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(20)))
                        .await
                        .unwrap();
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
        drop(rt);
        started.load(Ordering::SeqCst)
    }

    #[test]
    fn the_blocking_pool_is_capped() {
        let n = threads_started(builder());
        assert!(n <= 2 + MAX_BLOCKING_THREADS, "{n} threads");
        // The same load on tokio's default pool starts a thread per blocked call: what the
        // cap is for.
        let mut default = tokio::runtime::Builder::new_multi_thread();
        default.enable_all();
        let unbounded = threads_started(default);
        assert!(unbounded > 2 + MAX_BLOCKING_THREADS, "{unbounded} threads");
    }
}
