//! The Samba `check password script` hook (`samba-hook/`), driven the way Samba drives it: the password on
//! stdin, `SAMBA_CPS_ACCOUNT_NAME` in the environment, the system bus from `DBUS_SYSTEM_BUS_ADDRESS`.
//!
//! Every case runs under valgrind memcheck (no error, no definite leak). Wall-clock limits are asserted on
//! native runs of the same case, because valgrind's own start-up takes most of a second. Under valgrind the
//! D-Bus budget is raised with `--dbus-budget-ms` (the first pass through libdbus is slow there); the native
//! runs use the real 200 ms default.

mod common;

use std::error::Error;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use common::bus::{BusMessage, BusMonitor, FLAG_NO_AUTO_START, FLAG_NO_REPLY_EXPECTED, PrivateBus};

type TestResult<T = ()> = Result<T, Box<dyn Error>>;

/// Meets Samba's rule (upper, lower, digit, symbol).
const GOOD: &str = "Al1ce!Pass-2";
/// One character category only.
const WEAK: &str = "aaaaaaaa";
const BUS_NAME: &str = "io.github.SambaEntraSync1";
const OBJECT_PATH: &str = "/io/github/SambaEntraSync1";
const MEMBER: &str = "PasswordChanged";
/// No socket there: runs that must not reach any bus point here (never at a real system bus).
const NO_BUS: &str = "unix:path=/nonexistent/samba-entra-sync-tests/system_bus_socket";
const VALGRIND_BUDGET_MS: u32 = 5000;
/// Far above any expected run (valgrind included); Samba itself gives up after 10 s.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// Builds the hook once per test process (`make -C samba-hook`).
fn hook_binary() -> TestResult<&'static Path> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samba-hook");
        let out = Command::new("make").arg("-C").arg(&dir).output().map_err(|e| format!("cannot run make: {e}"))?;
        if !out.status.success() {
            return Err(format!("make -C samba-hook failed:\n{}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(dir.join("samba-entra-sync-hook"))
    });
    built.as_deref().map_err(|e| e.as_str().into())
}

enum Stdin {
    Bytes(Vec<u8>),
    Closed,
}

/// One run of the hook, set up like Samba would (clean environment, password on stdin).
struct Hook {
    stdin: Stdin,
    args: Vec<OsString>,
    account: Option<OsString>,
    bus_address: String,
    budget_ms: Option<u32>,
    shell_prelude: Option<String>,
    valgrind: bool,
}

struct Outcome {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    elapsed: Duration,
    stdin_drained: bool,
    under_valgrind: bool,
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

impl Hook {
    fn with_password(password: impl AsRef<[u8]>) -> Self {
        Hook {
            stdin: Stdin::Bytes(password.as_ref().to_vec()),
            args: Vec::new(),
            account: None,
            bus_address: NO_BUS.to_owned(),
            budget_ms: None,
            shell_prelude: None,
            valgrind: true,
        }
    }

    fn with_closed_stdin() -> Self {
        Hook { stdin: Stdin::Closed, ..Hook::with_password("") }
    }

    fn account(mut self, name: impl Into<OsString>) -> Self {
        self.account = Some(name.into());
        self
    }

    fn bus(mut self, address: &str) -> Self {
        address.clone_into(&mut self.bus_address);
        self
    }

    fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    fn budget_ms(mut self, ms: u32) -> Self {
        self.budget_ms = Some(ms);
        self
    }

    /// Shell commands run just before `exec`ing the hook (to close stdin or leak a descriptor into it).
    fn prelude(mut self, commands: &str) -> Self {
        self.shell_prelude = Some(commands.to_owned());
        self
    }

    fn native(mut self) -> Self {
        self.valgrind = false;
        self
    }

