//! A private, permissive, system-type `dbus-daemon` for tests, and a `dbus-monitor` that decodes what it sees.
//!
//! Needs the `dbus-daemon` and `dbus-bin` (dbus-monitor, dbus-send) Debian packages. Nothing here touches a
//! real system bus: every address points into a temporary directory.

// Shared by several test crates, each of which uses only part of it.
#![allow(dead_code)]

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// D-Bus message types (header byte 1).
pub const METHOD_CALL: u8 = 1;
pub const SIGNAL: u8 = 4;
/// D-Bus header flags (header byte 2).
pub const FLAG_NO_REPLY_EXPECTED: u8 = 0x1;
pub const FLAG_NO_AUTO_START: u8 = 0x2;

/// A `dbus-daemon --nofork` listening on a unix path socket in its own temporary directory; killed on drop.
pub struct PrivateBus {
    daemon: Child,
    address: String,
    socket: PathBuf,
    // Kept open: the daemon must never get SIGPIPE for writing to a closed stdout.
    _stdout: BufReader<ChildStdout>,
    dir: TempDir,
}

impl PrivateBus {
    /// Starts the daemon and returns once it has printed its address (so it is accepting connections).
    pub fn start() -> io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("bus").tempdir()?;
        let socket = dir.path().join("system_bus_socket");
        let config = dir.path().join("bus.conf");
        fs::write(&config, system_bus_config(&socket))?;
        let (daemon, address, stdout) = spawn_daemon(dir.path())?;
        Ok(PrivateBus { daemon, address, socket, _stdout: stdout, dir })
    }

    /// A bus with the host's own system-bus policy (`/usr/share/dbus-1/system.conf`: Debian's
    /// defaults, which let everyone receive signals) plus the policy file `include`, instead of the
    /// permissive test policy. Its directory is world-searchable, so other uids can connect.
    pub fn start_like_system(include: &Path) -> io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("bus").tempdir()?;
        fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let socket = dir.path().join("system_bus_socket");
        let host = fs::read_to_string("/usr/share/dbus-1/system.conf")?;
        // Everything but what would touch the host: its user, socket, pid file, log, service
        // helper and other policy directories.
        let kept: Vec<&str> = host
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                ![
                    "<user>",
                    "<fork/>",
                    "<pidfile>",
                    "<syslog/>",
                    "<servicehelper>",
                    "<listen>",
                    "<includedir>",
                    "<include ",
                    "<standard_system_servicedirs/>",
                ]
                .iter()
                .any(|p| t.starts_with(p))
            })
            .collect();
        let config = kept.join("\n").replace(
            "</busconfig>",
            &format!(
                "  <listen>unix:path={}</listen>\n  <include>{}</include>\n</busconfig>",
                socket.display(),
                include.display()
            ),
        );
        fs::write(dir.path().join("bus.conf"), config)?;
        let (daemon, address, stdout) = spawn_daemon(dir.path())?;
        Ok(PrivateBus { daemon, address, socket, _stdout: stdout, dir })
    }

    /// Kills the dbus-daemon (SIGKILL): every connection drops. `revive` starts a new one on the
    /// same socket path (the address stays valid: it names no server GUID).
    pub fn kill(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }

    pub fn revive(&mut self) -> io::Result<()> {
        let _ = fs::remove_file(&self.socket);
        let (daemon, _, stdout) = spawn_daemon(self.dir.path())?;
        self.daemon = daemon;
        self._stdout = stdout;
        Ok(())
    }

    /// The address to export as `DBUS_SYSTEM_BUS_ADDRESS` (or pass to a client).
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// A scratch directory that lives as long as the bus.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Emits the signal `io.github.SambaEntraSync1.Test.Marker(s token)` from a fresh connection.
    pub fn emit_marker(&self, token: &str) -> io::Result<()> {
        let status = Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args(["--type=signal", "/io/github/SambaEntraSync1/Test", "io.github.SambaEntraSync1.Test.Marker"])
            .arg(format!("string:{token}"))
            .status()?;
        if status.success() { Ok(()) } else { Err(io::Error::other(format!("dbus-send failed: {status}"))) }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// Runs `dbus-daemon` with `dir/bus.conf`; returns it, its address without the server GUID (so the
/// same address reaches a restarted bus) and its stdout.
fn spawn_daemon(dir: &Path) -> io::Result<(Child, String, BufReader<ChildStdout>)> {
    let config = dir.join("bus.conf");
    // The daemon logs every connection that becomes a monitor: keep that out of the test output.
    let log_path = dir.join("dbus-daemon.log");
    let log = fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    let mut daemon = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--nofork", "--print-address"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run dbus-daemon (package dbus-daemon): {e}")))?;
    let Some(stdout) = daemon.stdout.take() else {
        let _ = daemon.kill();
        return Err(io::Error::other("dbus-daemon has no stdout pipe"));
    };
    let mut stdout = BufReader::new(stdout);
    let mut line = String::new();
    match stdout.read_line(&mut line) {
        Ok(_) if line.trim().starts_with("unix:") => {
            let address = line.trim().split(',').filter(|p| !p.starts_with("guid=")).collect::<Vec<_>>().join(",");
            Ok((daemon, address, stdout))
        }
        outcome => {
            let _ = daemon.kill();
            let _ = daemon.wait();
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            Err(io::Error::other(format!("dbus-daemon printed no address ({outcome:?}): {log}")))
        }
    }
}

