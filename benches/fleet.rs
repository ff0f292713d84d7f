//! The fleet simulation for 100,000 clients (issue 17): every scenario with
//! the default event jitter (J = 10 s), and the regional outage also
//! without any jitter (J = 0); prints the Markdown table that
//! benches/RESULTS.md keeps, and the time it took.
//!
//! `cargo bench --bench fleet` (release build; `FLEET_CLIENTS=N` for
//! another fleet size, `FLEET_ALL=1` to run every scenario without jitter
//! too). The model is in `benches/fleet/sim.rs`; `tests/fleet.rs` asserts
//! the targets on a smaller fleet.

#[path = "fleet/sim.rs"]
mod sim;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use sim::Scenario;

/// The world's randomness: fixed, so the table is reproducible.
const WORLD_SEED: u64 = 17;

fn main() {
    let clients = std::env::var("FLEET_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let all = std::env::var_os("FLEET_ALL").is_some();
    let mut runs = Vec::new();
    for scenario in Scenario::ALL {
        runs.push((scenario, 10));
        if all || scenario == Scenario::Outage {
            runs.push((scenario, 0));
        }
    }
    // The runs are independent: one thread per core takes the next.
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads.min(runs.len()) {
            s.spawn(|| {
                while let Some(&(scenario, jitter_s)) =
                    runs.get(next.fetch_add(1, Ordering::Relaxed))
                {
                    let report = sim::run(scenario, clients, jitter_s, WORLD_SEED);
                    done.lock().expect("no run panicked").push(report);
                }
            });
        }
    });
    let mut reports = done.into_inner().expect("no run panicked");
    // Table order: as listed, whichever thread finished first.
    reports.sort_by_key(|r| {
        runs.iter()
            .position(|&(s, j)| s == r.scenario && j == r.jitter_s)
    });
    print!("{}", sim::table(&reports));
    println!(
        "\n{clients} clients, {} runs on {threads} threads, {:.1} s",
        reports.len(),
        started.elapsed().as_secs_f64()
    );
}
