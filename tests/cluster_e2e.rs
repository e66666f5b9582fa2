//! Domains with several DCs (issue 15), on the two-DC lab: DC2 joined to DC1, each DC in its
//! own network namespace, replicating both ways, each with the real hook and (mostly) its own
//! daemon, one emulator for both.

mod common;

use std::time::Duration;

use common::two_dcs::TwoDcs;

/// The lab itself: a user made on either DC reaches the other, and a password reset too.
#[test]
fn the_two_dc_lab_replicates_both_ways() {
    let mut lab = TwoDcs::new();
    lab.start_both();
    for (from, to, name) in [(&lab.dc2, &lab.dc1, "fromdc2"), (&lab.dc1, &lab.dc2, "fromdc1")] {
        TwoDcs::samba_tool_on(from, &["user", "create", name, "Repl!Pass-1", "-H", "ldap://127.0.0.1"]);
        let pls = from.ldbsearch_values(&format!("(sAMAccountName={name})"), "pwdLastSet").remove(0);
        let took = TwoDcs::wait_replicated(
            to,
            &format!("(sAMAccountName={name})"),
            "pwdLastSet",
            &pls,
            Duration::from_secs(30),
        );
        eprintln!("{name}: new user replicated in {took:?}");
        assert!(took.is_some(), "{name} did not replicate within 30 s");
        let out = from.reset_password(name, "Repl!Pass-2");
        assert!(out.status.success(), "reset: {}", String::from_utf8_lossy(&out.stderr));
        let pls = from.ldbsearch_values(&format!("(sAMAccountName={name})"), "pwdLastSet").remove(0);
        let took = TwoDcs::wait_replicated(
            to,
            &format!("(sAMAccountName={name})"),
            "pwdLastSet",
            &pls,
            Duration::from_secs(30),
        );
        eprintln!("{name}: password reset replicated in {took:?}");
        assert!(took.is_some(), "{name}'s reset did not replicate within 30 s");
    }
}
