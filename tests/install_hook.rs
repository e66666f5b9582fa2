//! `install-hook` on copies of a real smb.conf (the one `samba-tool domain provision` wrote for
//! the test DC): the shown line, the written file as Samba's own parser reads it, the backup,
//! the refusals, and a foreign script chained behind the hook that Samba really runs.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::samba::Dc;

fn install_hook(conf: &Path, hook: &Path, extra: &[&str]) -> Output {
    Command::new(common::bin())
        .arg("install-hook")
        .arg("--smb-conf")
        .arg(conf)
        .arg("--hook")
        .arg(hook)
        .args(extra)
        .output()
        .expect("run install-hook")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// What Samba's own parser says the [global] value is.
fn testparm_value(conf: &Path) -> String {
    // testparm insists that the cache directory exists (a fresh DC copy has none yet).
    let conf_text = fs::read_to_string(conf).unwrap();
    if let Some(dir) = conf_text.lines().find_map(|l| l.trim().strip_prefix("cache directory = ")) {
        fs::create_dir_all(dir).unwrap();
    }
    let out = Command::new("testparm")
        .args(["-s", "--parameter-name=check password script"])
        .arg(conf)
        .output()
        .expect("testparm");
    assert!(out.status.success(), "testparm: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn backups(conf: &Path) -> Vec<PathBuf> {
    let name = conf.file_name().unwrap().to_string_lossy().to_string();
    let mut v: Vec<PathBuf> = fs::read_dir(conf.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("{name}.bak-")))
        .collect();
    v.sort();
    v
}

/// An executable stand-in for a check script in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn shows_then_applies_to_a_provisioned_smb_conf_with_a_backup() {
    let dc = Dc::new();
    let conf = dc.smb_conf();
    // Only the tools use the DC's files here: the file gets an unusual mode to check it is kept.
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o640)).unwrap();
    let original = fs::read_to_string(&conf).unwrap();
    assert_eq!(testparm_value(&conf), "", "the template must start without a script");
    let hook = common::stack::hook_path();
    let line = format!("check password script = {}", hook.display());

    let out = install_hook(&conf, &hook, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&line), "{}", text(&out));
    assert!(text(&out).contains("[global]"), "{}", text(&out));
    assert_eq!(fs::read_to_string(&conf).unwrap(), original, "without --apply nothing is written");
    assert!(backups(&conf).is_empty());

    let out = install_hook(&conf, &hook, &["--apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("restart samba") && said.contains("reload is not enough"), "{said}");
    assert_eq!(testparm_value(&conf), hook.display().to_string());
    let written = fs::read_to_string(&conf).unwrap();
    // Only the one line was added; everything else is as samba-tool wrote it.
    let added: Vec<&str> = written.lines().filter(|l| !original.lines().any(|o| o == *l)).collect();
    assert_eq!(added, vec![format!("\t{line}")]);
    assert_eq!(written.lines().count(), original.lines().count() + 1);
    assert_eq!(fs::metadata(&conf).unwrap().permissions().mode() & 0o777, 0o640);
    let b = backups(&conf);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(fs::read_to_string(&b[0]).unwrap(), original);
    let leftovers: Vec<_> = fs::read_dir(conf.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("install-hook"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    // Again: nothing to do, no second backup.
    let out = install_hook(&conf, &hook, &["--apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing to change"), "{}", text(&out));
    assert_eq!(fs::read_to_string(&conf).unwrap(), written);
    assert_eq!(backups(&conf).len(), 1);
}

#[test]
fn a_foreign_script_is_kept_unless_the_administrator_chooses() {
    let dc = Dc::new();
    let conf = dc.smb_conf();
    let tools = tempfile::tempdir().unwrap();
    let foreign = script(tools.path(), "site-check", "cat > /dev/null; exit 0");
    dc.set_global_option("check password script", &foreign.display().to_string());
    let before = fs::read_to_string(&conf).unwrap();
    let hook = common::stack::hook_path();

    let out = install_hook(&conf, &hook, &["--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(&foreign.display().to_string()), "the old value must be named: {}", text(&out));
    assert!(text(&out).contains("--chain"), "{}", text(&out));
    assert_eq!(fs::read_to_string(&conf).unwrap(), before);
    assert!(backups(&conf).is_empty());

    // --replace drops it, after saying what it was.
    let copy = dc.dir().join("etc/replace.conf");
    fs::copy(&conf, &copy).unwrap();
    let out = install_hook(&copy, &hook, &["--apply", "--replace"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("now:   check password script = {}", foreign.display())), "{}", text(&out));
    assert_eq!(testparm_value(&copy), hook.display().to_string());
}

#[test]
fn a_chained_script_runs_behind_the_hook_when_samba_changes_a_password() {
    let dc = Dc::new();
    let conf = dc.smb_conf();
    let tools = tempfile::tempdir().unwrap();
    let ran = tools.path().join("ran");
    let foreign = script(
        tools.path(),
        "site check",
        &format!("cat > /dev/null; echo \"$SAMBA_CPS_ACCOUNT_NAME\" >> '{}'", ran.display()),
    );
    // A path with a space must be quoted for Samba's /bin/sh -c.
    dc.set_global_option("check password script", &format!("'{}'", foreign.display()));
    let hook = common::stack::hook_path();

    let out = install_hook(&conf, &hook, &["--apply", "--chain"]);
    assert!(out.status.success(), "{}", text(&out));
    let value = testparm_value(&conf);
    assert!(value.starts_with(&format!("{} --chain ", hook.display())), "{value}");

    // samba-tool given the DC's smb.conf runs the script like the DC does.
    let out = Command::new("samba-tool")
        .args(["user", "create", "carol", "Car0l!Passw0rd-1"])
        .arg("-H")
        .arg(dc.sam_ldb())
        .arg("-s")
        .arg(&conf)
        .env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={}", tools.path().join("no-bus").display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "samba-tool: {}", text(&out));
    assert_eq!(fs::read_to_string(&ran).unwrap_or_default().trim(), "carol", "the chained script did not run");

    // Samba ran the site's script instead of its own complexity rule, so the chained script alone
    // decides (issue 16, item 4): a password it accepts is not refused by the hook.
    let out = Command::new("samba-tool")
        .args(["user", "setpassword", "carol", "--newpassword=aaaaaaaa"])
        .arg("-H")
        .arg(dc.sam_ldb())
        .arg("-s")
        .arg(&conf)
        .env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={}", tools.path().join("no-bus").display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "the hook refused a password the site's own script accepts: {}", text(&out));
}

#[test]
fn refuses_a_hook_that_cannot_run_and_a_file_without_global() {
    let dc = Dc::new();
    let conf = dc.smb_conf();
    let before = fs::read_to_string(&conf).unwrap();
    let out = install_hook(&conf, Path::new("/nonexistent/samba-entra-sync-hook"), &["--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("refuse every password change"), "{}", text(&out));
    assert_eq!(fs::read_to_string(&conf).unwrap(), before);
    assert!(backups(&conf).is_empty());

    let tools = tempfile::tempdir().unwrap();
    let not_exec = tools.path().join("samba-entra-sync-hook");
    fs::write(&not_exec, "").unwrap();
    let out = install_hook(&conf, &not_exec, &["--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(fs::read_to_string(&conf).unwrap(), before);

    let shares = tools.path().join("shares.conf");
    fs::write(&shares, "[homes]\n\tpath = /home\n").unwrap();
    let out = install_hook(&shares, &common::stack::hook_path(), &["--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no [global] section"), "{}", text(&out));
    let out = install_hook(&tools.path().join("missing.conf"), &common::stack::hook_path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_symlinked_smb_conf_stays_a_symlink() {
    let dc = Dc::new();
    let real = dc.smb_conf();
    let link = dc.dir().join("smb.conf.link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let hook = common::stack::hook_path();
    let out = install_hook(&link, &hook, &["--apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the symlink was replaced by a file");
    assert_eq!(testparm_value(&real), hook.display().to_string());
    assert_eq!(backups(&real).len(), 1, "the backup belongs next to the real file");
}

#[test]
fn remove_takes_the_hook_out_and_gives_a_chained_script_back() {
    let dc = Dc::new();
    let conf = dc.smb_conf();
    let tools = tempfile::tempdir().unwrap();
    let foreign = script(tools.path(), "site check", "cat > /dev/null; exit 0");
    let quoted = format!("'{}'", foreign.display());
    dc.set_global_option("check password script", &quoted);
    let original = fs::read_to_string(&conf).unwrap();
    let hook = common::stack::hook_path();
    let out = install_hook(&conf, &hook, &["--apply", "--chain"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(testparm_value(&conf).contains("--chain"));

    // Shown first, written with --apply (and a backup); Samba then runs the site's script alone.
    let out = install_hook(&conf, &hook, &["--remove"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("runs alone again"), "{}", text(&out));
    assert!(testparm_value(&conf).contains("--chain"), "without --apply nothing is written");
    let out = install_hook(&conf, &hook, &["--remove", "--apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(testparm_value(&conf), quoted, "the site's script is the entry again, as it was");
    assert_eq!(backups(&conf).len(), 2, "install and remove each keep a backup");
    let others =
        |t: &str| t.lines().filter(|l| !l.contains("check password script")).map(String::from).collect::<Vec<_>>();
    assert_eq!(others(&fs::read_to_string(&conf).unwrap()), others(&original), "everything else is as it was");
    // Nothing of ours left: a second --remove changes nothing.
    let out = install_hook(&conf, &hook, &["--remove", "--apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing to change"), "{}", text(&out));

    // Without a chained script, the line goes.
    let plain = Dc::new();
    let out = install_hook(&plain.smb_conf(), &hook, &["--apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = install_hook(&plain.smb_conf(), &hook, &["--remove", "--apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(testparm_value(&plain.smb_conf()), "");
}

/// Samba runs the value with `/bin/sh -c`: a hook path with a space, `;` or `$(...)` must be
/// quoted (it runs as the hook, and nothing in its name runs as a command), and a relative path
/// (which Samba would resolve against its own working directory) is refused.
#[test]
fn the_hook_path_is_quoted_for_sh_and_must_be_absolute() {
    let dc = Dc::new();
    let conf = dc.smb_conf();
    let tools = tempfile::tempdir().unwrap();
    let odd_dir = tools.path().join("site tools;touch PWNED;$(touch PWNED2)");
    fs::create_dir(&odd_dir).unwrap();
    let hook = odd_dir.join("samba-entra-sync-hook");
    fs::copy(common::stack::hook_path(), &hook).unwrap();

    let out = install_hook(&conf, &hook, &["--apply"]);
    assert!(out.status.success(), "{}", text(&out));
    // Rerunning recognises the quoted hook as ours: nothing to change.
    let out = install_hook(&conf, &hook, &["--apply"]);
    assert!(text(&out).contains("nothing to change"), "{}", text(&out));

    let out = Command::new("samba-tool")
        .args(["user", "create", "dave", "Dav3!Passw0rd-1"])
        .arg("-H")
        .arg(dc.sam_ldb())
        .arg("-s")
        .arg(&conf)
        .current_dir(tools.path())
        .env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={}", tools.path().join("no-bus").display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "Samba could not run the hook at its odd path: {}", text(&out));
    for pwned in ["PWNED", "PWNED2"] {
        assert!(!tools.path().join(pwned).exists(), "part of the hook's path ran as a command");
    }

    // A relative path: refused, nothing written.
    let before = fs::read_to_string(&conf).unwrap();
    let out = Command::new(common::bin())
        .args(["install-hook", "--apply", "--replace", "--hook", "samba-entra-sync-hook", "--smb-conf"])
        .arg(&conf)
        .current_dir(&odd_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("absolute"), "{}", text(&out));
    assert_eq!(fs::read_to_string(&conf).unwrap(), before);
}

/// The new smb.conf is written to a temporary file next to it: one that someone else planted at
/// a name they could predict (the old name was `.smb.conf.install-hook-<pid>`; `exec` keeps the
/// shell's pid, so a symlink there is easy to place) must never be written through.
#[test]
fn the_temporary_file_is_fresh_and_unpredictable() {
    let dc = Dc::new();
    let conf = dc.smb_conf();
    let tools = tempfile::tempdir().unwrap();
    let victim = tools.path().join("victim");
    fs::write(&victim, "untouched\n").unwrap();
    let hook = common::stack::hook_path();
    let dir = conf.parent().unwrap();
    let name = conf.file_name().unwrap().to_string_lossy().to_string();
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"ln -s "$1" "$2/.$3.install-hook-$$" && exec "$4" install-hook --apply --smb-conf "$5" --hook "$6""#)
        .arg("sh")
        .arg(&victim)
        .arg(dir)
        .arg(&name)
        .arg(common::bin())
        .arg(&conf)
        .arg(&hook)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched\n", "install-hook wrote through a planted symlink");
    assert!(!fs::symlink_metadata(&conf).unwrap().file_type().is_symlink(), "smb.conf became the planted symlink");
    assert_eq!(testparm_value(&conf), hook.display().to_string());
}

/// A `check password script` set in a file smb.conf includes would win over (or lose to) the line
/// install-hook writes depending on the order: install-hook follows `include =` and refuses,
/// naming the file, instead of writing a line Samba may ignore.
#[test]
fn a_script_set_in_an_included_file_is_found() {
    let dc = Dc::new();
    let conf = dc.smb_conf();
    let tools = tempfile::tempdir().unwrap();
    let foreign = script(tools.path(), "site-check", "cat > /dev/null; exit 0");
    let extra = tools.path().join("extra.conf");
    fs::write(&extra, format!("\tcheck password script = {}\n", foreign.display())).unwrap();
    dc.set_global_option("include", &extra.display().to_string());
    let before = fs::read_to_string(&conf).unwrap();

    let out = install_hook(&conf, &common::stack::hook_path(), &["--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(&extra.display().to_string()), "the included file must be named: {}", text(&out));
    assert_eq!(fs::read_to_string(&conf).unwrap(), before, "nothing is written");
    assert!(backups(&conf).is_empty());
}