    fn run(&self) -> TestResult<Outcome> {
        let mut argv: Vec<OsString> = Vec::new();
        if self.valgrind {
            // Only definite leaks count (and are shown): libsamba-util keeps its iconv handles in globals
            // through interior pointers, which memcheck lists as "possibly lost".
            let valgrind = ["--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite"];
            argv.push("valgrind".into());
            argv.extend(valgrind.iter().chain(&["--show-leak-kinds=definite", "-q"]).map(OsString::from));
        }
        argv.push(hook_binary()?.into());
        // Before the case's own arguments, so that a case's trailing `--chain` finds no value.
        let budget = self.budget_ms.or(if self.valgrind { Some(VALGRIND_BUDGET_MS) } else { None });
        if let Some(ms) = budget {
            argv.push(format!("--dbus-budget-ms={ms}").into());
        }
        argv.extend(self.args.iter().cloned());
        let mut prelude = self.shell_prelude.clone();
        if let Stdin::Closed = self.stdin {
            prelude = Some(format!("{}exec 0<&-", prelude.map(|p| p + "; ").unwrap_or_default()));
        }
        let mut command = match prelude {
            Some(commands) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(format!("{commands}; exec \"$@\"")).arg("sh").args(&argv);
                c
            }
            None => {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            }
        };
        command
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C.UTF-8")
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus_address)
            .stdin(match self.stdin {
                Stdin::Bytes(_) => Stdio::piped(),
                Stdin::Closed => Stdio::null(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(account) = &self.account {
            command.env("SAMBA_CPS_ACCOUNT_NAME", account);
        }
        let started = Instant::now();
        let mut child = command.spawn()?;
        let input = match &self.stdin {
            Stdin::Bytes(bytes) => bytes.clone(),
            Stdin::Closed => Vec::new(),
        };
        let stdin = child.stdin.take();
        // A separate writer, as Samba's is: the hook must drain stdin even while we collect its output.
        // Whether every byte went into the pipe: with 10 MB against a 64 KiB pipe, that means the hook read it.
        // EPIPE is not an error here: a hook that exits early (usage error) need not read.
        let writer = thread::spawn(move || stdin.is_some_and(|mut pipe| pipe.write_all(&input).is_ok()));
        let stdout = collect(child.stdout.take());
        let stderr = collect(child.stderr.take());
        // Polled rather than waited for, so that a regression (e.g. no D-Bus deadline) fails instead of hanging.
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > RUN_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the hook was still running after {RUN_LIMIT:?}; killed").into());
            }
            thread::sleep(Duration::from_millis(2));
        };
        let elapsed = started.elapsed();
        let stdin_drained = writer.join().map_err(|_| "stdin writer panicked")?;
        Ok(Outcome {
            code: status.code(),
            stdout: stdout.join().map_err(|_| "stdout reader panicked")?,
            stderr: stderr.join().map_err(|_| "stderr reader panicked")?,
            elapsed,
            stdin_drained,
            under_valgrind: self.valgrind,
        })
    }
}

impl Outcome {
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Asserts the exit code and, under valgrind, that memcheck reported nothing.
    fn expect_exit(&self, code: i32) -> TestResult<&Self> {
        let stderr = self.stderr_text();
        if self.under_valgrind {
            let report: Vec<&str> = stderr.lines().filter(|l| is_valgrind_line(l)).collect();
            if self.code == Some(99) || !report.is_empty() {
                return Err(format!("valgrind reported errors:\n{stderr}").into());
            }
        }
        if self.code != Some(code) {
            return Err(format!("exit code {:?}, expected {code}; stderr:\n{stderr}", self.code).into());
        }
        if !self.stdout.is_empty() {
            return Err(format!("the hook wrote to stdout: {:?}", String::from_utf8_lossy(&self.stdout)).into());
        }
        Ok(self)
    }
}

