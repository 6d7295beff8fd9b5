//! Running independent pieces of engine work on worker threads: a shared
//! queue of indices, workers with stacks large enough for the engine, and
//! results back in input order.

use std::sync::Mutex;

/// Stack size for worker threads running the engine. The host side of
/// compilation and of deep wasm recursion needs more than a thread's 2 MiB
/// default on some targets (s390x under QEMU overflowed it).
pub const WORKER_STACK: usize = 32 << 20;

/// `f` applied to every item on `threads` workers (at least one, at most
/// one per item); the results come back in `items` order.
pub fn map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            let worker = std::thread::Builder::new().stack_size(WORKER_STACK);
            let spawned = worker.spawn_scoped(scope, || {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                        *n += 1;
                        *n - 1
                    };
                    let Some(item) = items.get(i) else { break };
                    let result = f(i, item);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
            // Only fails when the system cannot make a thread at all.
            let _worker = spawned.expect("spawning a worker thread");
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_input_order_whatever_the_thread_count() {
        // Few threads in all: this test also runs under QEMU, where every
        // thread started is a small chance of an emulator crash.
        for (n, threads) in [(50u64, 0), (50, 1), (50, 3), (5, 100)] {
            let items: Vec<u64> = (0..n).collect();
            assert_eq!(
                super::map(&items, threads, |i, x| (i as u64) * 1000 + x * 2),
                (0..n).map(|x| x * 1002).collect::<Vec<_>>(),
                "{threads} threads over {n} items"
            );
        }
        assert!(super::map(&[] as &[u8], 4, |_, x| *x).is_empty());
    }
}
