//! Reads every user with its NT hash from a 10,000-user domain through the ldb thread and
//! prints objects/s and peak RSS. Run: `cargo bench --bench directory`.
//! Targets (issue 2): the full read under 1 s, peak RSS under 100 MB.
//! Then the password path's reads of users by name: one search per user against searches of
//! several names (`USERS=50000` runs it all on the load bench's 50,000-user domain).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::fixture::{self, Shape};
use common::samba::Dc;
use samba_entra_sync::samba::LdbHandle;
use samba_entra_sync::samba::directory::{self, ReadOptions};

fn users() -> usize {
    std::env::var("USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn status_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let t = Instant::now();
    let users = users();
    let shape = Shape { users, groups: 0, computers: 0, members_per_group: 0 };
    let dc = Dc::cached(&format!("bulk{users}"), |dc| fixture::populate(dc, shape));
    eprintln!("fixture ready in {:.1} s (cached after the first run)", t.elapsed().as_secs_f64());

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let t = Instant::now();
        let ldb = LdbHandle::open(&dc.sam_ldb()).await.expect("open sam.ldb");
        let open = t.elapsed();
        println!(
            "after open: RSS {:.1} MB (anon {:.1}, file {:.1})",
            status_mb("VmRSS:"),
            status_mb("RssAnon:"),
            status_mb("RssFile:")
        );
        // First a streaming pass that keeps nothing: the reader's own footprint.
        let t = Instant::now();
        let streamed = ldb
            .call(|conn| {
                let mut n = 0usize;
                conn.search_each(
                    &samba_entra_sync::samba::ldb::Base::Domain,
                    samba_entra_sync::samba::ldb::Scope::Subtree,
                    directory::USER_FILTER,
                    &["sAMAccountName", "objectGUID", "msDS-KeyVersionNumber", "unicodePwd"],
                    |e| n += usize::from(e.first("unicodePwd").is_some_and(|h| h.len() == 16)),
                )?;
                Ok(n)
            })
            .await
            .expect("streaming read");
        println!(
            "streaming read: {streamed} NT hashes in {:.3} s; RSS now {:.1} MB (anon {:.1}), peak {:.1} MB",
            t.elapsed().as_secs_f64(),
            status_mb("VmRSS:"),
            status_mb("RssAnon:"),
            peak_rss_mb()
        );
        let mut best = f64::MAX;
        for round in 0..3 {
            let t = Instant::now();
            let (n, hashes) = ldb
                .call(|conn| {
                    let users = directory::read_users(conn, &ReadOptions { with_nt_hash: true, ..Default::default() })?;
                    let hashes = users.iter().filter(|u| u.nt_hash.is_some()).count();
                    Ok((users.len(), hashes))
                })
                .await
                .expect("read users");
            let secs = t.elapsed().as_secs_f64();
            best = best.min(secs);
            assert!(n >= users && hashes >= users, "read {n} users, {hashes} with hashes");
            println!(
                "directory read round {round}: {n} users with NT hashes in {:.3} s = {:.0} objects/s",
                secs,
                n as f64 / secs
            );
        }
        lookups_by_name(&ldb).await;
        println!("sam.ldb open (schema load): {:.3} s", open.as_secs_f64());
        println!("best full read: {best:.3} s (target < 1 s); peak RSS {:.1} MB (target < 100 MB)", peak_rss_mb());
    });
}

/// The password path reads each user it pushes by sAMAccountName: one search per user, or
/// one search per batch of names. Prints the cost per user of each.
async fn lookups_by_name(ldb: &LdbHandle) {
    let names: Vec<String> = ldb
        .call(|conn| directory::read_users(conn, &ReadOptions::default()))
        .await
        .expect("read users")
        .into_iter()
        .map(|u| u.id.sam_account_name)
        .step_by(7)
        .take(4_000)
        .collect();
    for batch in [1usize, 8, 16, 32, 64] {
        let wanted = names.clone();
        let (found, secs) = ldb
            .call(move |conn| {
                let t = Instant::now();
                let mut found = 0;
                for part in wanted.chunks(batch) {
                    if batch == 1 {
                        found += usize::from(directory::find_user_matching(conn, &part[0], None, true)?.is_some());
                    } else {
                        let part: Vec<&str> = part.iter().map(String::as_str).collect();
                        found += directory::find_users_matching(conn, &part, None, true)?.len();
                    }
                }
                Ok((found, t.elapsed().as_secs_f64()))
            })
            .await
            .expect("lookups");
        assert_eq!(found, names.len(), "every name found");
        println!(
            "users read by name with their hashes, {batch} a search: {:.3} ms a user ({found} users)",
            secs * 1000.0 / found as f64
        );
    }
}
