//! The daemon's life under a service manager: READY only when ready, watchdog pings, SIGHUP
//! reloads (a bad config is refused and the old one kept), SIGTERM stops within seconds and
//! loses nothing.

mod common;

use std::time::Duration;

use common::stack::Stack;

fn stack() -> Stack {
    let s = Stack::start(|dc| dc.create_user("alice", "Al1ce!Pass-1"), "", &[]);
    assert!(
        s.emu.wait_password("alice@lab.test", "Al1ce!Pass-1", Duration::from_secs(30)).is_some(),
        "{}",
        s.daemon.logs()
    );
    s
}

#[test]
fn watchdog_reload_and_stop() {
    let mut s = stack();
    // The watchdog: restart with WATCHDOG_USEC set, as systemd does with WatchdogSec=.
    s.daemon.stop();
    s.daemon.env.push(("WATCHDOG_USEC".into(), "1000000".into()));
    s.daemon.start_again();
    let msgs = s.daemon.notify_messages(Duration::from_secs(3));
    let pings = msgs.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(pings >= 3, "expected watchdog pings every 0.5 s, got {msgs:?}");

    // A broken config on SIGHUP: refused, the old one kept, the reason logged, still syncing.
    let good = std::fs::read_to_string(&s.daemon.config).expect("config");
    std::fs::write(&s.daemon.config, format!("{good}\nnot_a_key = 1\n")).expect("write");
    s.daemon.signal("HUP");
    std::thread::sleep(Duration::from_secs(1));
    assert!(s.daemon.logs().contains("config reload refused"), "{}", s.daemon.logs());
    assert!(s.daemon.logs().contains("not_a_key"), "the reason names the key:\n{}", s.daemon.logs());
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Hup-2");
    assert!(out.status.success());
    assert!(
        s.emu.wait_password("alice@lab.test", "Al1ce!Hup-2", Duration::from_secs(10)).is_some(),
        "{}",
        s.daemon.logs()
    );

    // A good config on SIGHUP: the engine restarts and says READY again.
    std::fs::write(&s.daemon.config, &good).expect("write");
    s.daemon.signal("HUP");
    let msgs = s.daemon.notify_messages(Duration::from_secs(5));
    assert!(msgs.iter().any(|m| m == "RELOADING=1"), "{msgs:?}");
    assert!(msgs.iter().any(|m| m == "READY=1"), "{msgs:?}");
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Hup-3");
    assert!(out.status.success());
    assert!(
        s.emu.wait_password("alice@lab.test", "Al1ce!Hup-3", Duration::from_secs(10)).is_some(),
        "{}",
        s.daemon.logs()
    );

    // SIGTERM: STOPPING, then gone within a few seconds, exit 0.
    s.daemon.signal("TERM");
    let msgs = s.daemon.notify_messages(Duration::from_millis(500));
    assert!(msgs.iter().any(|m| m == "STOPPING=1"), "{msgs:?}");
    assert_eq!(s.daemon.wait_exit(Duration::from_secs(8)), Some(0), "{}", s.daemon.logs());
}

#[test]
fn a_new_user_created_while_running_gets_object_and_password() {
    let s = stack();
    let conf = s.dc.smb_conf();
    // Created over LDAP while everything runs: the hook fires before the user even exists.
    s.dc.exec_ok(&[
        "samba-tool",
        "user",
        "create",
        "bob",
        "B0b!Pass-1",
        "-s",
        &conf.to_string_lossy(),
        "-H",
        "ldap://127.0.0.1",
        "-U",
        &format!("Administrator%{}", common::samba::ADMIN_PASSWORD),
    ]);
    assert!(
        s.emu.wait_password("bob@lab.test", "B0b!Pass-1", Duration::from_secs(20)).is_some(),
        "a new user's object and first password did not arrive:\n{}",
        s.daemon.logs()
    );
}
