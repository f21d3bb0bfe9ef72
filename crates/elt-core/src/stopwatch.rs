//! Stage timings and memory for `ELT_LOG=debug`: where a command spends its time.

use std::cell::Cell;
use std::time::Instant;

/// Logs the time since the previous lap, and the resident memory, at debug level.
pub struct Stopwatch(Cell<Instant>);

impl Stopwatch {
    pub fn start() -> Self {
        Self(Cell::new(Instant::now()))
    }

    pub fn lap(&self, stage: &str) {
        let now = Instant::now();
        tracing::debug!(
            "{stage}: {:.1} ms (RSS {:.0} MiB)",
            (now - self.0.get()).as_secs_f64() * 1000.0,
            resident_mib()
        );
        self.0.set(now);
    }
}

/// Resident memory of this process in MiB (Linux; 0 elsewhere).
pub fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0 / 1_048_576.0)
}
