//! What the benchmark helpers share: a measure of the whole machine's work.

/// CPU seconds the whole machine has spent busy since boot (every process: the benchmark's own,
/// and the broker's and warehouse's serving it), from `/proc/stat`. The difference across a
/// step is what the step cost, wherever its work ran.
pub fn machine_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat (Linux only)");
    let jiffies: u64 = stat
        .lines()
        .next()
        .expect("/proc/stat's cpu line")
        .split_whitespace()
        .skip(1)
        .enumerate()
        // user nice system idle iowait irq softirq steal: all but idle and iowait.
        .filter(|(field, _)| *field < 8 && *field != 3 && *field != 4)
        .map(|(_, value)| value.parse::<u64>().expect("a jiffy count"))
        .sum();
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    jiffies as f64 / per_second as f64
}