fn system_bus_config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

/// One message as the bus routed it (decoded from `dbus-monitor --binary`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusMessage {
    pub kind: u8,
    pub flags: u8,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub signature: String,
    pub body: Vec<u8>,
    big_endian: bool,
}

impl BusMessage {
    pub fn is_call_of(&self, member: &str) -> bool {
        self.kind == METHOD_CALL && self.member.as_deref() == Some(member)
    }

    pub fn is_signal_of(&self, member: &str) -> bool {
        self.kind == SIGNAL && self.member.as_deref() == Some(member)
    }

    /// The leading string arguments of the body (stops at the first argument that is not `s`).
    pub fn string_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut pos = 0;
        for code in self.signature.chars() {
            if code != 's' {
                break;
            }
            match read_string(&self.body, &mut pos, self.big_endian) {
                Some(s) => out.push(s),
                None => break,
            }
        }
        out
    }
}

#[derive(Default)]
struct Captured {
    messages: Vec<BusMessage>,
    ready: bool,
    ended: bool,
}

/// `dbus-monitor --binary` on a [`PrivateBus`], decoding every message it is shown; killed on drop.
pub struct BusMonitor {
    monitor: Child,
    captured: Arc<(Mutex<Captured>, Condvar)>,
    reader: Option<thread::JoinHandle<()>>,
}

impl BusMonitor {
    /// Starts monitoring and returns once the bus has made the monitor a monitor (so nothing later is missed).
    pub fn start(bus: &PrivateBus) -> io::Result<Self> {
        let mut monitor = Command::new("dbus-monitor")
            .args(["--address", bus.address(), "--binary"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run dbus-monitor (package dbus-bin): {e}")))?;
        let Some(stdout) = monitor.stdout.take() else {
            let _ = monitor.kill();
            return Err(io::Error::other("dbus-monitor has no stdout pipe"));
        };
        let captured = Arc::new((Mutex::new(Captured::default()), Condvar::new()));
        let shared = Arc::clone(&captured);
        let reader = thread::spawn(move || decode_stream(stdout, &shared));
        let mut this = BusMonitor { monitor, captured, reader: Some(reader) };
        // Becoming a monitor makes the bus drop the monitor's unique name: NameLost is the ready signal.
        if !this.wait_until(Duration::from_secs(10), |c| c.ready) {
            this.stop();
            return Err(io::Error::other("dbus-monitor did not become a monitor within 10 s"));
        }
        Ok(this)
    }

    /// Everything seen so far, in bus order (the monitor's own setup chatter included).
    pub fn messages(&self) -> Vec<BusMessage> {
        let (lock, _) = &*self.captured;
        lock.lock().unwrap_or_else(PoisonError::into_inner).messages.clone()
    }

    /// Waits until a message matching `pred` has been seen; returns the first such message.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&BusMessage) -> bool) -> Option<BusMessage> {
        let mut found = None;
        self.wait_until(timeout, |c| {
            found = c.messages.iter().find(|m| pred(m)).cloned();
            found.is_some()
        });
        found
    }

    /// Makes sure everything sent on `bus` before this call has reached the monitor: emits a unique marker
    /// signal and waits for it, then allows a short grace for messages the bus read in the same batch.
    pub fn settle(&self, bus: &PrivateBus) -> io::Result<()> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let token = format!("marker-{}-{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        bus.emit_marker(&token)?;
        let seen =
            self.wait_for(Duration::from_secs(10), |m| m.is_signal_of("Marker") && m.string_args() == [token.as_str()]);
        if seen.is_none() {
            return Err(io::Error::other("the marker signal never reached the monitor"));
        }
        thread::sleep(Duration::from_millis(100));
        Ok(())
    }

    fn wait_until(&self, timeout: Duration, mut done: impl FnMut(&Captured) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cond) = &*self.captured;
        let mut captured = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if done(&captured) {
                return true;
            }
            let now = Instant::now();
            if captured.ended || now >= deadline {
                return false;
            }
            captured = cond.wait_timeout(captured, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    fn stop(&mut self) {
        let _ = self.monitor.kill();
        let _ = self.monitor.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for BusMonitor {
    fn drop(&mut self) {
        self.stop();
    }
}

fn decode_stream(mut stdout: ChildStdout, shared: &(Mutex<Captured>, Condvar)) {
    let (lock, cond) = shared;
    let mut pending = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let got = match stdout.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..got]);
        let mut decoded = Vec::new();
        while let Some(len) = message_len(&pending) {
            if pending.len() < len {
                break;
            }
            let bytes: Vec<u8> = pending.drain(..len).collect();
            if let Some(message) = parse_message(&bytes) {
                decoded.push(message);
            }
        }
        if !decoded.is_empty() {
            let mut captured = lock.lock().unwrap_or_else(PoisonError::into_inner);
            captured.ready |= decoded.iter().any(|m| m.is_signal_of("NameLost"));
            captured.messages.extend(decoded);
            cond.notify_all();
        }
    }
    lock.lock().unwrap_or_else(PoisonError::into_inner).ended = true;
    cond.notify_all();
}

fn read_u32(bytes: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) })
}

