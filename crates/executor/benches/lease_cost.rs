//! What renewing a step run's lease costs a `FileStore`, per renewal: CPU time, user and
//! system (the whole process's, so the blocking pool's threads are counted), and wall
//! time. `LEASES` leases are taken in a directory under the target directory (the disk
//! a state directory is on), then renewed `ROUNDS` times: all at once (a host's waits
//! that started together come due together), and one after another. On a
//! current-thread runtime, as the `runwait` CLI's. Prints a table; asserts nothing.
//!
//! `cargo bench -p runwait-executor --bench lease_cost`

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use runwait_executor::{FileStore, RunKey, StateStore, StepKey, StepLock};

const LEASES: usize = 1_000;
const ROUNDS: u32 = 20;

/// This process's user and system CPU time from `/proc/self/stat` (10 ms ticks: coarse,
/// so the renewals measured are many).
fn user_and_system() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command
    // name (which may hold spaces) in parentheses.
    let mut after_name = stat
        .rsplit_once(") ")
        .map_or("", |(_, rest)| rest)
        .split(' ')
        .skip(11)
        .map(|f| f.parse::<u64>().unwrap_or(0) * 10);
    let mut next = || Duration::from_millis(after_name.next().unwrap_or(0));
    (next(), next())
}

/// Per renewal over `renewals` renewals that `run` makes: user, system and wall time.
async fn measure<F: Future<Output = ()>>(renewals: u32, run: F) -> [Duration; 3] {
    let (user, system) = user_and_system();
    let start = Instant::now();
    run.await;
    let took = start.elapsed();
    let (user_after, system_after) = user_and_system();
    [user_after - user, system_after - system, took].map(|d| d / renewals)
}

async fn bench() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(base).expect("a directory for the state");
    let store = FileStore::new(dir.path());
    let mut locks: Vec<Box<dyn StepLock>> = Vec::with_capacity(LEASES);
    for i in 0..LEASES {
        let key = StepKey::new("bench", format!("w{i}"), RunKey::new("lease-cost"));
        locks.push(store.lock(&key).await.expect("a lease"));
    }
    let renew_all = async {
        for _ in 0..ROUNDS {
            for renewed in join_all(locks.iter().map(|l| l.renew())).await {
                renewed.expect("a renewal");
            }
        }
    };
    let renewals = u32::try_from(LEASES).unwrap_or(u32::MAX) * ROUNDS;
    let at_once = measure(renewals, renew_all).await;
    let one_by_one = measure(renewals, async {
        for _ in 0..ROUNDS {
            for lock in &locks {
                lock.renew().await.expect("a renewal");
            }
        }
    })
    .await;
    println!("lease renewal, file store, {LEASES} leases renewed {ROUNDS} times");
    println!(
        "{:<16} {:>10} {:>10} {:>10}",
        "", "user µs", "system µs", "wall µs"
    );
    for (name, [user, system, wall]) in [("all at once", at_once), ("one by one", one_by_one)] {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{name:<16} {:>10.1} {:>10.1} {:>10.1}",
            us(user),
            us(system),
            us(wall)
        );
    }
    for lock in locks {
        lock.release().await.expect("a release");
    }
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(bench());
}