/// Memcheck prefixes its lines with `==PID==`.
fn is_valgrind_line(line: &str) -> bool {
    line.strip_prefix("==")
        .and_then(|rest| rest.split_once("=="))
        .is_some_and(|(pid, _)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// A private bus with a monitor on it.
struct Lab {
    bus: PrivateBus,
    monitor: BusMonitor,
}

impl Lab {
    fn start() -> TestResult<Self> {
        let bus = PrivateBus::start()?;
        let monitor = BusMonitor::start(&bus)?;
        Ok(Lab { bus, monitor })
    }

    fn address(&self) -> &str {
        self.bus.address()
    }

    /// Every PasswordChanged call the bus has routed so far (after letting in-flight messages arrive).
    fn notifications(&self) -> TestResult<Vec<BusMessage>> {
        self.monitor.settle(&self.bus)?;
        Ok(self.monitor.messages().into_iter().filter(|m| m.is_call_of(MEMBER)).collect())
    }

    fn notified_accounts(&self) -> TestResult<Vec<Vec<String>>> {
        Ok(self.notifications()?.iter().map(BusMessage::string_args).collect())
    }
}

fn assert_is_notification(m: &BusMessage, account: &str) -> TestResult {
    assert_eq!(m.destination.as_deref(), Some(BUS_NAME));
    assert_eq!(m.path.as_deref(), Some(OBJECT_PATH));
    assert_eq!(m.interface.as_deref(), Some(BUS_NAME));
    assert_eq!(m.signature, "s");
    assert_eq!(m.string_args(), [account]);
    // A reply is expected (and awaited only within the budget): the daemon checks the caller's
    // uid with the bus, which needs the hook's connection to still be open.
    assert_eq!(m.flags & FLAG_NO_REPLY_EXPECTED, 0, "NO_REPLY_EXPECTED must not be set (flags {:#x})", m.flags);
    assert_ne!(m.flags & FLAG_NO_AUTO_START, 0, "NO_AUTO_START must be set (flags {:#x})", m.flags);
    Ok(())
}

#[test]
fn good_password_is_accepted_and_notified_exactly_once() -> TestResult {
    let lab = Lab::start()?;
    Hook::with_password(GOOD).account("alice").bus(lab.address()).run()?.expect_exit(0)?;
    let seen = lab.notifications()?;
    assert_eq!(seen.len(), 1, "one password change, one notification: {seen:?}");
    assert_is_notification(&seen[0], "alice")?;

    // Natively, with the real 200 ms budget.
    let native = Hook::with_password(GOOD).account("alice").bus(lab.address()).native().run()?;
    native.expect_exit(0)?;
    assert!(native.elapsed < Duration::from_millis(500), "took {:?}", native.elapsed);
    let seen = lab.notifications()?;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_is_notification(&seen[1], "alice")
}

#[test]
fn non_ascii_password_is_judged_by_samba_rule() -> TestResult {
    let lab = Lab::start()?;
    // 13 characters, 19 bytes of UTF-8, as Samba passes them.
    Hook::with_password("Ünïcödé!Pw-1€").account("bob").bus(lab.address()).run()?.expect_exit(0)?;
    // Invalid UTF-8 and an embedded NUL cannot be judged as a whole: rejected.
    Hook::with_password(b"\xff\xfeAa1!Bb2@").account("bob").bus(lab.address()).run()?.expect_exit(1)?;
    Hook::with_password(b"Al1ce!\0Pass-2").account("bob").bus(lab.address()).run()?.expect_exit(1)?;
    assert_eq!(lab.notified_accounts()?, [["bob"]]);
    Ok(())
}

#[test]
fn weak_password_is_rejected_and_not_notified() -> TestResult {
    let lab = Lab::start()?;
    let out = Hook::with_password(WEAK).account("alice").bus(lab.address()).run()?;
    out.expect_exit(1)?;
    assert!(out.stderr_text().contains("complexity"), "{}", out.stderr_text());
    assert!(lab.notifications()?.is_empty(), "a rejected password is no change: nothing to notify");
    Ok(())
}

#[test]
fn missing_account_name_still_checks_quality_but_skips_dbus() -> TestResult {
    let lab = Lab::start()?;
    Hook::with_password(GOOD).bus(lab.address()).run()?.expect_exit(0)?;
    Hook::with_password(WEAK).bus(lab.address()).run()?.expect_exit(1)?;
    Hook::with_password(GOOD).account("").bus(lab.address()).run()?.expect_exit(0)?;
    assert!(lab.notifications()?.is_empty());
    Ok(())
}

#[test]
fn empty_stdin_is_an_empty_password_and_rejected() -> TestResult {
    let lab = Lab::start()?;
    Hook::with_password("").account("alice").bus(lab.address()).run()?.expect_exit(1)?;
    assert!(lab.notifications()?.is_empty());
    Ok(())
}

#[test]
fn huge_stdin_is_drained_and_rejected() -> TestResult {
    let lab = Lab::start()?;
    // A good password followed by 10 MB: only the whole input counts, and it is far too long.
    let mut input = GOOD.as_bytes().to_vec();
    input.resize(10 * 1024 * 1024, b'x');
    let out = Hook::with_password(&input).account("alice").bus(lab.address()).run()?;
    out.expect_exit(1)?;
    assert!(out.stdin_drained, "the hook stopped reading before EOF");
    assert!(out.stderr_text().contains("longer than 256 characters"), "{}", out.stderr_text());
    let native = Hook::with_password(&input).account("alice").bus(lab.address()).native().run()?;
    native.expect_exit(1)?;
    assert!(native.stdin_drained, "the hook stopped reading before EOF");
    assert!(native.elapsed < Duration::from_secs(2), "draining 10 MB took {:?}", native.elapsed);
    assert!(lab.notifications()?.is_empty());
    Ok(())
}

#[test]
fn length_limit_counts_characters_not_bytes() -> TestResult {
    let lab = Lab::start()?;
    let longest = "Aa1!".repeat(64); // 256 characters
    Hook::with_password(&longest).account("a256").bus(lab.address()).run()?.expect_exit(0)?;
    Hook::with_password(format!("{longest}x")).account("a257").bus(lab.address()).run()?.expect_exit(1)?;
    let wide = "Üa1!".repeat(64); // 256 characters, 320 bytes
    Hook::with_password(&wide).account("u256").bus(lab.address()).run()?.expect_exit(0)?;
    let widest = "€".repeat(253) + "a1!"; // 256 characters, 762 bytes
    Hook::with_password(&widest).account("e256").bus(lab.address()).run()?.expect_exit(0)?;
    assert_eq!(lab.notified_accounts()?, [["a256"], ["u256"], ["e256"]]);
    Ok(())
}

#[test]
fn closed_stdin_skips_the_check_and_still_notifies() -> TestResult {
    let lab = Lab::start()?;
    let out = Hook::with_closed_stdin().account("alice").bus(lab.address()).run()?;
    out.expect_exit(0)?;
    assert!(out.stderr_text().contains("stdin is closed"), "{}", out.stderr_text());
    let seen = lab.notifications()?;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_is_notification(&seen[0], "alice")
}

/// Only a closed stdin (EBADF, as Samba leaves it in some set-ups) skips the check; any other
/// read error must not let an unchecked password through.
#[test]
fn a_stdin_read_error_other_than_ebadf_rejects() -> TestResult {
    let lab = Lab::start()?;
    // A directory as stdin: read() fails with EISDIR.
    let out = Hook::with_password("").prelude("exec 0</").account("alice").bus(lab.address()).run()?;
    out.expect_exit(1)?;
    assert!(out.stderr_text().contains("cannot read stdin"), "{}", out.stderr_text());
    assert!(lab.notifications()?.is_empty(), "a refused change was notified");
    Ok(())
}

#[test]
fn dead_bus_never_fails_the_change_and_costs_little() -> TestResult {
    let dir = tempfile::tempdir()?;
    // A socket file nobody listens on any more (connection refused), and no socket at all.
    let refused = dir.path().join("refused");
    drop(UnixListener::bind(&refused)?);
    let addresses = [format!("unix:path={}", refused.display()), NO_BUS.to_owned()];
    for address in &addresses {
        Hook::with_password(GOOD).account("alice").bus(address).run()?.expect_exit(0)?;
        Hook::with_password(WEAK).account("alice").bus(address).run()?.expect_exit(1)?;
        let native = Hook::with_password(GOOD).account("alice").bus(address).native().run()?;
        native.expect_exit(0)?;
        assert!(native.elapsed < Duration::from_millis(500), "{address}: took {:?}", native.elapsed);
        assert!(native.stderr_text().contains("system bus unreachable"), "{}", native.stderr_text());
    }
    Ok(())
}

#[test]
fn silent_bus_is_cut_off_by_the_time_budget() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("silent");
    // Accepts connections (kernel backlog) but never reads or answers: libdbus waits for the auth reply.
    let _listener = UnixListener::bind(&path)?;
    let address = format!("unix:path={}", path.display());

    let out = Hook::with_password(GOOD).account("alice").bus(&address).budget_ms(200).run()?;
    out.expect_exit(0)?;
    assert!(out.stderr_text().contains("did not answer in time"), "{}", out.stderr_text());

    let native = Hook::with_password(GOOD).account("alice").bus(&address).native().run()?;
    native.expect_exit(0)?;
    assert!(native.stderr_text().contains("did not answer in time"), "{}", native.stderr_text());
    // The deadline, not an early failure, ended it; and well within the ~200 ms budget plus start-up.
    assert!(native.elapsed >= Duration::from_millis(180), "ended after only {:?}", native.elapsed);
    assert!(native.elapsed < Duration::from_secs(1), "took {:?}", native.elapsed);
    Ok(())
}

/// A `--chain` command, single-quoted for the hook's `/bin/sh -c`.
fn in_dir(dir: &Path, file: &str) -> String {
    format!("'{}'", dir.join(file).display())
}

#[test]
fn chained_script_that_accepts_gets_password_and_environment() -> TestResult {
    let lab = Lab::start()?;
    let dir = tempfile::tempdir()?;
    let chain = format!(
        "cat > {}; printf %s \"$SAMBA_CPS_ACCOUNT_NAME\" > {}",
        in_dir(dir.path(), "stdin"),
        in_dir(dir.path(), "account")
    );
    Hook::with_password(GOOD).account("alice").bus(lab.address()).arg("--chain").arg(chain).run()?.expect_exit(0)?;
    assert_eq!(fs::read(dir.path().join("stdin"))?, GOOD.as_bytes());
    assert_eq!(fs::read_to_string(dir.path().join("account"))?, "alice");
    assert_eq!(lab.notified_accounts()?, [["alice"]]);
    Ok(())
}

#[test]
fn chained_script_that_rejects_makes_the_hook_reject() -> TestResult {
    let lab = Lab::start()?;
    let out =
        Hook::with_password(GOOD).account("alice").bus(lab.address()).arg("--chain=cat >/dev/null; exit 3").run()?;
    out.expect_exit(1)?;
    assert!(out.stderr_text().contains("rejected by the chained check (exit 3)"), "{}", out.stderr_text());
    assert!(lab.notifications()?.is_empty());
    Ok(())
}

#[test]
fn chained_script_that_ignores_stdin_still_counts() -> TestResult {
    let lab = Lab::start()?;
    // Exiting without reading must not kill the hook with SIGPIPE.
    Hook::with_password("Aa1!".repeat(64))
        .account("alice")
        .bus(lab.address())
        .arg("--chain=exit 0")
        .run()?
        .expect_exit(0)?;
    assert_eq!(lab.notified_accounts()?, [["alice"]]);
    Ok(())
}

#[test]
fn missing_chained_script_rejects() -> TestResult {
    let lab = Lab::start()?;
    let out = Hook::with_password(GOOD)
        .account("alice")
        .bus(lab.address())
        .arg("--chain")
        .arg("/nonexistent/other-check --x")
        .run()?;
    out.expect_exit(1)?;
    assert!(out.stderr_text().contains("could not be started"), "{}", out.stderr_text());
    assert!(lab.notifications()?.is_empty());
    Ok(())
}

#[test]
fn chained_script_is_not_run_for_a_weak_password_with_complexity_on_top() -> TestResult {
    let dir = tempfile::tempdir()?;
    let chain = format!("touch {}", in_dir(dir.path(), "ran"));
    Hook::with_password(WEAK)
        .account("alice")
        .arg("--chain")
        .arg(chain)
        .arg("--chain-with-complexity")
        .run()?
        .expect_exit(1)?;
    assert!(!dir.path().join("ran").exists(), "the chained check ran although the verdict was already no");
    Ok(())
}

/// Samba runs a configured script instead of its own complexity rule: a site with a script of
/// its own accepts what that script accepts, and chaining must not refuse more.
#[test]
fn chained_script_alone_decides_by_default() -> TestResult {
    let lab = Lab::start()?;
    let dir = tempfile::tempdir()?;
    let chain = format!("cat > {}", in_dir(dir.path(), "stdin"));
    Hook::with_password(WEAK).account("alice").bus(lab.address()).arg("--chain").arg(chain).run()?.expect_exit(0)?;
    assert_eq!(fs::read(dir.path().join("stdin"))?, WEAK.as_bytes(), "the chained script must see the password");
    assert_eq!(lab.notified_accounts()?, [["alice"]]);
    // What no AD password can be is still refused, whatever the script says.
    let long = "Aa1!".repeat(65);
    Hook::with_password(long).account("alice").arg("--chain=cat >/dev/null; exit 0").run()?.expect_exit(1)?;
    // The option needs a chain.
    Hook::with_password(GOOD).account("alice").arg("--chain-with-complexity").run()?.expect_exit(2)?;
    Ok(())
}

#[test]
fn hung_chained_script_is_killed_with_its_children() -> TestResult {
    let dir = tempfile::tempdir()?;
    let chain = format!("sleep 1; touch {}", in_dir(dir.path(), "finished"));
    let out =
        Hook::with_password(GOOD).account("alice").arg("--chain").arg(&chain).arg("--chain-timeout-ms=300").run()?;
    out.expect_exit(1)?;
    assert!(out.stderr_text().contains("did not finish within 300 ms"), "{}", out.stderr_text());
    let native = Hook::with_password(GOOD)
        .account("alice")
        .arg("--chain")
        .arg(&chain)
        .arg("--chain-timeout-ms=300")
        .native()
        .run()?;
    native.expect_exit(1)?;
    assert!(native.elapsed < Duration::from_millis(900), "took {:?}", native.elapsed);
    thread::sleep(Duration::from_millis(1500));
    assert!(!dir.path().join("finished").exists(), "the chained script outlived its timeout");
    Ok(())
}

#[test]
fn inherited_descriptors_are_not_passed_on() -> TestResult {
    // Samba leaks e.g. the LDAP client's socket into the script; fd 7 stands in for it.
    let out = Hook::with_password(GOOD)
        .prelude("exec 7</dev/null")
        .account("alice")
        .arg("--chain=cat >/dev/null; if [ -e /proc/self/fd/7 ]; then exit 5; fi")
        .run()?;
    out.expect_exit(0)?;
    // Control: without the hook in between, the descriptor would be there.
    let control = Command::new("/bin/sh").arg("-c").arg("exec 7</dev/null; [ -e /proc/self/fd/7 ]").status()?;
    assert!(control.success(), "the control shell should see fd 7");
    Ok(())
}

#[test]
fn odd_account_names_skip_the_notification_without_crashing() -> TestResult {
    let lab = Lab::start()?;
    let long_name = "x".repeat(10 * 1024);
    let out = Hook::with_password(GOOD).account(&long_name).bus(lab.address()).run()?;
    out.expect_exit(0)?;
    assert!(out.stderr_text().contains("longer than 1024 bytes"), "{}", out.stderr_text());
    let invalid = OsString::from_vec(b"al\xffice\xc3".to_vec());
    let out = Hook::with_password(GOOD).account(invalid).bus(lab.address()).run()?;
    out.expect_exit(0)?;
    assert!(out.stderr_text().contains("not valid UTF-8"), "{}", out.stderr_text());
    // The largest name still forwarded, and a non-ASCII one.
    let limit = "y".repeat(1024);
    Hook::with_password(GOOD).account(&limit).bus(lab.address()).run()?.expect_exit(0)?;
    Hook::with_password(GOOD).account("jürgen").bus(lab.address()).run()?.expect_exit(0)?;
    assert_eq!(lab.notified_accounts()?, [[limit.as_str()], ["jürgen"]]);
    Ok(())
}

#[test]
fn password_is_never_echoed_or_forwarded() -> TestResult {
    let lab = Lab::start()?;
    let strong = "Zq9!never-Echo-Me";
    let weak = "neverechomeplease";
    let refused_chain = "--chain=cat >/dev/null; exit 4";
    let runs = [
        (strong.to_owned(), Hook::with_password(strong).account("alice").bus(lab.address()), 0),
        (strong.to_owned(), Hook::with_password(strong).account("alice"), 0),
        (strong.to_owned(), Hook::with_password(strong), 0),
        (strong.to_owned(), Hook::with_password(strong).account("alice").arg(refused_chain), 1),
        (weak.to_owned(), Hook::with_password(weak).account("alice").bus(lab.address()), 1),
        (strong.repeat(20), Hook::with_password(strong.repeat(20)).account("alice").bus(lab.address()), 1),
    ];
    for (secret, hook, code) in runs {
        let out = hook.run()?;
        out.expect_exit(code)?;
        for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(!contains(bytes, strong.as_bytes()) && !contains(bytes, weak.as_bytes()), "password on {name}");
            assert!(!contains(bytes, secret.as_bytes()), "password on {name}");
        }
    }
    let seen = lab.notifications()?;
    assert_eq!(seen.len(), 1);
    assert!(!contains(&seen[0].body, strong.as_bytes()), "the password went over D-Bus");
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn usage_errors_exit_2_before_reading_anything() -> TestResult {
    for bad in [&["--bogus"][..], &["--chain"], &["--chain="], &["--chain=a", "--chain=b"], &["--dbus-budget-ms=0"]] {
        let mut hook = Hook::with_password(GOOD).account("alice");
        for a in bad {
            hook = hook.arg(*a);
        }
        let out = hook.run()?;
        out.expect_exit(2).map_err(|e| format!("{bad:?}: {e}"))?;
    }
    Ok(())
}

/// Samba kills the script after 10 s. The chained check's timeout and the D-Bus budget together must
/// stay under that: an explicit pair that adds up past 9.5 s is a usage error, and without
/// `--chain-timeout-ms` the chain gets what the D-Bus budget leaves.
#[test]
fn chain_timeout_and_dbus_budget_stay_under_sambas_10_s() -> TestResult {
    let explicit = Hook::with_password(GOOD)
        .account("alice")
        .arg("--chain=cat >/dev/null")
        .arg("--chain-timeout-ms=9000")
        .budget_ms(1000)
        .native()
        .run()?;
    explicit.expect_exit(2)?;
    let text = explicit.stderr_text();
    assert!(
        text.contains("--chain-timeout-ms") && text.contains("--dbus-budget-ms") && text.contains("9500"),
        "{text}"
    );

    // The largest D-Bus budget, a bus that never answers, and a chained check that takes 5 s: before,
    // the chain ran its 5 s and the bus took 5 s more, 10 s in all (Samba would have killed the hook).
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("silent");
    let _listener = UnixListener::bind(&path)?;
    let address = format!("unix:path={}", path.display());
    let slow = Hook::with_password(GOOD)
        .account("alice")
        .bus(&address)
        .arg("--chain=sleep 5")
        .budget_ms(5000)
        .native()
        .run()?;
    assert!(slow.elapsed < Duration::from_millis(9500), "took {:?}: Samba's limit is 10 s", slow.elapsed);
    slow.expect_exit(1)?;
    assert!(slow.stderr_text().contains("did not finish within 4500 ms"), "{}", slow.stderr_text());
    println!(
        "RELIABILITY|hook timeouts under Samba's 10 s|chained check of 5 s, silent bus, 5 s D-Bus budget|slow chain + bus that never answers|pass: killed after {} ms, rejected; an explicit sum over 9.5 s is a usage error|0",
        slow.elapsed.as_millis()
    );
    Ok(())
}