fn align(pos: usize, to: usize) -> usize {
    pos.div_ceil(to) * to
}

/// Total length of the message at the start of `bytes`, once its fixed 16-byte header is there.
fn message_len(bytes: &[u8]) -> Option<usize> {
    let big_endian = match bytes.first()? {
        b'l' => false,
        b'B' => true,
        _ => return None,
    };
    let body_len = read_u32(bytes, 4, big_endian)? as usize;
    let fields_len = read_u32(bytes, 12, big_endian)? as usize;
    Some(align(16 + fields_len, 8) + body_len)
}

/// Reads a `s`/`o` value (u32 length, bytes, NUL) at `*pos`, 4-aligned.
fn read_string(bytes: &[u8], pos: &mut usize, big_endian: bool) -> Option<String> {
    let start = align(*pos, 4);
    let len = read_u32(bytes, start, big_endian)? as usize;
    let text = bytes.get(start + 4..start + 4 + len)?;
    *pos = start + 4 + len + 1;
    String::from_utf8(text.to_vec()).ok()
}

/// Reads a `g` value (u8 length, bytes, NUL) at `*pos`.
fn read_signature(bytes: &[u8], pos: &mut usize) -> Option<String> {
    let len = *bytes.get(*pos)? as usize;
    let text = bytes.get(*pos + 1..*pos + 1 + len)?;
    *pos += 1 + len + 1;
    String::from_utf8(text.to_vec()).ok()
}

fn parse_message(bytes: &[u8]) -> Option<BusMessage> {
    let big_endian = bytes.first()? == &b'B';
    let fields_end = 16 + read_u32(bytes, 12, big_endian)? as usize;
    let mut message = BusMessage {
        kind: *bytes.get(1)?,
        flags: *bytes.get(2)?,
        path: None,
        interface: None,
        member: None,
        destination: None,
        sender: None,
        signature: String::new(),
        body: bytes.get(align(fields_end, 8)..)?.to_vec(),
        big_endian,
    };
    let mut pos = 16;
    while align(pos, 8) < fields_end {
        pos = align(pos, 8);
        let code = *bytes.get(pos)?;
        pos += 1;
        let value_type = read_signature(bytes, &mut pos)?;
        match value_type.as_str() {
            "s" | "o" => {
                let text = read_string(bytes, &mut pos, big_endian)?;
                match code {
                    1 => message.path = Some(text),
                    2 => message.interface = Some(text),
                    3 => message.member = Some(text),
                    6 => message.destination = Some(text),
                    7 => message.sender = Some(text),
                    _ => {}
                }
            }
            "g" => {
                let text = read_signature(bytes, &mut pos)?;
                if code == 8 {
                    message.signature = text;
                }
            }
            "u" => pos = align(pos, 4) + 4,
            _ => return None,
        }
    }
    Some(message)
}
