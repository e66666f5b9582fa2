//! Hostile server answers: every file of the decoder's fuzz corpus (fuzz/seeds/nbfx_decode),
//! and mutated variants of each (truncations, bit flips, spliced garbage), replayed as HTTP
//! answers to the client. Each call must end in a value or a typed error, never a panic.

use std::sync::{Arc, Mutex};

use samba_entra_sync::entra::client::SyncError;

use super::server::{Reply, TestServer};
use super::support::harness;

/// A small deterministic generator (xorshift64): the same variants on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/nbfx_decode");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("the fuzz corpus")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("seed"))
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn variants(seeds: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut out = seeds.to_vec();
    for seed in seeds {
        for cut in (0..seed.len()).step_by(11) {
            out.push(seed[..cut].to_vec());
        }
        for _ in 0..60 {
            let mut v = seed.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(v.len());
                v[at] ^= 1 << rng.below(8);
            }
            out.push(v);
        }
        for _ in 0..20 {
            let mut v = seed.clone();
            let at = rng.below(v.len());
            let junk: Vec<u8> = (0..1 + rng.below(64)).map(|_| rng.next() as u8).collect();
            v.splice(at..at, junk);
            out.push(v);
        }
        // Huge declared lengths: a length byte set to its maximum at random places.
        for _ in 0..20 {
            let mut v = seed.clone();
            let at = rng.below(v.len());
            v[at] = 0xff;
            out.push(v);
        }
    }
    out
}

#[tokio::test]
async fn the_fuzz_corpus_and_its_mutations_as_answers_give_typed_errors() {
    let bodies = variants(&corpus());
    let current: Arc<Mutex<Vec<u8>>> = Arc::default();
    let served = current.clone();
    let server = TestServer::start(move |_, _| Reply::new(200, served.lock().expect("lock").clone())).await;
    let h = harness(&server.url, |_| {});
    let (mut errors, mut values) = (0usize, 0usize);
    for body in &bodies {
        *current.lock().expect("lock") = body.clone();
        let outcomes: [Result<(), SyncError>; 3] = [
            h.client.get_company_configuration().await.map(|_| ()),
            h.client.capabilities().await.map(|_| ()),
            h.client.finalize_export(1, 1).await,
        ];
        for outcome in outcomes {
            match outcome {
                Ok(()) => values += 1,
                Err(e) => {
                    let text = e.to_string();
                    assert!(!text.trim().is_empty() && !text.contains('\n'), "not one sentence: {text:?}");
                    errors += 1;
                }
            }
        }
        // The probe turns anything unreadable into a verdict, never a crash.
        let _ = h.client.probe().await;
    }
    println!("{} hostile answers: {errors} typed errors, {values} values", bodies.len());
    println!(
        "RELIABILITY|hostile server answers|{} answers (fuzz corpus + mutations) x 4 calls|every answer hostile|pass: {errors} typed errors, {values} values, no panic|0",
        bodies.len()
    );
    assert!(bodies.len() > 300, "too few variants: {}", bodies.len());
    // The seeds are not answers to these operations: most calls must be refused.
    assert!(errors > values, "{errors} errors vs {values} values");
}
