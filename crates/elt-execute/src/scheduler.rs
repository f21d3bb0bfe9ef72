//! Runs a dependency graph of jobs on a fixed number of threads: a job starts once all of its
//! parents have finished. When a job fails in a way that blocks, every job downstream of it is
//! handed to the worker as skipped (with the failed job's id) instead of being run. Ready jobs
//! of one batch (the caller's key) are handed to a worker together, to run as one.

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

/// A job handed to a worker: its index and, when it is skipped, the failed job upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    pub index: usize,
    pub skipped_by: Option<usize>,
}

/// Runs jobs `0..parents.len()`; `parents[i]` are the jobs that job `i` waits for. Each thread
/// makes its own state with `init` (e.g. a warehouse session) and passes it to `work` with the
/// jobs to run: one, or every ready job of its batch (`batch` gives jobs that may run together
/// the same key), and `work` returns one [`Finished`] per job. Jobs start in index order where
/// the graph allows, so callers order them topologically. Returns the values in job order.
pub fn run<S, T, K, B, I, W>(
    parents: &[Vec<usize>],
    threads: usize,
    batch: B,
    init: I,
    work: W,
) -> Vec<T>
where
    T: Send,
    K: PartialEq,
    B: Fn(usize) -> Option<K> + Sync,
    I: Fn() -> S + Sync,
    W: Fn(&mut S, &[Job]) -> Vec<Finished<T>> + Sync,
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
            let jobs = {
                let mut state = state.lock().expect("scheduler lock");
                loop {
                    if let Some(first) = state.ready.pop_front() {
                        break take_batch(&mut state, first, &batch);
                    }
                    if state.finished == total {
                        return;
                    }
                    state = wake.wait(state).expect("scheduler lock");
                }
            };
            let finished = work(&mut own, &jobs);
            assert_eq!(finished.len(), jobs.len(), "one result per job");
            let mut state = state.lock().expect("scheduler lock");
            for (job, finished) in jobs.iter().zip(finished) {
                *results[job.index].lock().expect("result slot") = Some(finished.value);
                state.finished += 1;
                let cause = job.skipped_by.or(finished.blocks.then_some(job.index));
                for &child in &children[job.index] {
                    if state.blocked_by[child].is_none() {
                        state.blocked_by[child] = cause;
                    }
                    state.waiting_on[child] -= 1;
                    if state.waiting_on[child] == 0 {
                        state.ready.push_back(child);
                    }
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

/// `first` and the ready jobs of its batch that share its fate (skipped by the same job, or
/// not skipped), taken off the ready queue.
fn take_batch<K: PartialEq>(
    state: &mut State,
    first: usize,
    batch: &impl Fn(usize) -> Option<K>,
) -> Vec<Job> {
    let fate = state.blocked_by[first];
    let mut indices = vec![first];
    if let Some(key) = batch(first) {
        let blocked_by = &state.blocked_by;
        let (together, rest): (VecDeque<usize>, VecDeque<usize>) = state
            .ready
            .drain(..)
            .partition(|&other| blocked_by[other] == fate && batch(other).as_ref() == Some(&key));
        state.ready = rest;
        indices.extend(together);
    }
    indices
        .into_iter()
        .map(|index| Job {
            index,
            skipped_by: fate,
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
            |_| None::<()>,
            || (),
            |_, jobs| {
                jobs.iter()
                    .map(|job| {
                        let at = clock.fetch_add(1, Ordering::SeqCst);
                        Finished {
                            value: (job.index, at, job.skipped_by),
                            blocks: job.index == 1,
                        }
                    })
                    .collect()
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
            |_| None::<()>,
            || (),
            |_, jobs| {
                jobs.iter()
                    .map(|job| Finished {
                        value: job.skipped_by,
                        blocks: job.index == 0,
                    })
                    .collect()
            },
        );
        assert_eq!(out, vec![None, Some(0), Some(0)]);
        let none: Vec<u8> = run(&[], 4, |_| None::<()>, || (), |_, _| unreachable!());
        assert!(none.is_empty());
    }

    #[test]
    fn ready_jobs_of_one_batch_run_together_and_others_alone() {
        // 0 -> {1, 2, 3}, 1 and 2 in batch 'a', 3 in none; 4 -> 5, in batch 'b'.
        let parents = vec![vec![], vec![0], vec![0], vec![0], vec![], vec![4]];
        let batch = |job: usize| match job {
            1 | 2 => Some('a'),
            5 => Some('b'),
            _ => None,
        };
        let calls = Mutex::new(Vec::new());
        run(
            &parents,
            1,
            batch,
            || (),
            |_, jobs| {
                let indices: Vec<usize> = jobs.iter().map(|j| j.index).collect();
                calls.lock().unwrap().push(indices);
                jobs.iter()
                    .map(|_| Finished {
                        value: (),
                        blocks: false,
                    })
                    .collect()
            },
        );
        let calls = calls.into_inner().unwrap();
        assert!(calls.contains(&vec![1, 2]), "{calls:?}");
        assert!(calls.contains(&vec![3]), "{calls:?}");
        assert_eq!(calls.iter().map(Vec::len).sum::<usize>(), 6);
    }
}
