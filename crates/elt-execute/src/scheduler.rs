//! Runs a dependency graph of jobs on a fixed number of threads: a job starts once all of its
//! parents have finished. When a job fails in a way that blocks, every job downstream of it is
//! handed to the worker as skipped (with the failed job's id) instead of being run.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

/// What a worker reports back about one job.
pub struct Finished<T> {
    pub value: T,
    /// Whether jobs downstream must be skipped.
    pub blocks: bool,
}

struct State {
    ready: VecDeque<usize>,
    waiting_on: Vec<usize>,
    /// The job whose failure skips this one.
    blocked_by: Vec<Option<usize>>,
    finished: usize,
}

/// Runs jobs `0..parents.len()`; `parents[i]` are the jobs that job `i` waits for. Each thread
/// makes its own state with `init` (e.g. a warehouse session) and passes it to `work` with the
/// job's index and, when the job is skipped, the index of the failed job upstream. Jobs start
/// in index order where the graph allows, so callers order them topologically. Returns the
/// values in job order.
pub fn run<S, T, I, W>(parents: &[Vec<usize>], threads: usize, init: I, work: W) -> Vec<T>
where
    T: Send,
    I: Fn() -> S + Sync,
    W: Fn(&mut S, usize, Option<usize>) -> Finished<T> + Sync,
{
    let total = parents.len();
    let mut children = vec![Vec::new(); total];
    for (child, list) in parents.iter().enumerate() {
        for &parent in list {
            children[parent].push(child);
        }
    }
    let state = Mutex::new(State {
        ready: (0..total).filter(|&i| parents[i].is_empty()).collect(),
        waiting_on: parents.iter().map(Vec::len).collect(),
        blocked_by: vec![None; total],
        finished: 0,
    });
    let wake = Condvar::new();
    let results: Vec<Mutex<Option<T>>> = (0..total).map(|_| Mutex::new(None)).collect();

    let worker = || {
        let mut own = init();
        loop {
            let (job, skipped_by) = {
                let mut state = state.lock().expect("scheduler lock");
                loop {
                    if let Some(job) = state.ready.pop_front() {
                        break (job, state.blocked_by[job]);
                    }
                    if state.finished == total {
                        return;
                    }
                    state = wake.wait(state).expect("scheduler lock");
                }
            };
            let finished = work(&mut own, job, skipped_by);
            *results[job].lock().expect("result slot") = Some(finished.value);
            let mut state = state.lock().expect("scheduler lock");
            state.finished += 1;
            let cause = skipped_by.or(finished.blocks.then_some(job));
            for &child in &children[job] {
                if state.blocked_by[child].is_none() {
                    state.blocked_by[child] = cause;
                }
                state.waiting_on[child] -= 1;
                if state.waiting_on[child] == 0 {
                    state.ready.push_back(child);
                }
            }
            wake.notify_all();
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, total.max(1)) {
            scope.spawn(worker);
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .expect("result slot")
                .expect("every job ran")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn parents_finish_before_children_and_failures_skip_downstream() {
        // 0 -> 1 -> 3, 0 -> 2, 4 alone; job 1 fails.
        let parents = vec![vec![], vec![0], vec![0], vec![1], vec![]];
        let clock = AtomicUsize::new(0);
        let out = run(
            &parents,
            3,
            || (),
            |_, job, skipped_by| {
                let at = clock.fetch_add(1, Ordering::SeqCst);
                Finished {
                    value: (job, at, skipped_by),
                    blocks: job == 1,
                }
            },
        );
        let at = |job: usize| out[job].1;
        assert!(at(0) < at(1) && at(0) < at(2) && at(1) < at(3));
        assert_eq!(out[3].2, Some(1), "job 3 is skipped because of job 1");
        assert_eq!(out[2].2, None);
        assert_eq!(out[4].2, None);
    }

    #[test]
    fn skips_pass_through_several_levels_and_empty_graphs_work() {
        let parents = vec![vec![], vec![0], vec![1]];
        let out = run(
            &parents,
            2,
            || (),
            |_, job, skipped_by| Finished {
                value: skipped_by,
                blocks: job == 0,
            },
        );
        assert_eq!(out, vec![None, Some(0), Some(0)]);
        let none: Vec<u8> = run(&[], 4, || (), |_, _, _| unreachable!());
        assert!(none.is_empty());
    }
}
