//! PHS credentials per second, on one core and on all cores: `cargo bench --bench phs`.
//! A full sync of a large domain derives one credential per user, so this bounds how fast the
//! first password push can go. Set PHS_BENCH_SECONDS to change the measuring time (default 3).

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use samba_entra_sync::entra::credential::{credential_data, nt_hash_of_password};

/// Derives credentials for `window`; returns how many were made and the time actually taken.
fn run_for(window: Duration, seed: u8) -> (u64, Duration) {
    let mut nt = *nt_hash_of_password("bench password");
    nt[0] ^= seed;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        for _ in 0..50 {
            black_box(credential_data(black_box(&nt)));
            nt[15] = nt[15].wrapping_add(1);
        }
        n += 50;
    }
    (n, start.elapsed())
}

fn main() {
    let seconds: u64 = std::env::var("PHS_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let window = Duration::from_secs(seconds);
    let threads = thread::available_parallelism().map_or(1, |n| n.get());

    // Warm up caches and CPU frequency before measuring.
    run_for(Duration::from_millis(300), 0);

    let (n, took) = run_for(window, 1);
    let per_core = n as f64 / took.as_secs_f64();
    println!("phs credential (PBKDF2-HMAC-SHA256, 1000 iterations): {per_core:.0}/s on 1 thread ({n} in {took:.2?})");

    let start = Instant::now();
    let counts: Vec<u64> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|i| s.spawn(move || run_for(window, i as u8 + 2).0)).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    let took = start.elapsed();
    let total: u64 = counts.iter().sum();
    let all = total as f64 / took.as_secs_f64();
    println!(
        "phs credential (PBKDF2-HMAC-SHA256, 1000 iterations): {all:.0}/s on {threads} threads ({:.0}/s per thread)",
        all / threads as f64
    );
}
