//! `install-hook`: shows, or with `--apply` writes, the smb.conf line that makes Samba run the
//! hook. Samba runs the value with `/bin/sh -c`, reads it only at start (a reload is not enough),
//! and refuses every password change when the script is missing, so the write is careful: the
//! hook must be executable, a foreign script is never dropped silently, a timestamped backup is
//! kept, and the new file replaces the old one by rename (never half-written).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{CliResult, Failure};

/// Where the Debian package and `scripts/install.sh` put the hook.
pub(crate) const DEFAULT_HOOK: &str = "/usr/libexec/samba-entra-sync/samba-entra-sync-hook";
const HOOK_NAME: &str = "samba-entra-sync-hook";
const RESTART: &str = "restart samba (systemctl restart samba-ad-dc): it reads `check password script` only at start, a reload is not enough";

#[derive(clap::Args, Debug)]
pub struct InstallHookArgs {
    /// Samba's configuration file.
    #[arg(long, default_value = "/etc/samba/smb.conf")]
    pub smb_conf: PathBuf,
    /// The hook binary.
    #[arg(long, default_value = DEFAULT_HOOK)]
    pub hook: PathBuf,
    /// Write the line (keeping a timestamped backup) instead of only showing it.
    #[arg(long)]
    pub apply: bool,
    /// Keep an existing check password script that is not ours: the hook runs it after its own check.
    #[arg(long, conflicts_with = "replace")]
    pub chain: bool,
    /// Drop an existing check password script that is not ours.
    #[arg(long)]
    pub replace: bool,
    /// Take the hook out of smb.conf instead (a script it chained becomes the entry again);
    /// shows the change, writes it with --apply. Needed before the package can be removed.
    #[arg(long, conflicts_with_all = ["chain", "replace"])]
    pub remove: bool,
}

/// The `check password script` entry already in [global], if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    None,
    /// Our hook (any path ending in the hook's name); `args` is what follows it (e.g. `--chain ...`).
    Ours {
        value: String,
        args: String,
    },
    Foreign {
        value: String,
    },
}

/// What `install-hook` would do to a file's text.
#[derive(Debug)]
pub struct Plan {
    pub value: String,
    pub existing: Existing,
    /// 1-based line of the entry that gets replaced, or of the [global] header it follows.
    pub line: usize,
    pub replaces: bool,
    /// The new text; `None` when the file already holds exactly this value.
    pub text: Option<String>,
}

/// Why a plan cannot be made.
#[derive(Debug, PartialEq, Eq)]
pub enum PlanError {
    NoGlobal,
    /// A foreign script and neither `--chain` nor `--replace`.
    ForeignNeedsChoice(String),
    /// The old command cannot be embedded (it is empty after trimming).
    EmptyChain,
}

/// The parameter name as Samba compares it: case and whitespace do not matter.
fn is_check_password_script(name: &str) -> bool {
    let squeezed: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    squeezed.eq_ignore_ascii_case("checkpasswordscript")
}

/// Single-quotes `s` for `/bin/sh`.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A logical smb.conf line: its physical lines (continued with a trailing backslash) and its text.
struct Logical {
    first: usize,
    count: usize,
    text: String,
}

fn logical_lines(lines: &[&str]) -> Vec<Logical> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first = i;
        let mut text = String::new();
        loop {
            let l = lines[i];
            i += 1;
            match l.strip_suffix('\\') {
                Some(head) if i < lines.len() => text.push_str(head),
                _ => {
                    text.push_str(l);
                    break;
                }
            }
        }
        out.push(Logical { first, count: i - first, text });
    }
    out
}

fn section_name(text: &str) -> Option<String> {
    let t = text.trim();
    t.strip_prefix('[').and_then(|r| r.strip_suffix(']')).map(|n| n.trim().to_ascii_lowercase())
}

/// The hook's path as one `/bin/sh` word: as it is when every character is plain, else
/// single-quoted (a space, `;` or `$(...)` in it must not split it or run as a command).
fn hook_word(hook: &Path) -> String {
    let text = hook.display().to_string();
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._+-=,:@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) { text } else { shell_quote(&text) }
}

/// The first `/bin/sh` word of `value` with its quotes resolved (single quotes and backslashes,
/// what `shell_quote` writes), and the rest after it.
fn first_word(value: &str) -> (String, &str) {
    let mut word = String::new();
    let mut chars = value.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' => {
                for (_, c) in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '\\' => word.extend(chars.next().map(|(_, c)| c)),
            c if c.is_whitespace() => return (word, &value[i..]),
            c => word.push(c),
        }
    }
    (word, "")
}

fn classify(value: &str) -> Existing {
    let value = value.trim().to_string();
    let (program, args) = first_word(&value);
    if Path::new(&program).file_name().is_some_and(|n| n == HOOK_NAME) {
        Existing::Ours { args: args.trim().to_string(), value }
    } else {
        Existing::Foreign { value }
    }
}

/// Plans the edit of `text` (an smb.conf) so that [global] holds `check password script =
/// <hook> [--chain '<old>']`. Samba uses the last entry when there are several: that one is the
/// "existing" value; all of them are replaced by one line at the place of the first.
pub fn plan(text: &str, hook: &Path, chain: bool, replace: bool) -> Result<Plan, PlanError> {
    let lines: Vec<&str> = text.lines().collect();
    let logical = logical_lines(&lines);
    let (header, entries) = global_entries(&logical);
    let header = header.ok_or(PlanError::NoGlobal)?;
    let existing = entries.last().map(|(_, v)| classify(v)).unwrap_or(Existing::None);
    let hook_text = hook_word(hook);
    let value = match &existing {
        Existing::None => hook_text,
        // Re-running keeps our own arguments (an earlier --chain) unless a new choice is made.
        Existing::Ours { args, .. } if args.is_empty() => hook_text,
        Existing::Ours { args, .. } => format!("{hook_text} {args}"),
        Existing::Foreign { value } if chain => {
            if value.trim().is_empty() {
                return Err(PlanError::EmptyChain);
            }
            format!("{hook_text} --chain {}", shell_quote(value))
        }
        Existing::Foreign { .. } if replace => hook_text,
        Existing::Foreign { value } => return Err(PlanError::ForeignNeedsChoice(value.clone())),
    };
    let replaces = !entries.is_empty();
    let at = entries.first().map(|(i, _)| *i).unwrap_or(header);
    let unchanged = entries.len() == 1 && entries[0].1 == value;
    let new_line = format!("\tcheck password script = {value}");
    let text = (!unchanged).then(|| rewrite(&lines, &logical, &entries, at, Some(&new_line)));
    Ok(Plan { value, existing, line: logical[at].first + 1, replaces, text })
}

/// The [global] header's logical line and every `check password script` entry in [global].
fn global_entries(logical: &[Logical]) -> (Option<usize>, Vec<(usize, String)>) {
    let mut in_global = false;
    let mut header = None;
    let mut entries = Vec::new(); // (index into logical, value)
    for (idx, l) in logical.iter().enumerate() {
        if let Some(name) = section_name(&l.text) {
            in_global = name == "global";
            if in_global && header.is_none() {
                header = Some(idx);
            }
            continue;
        }
        let t = l.text.trim_start();
        if !in_global || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some((name, value)) = t.split_once('=')
            && is_check_password_script(name)
        {
            entries.push((idx, value.trim().to_string()));
        }
    }
    (header, entries)
}

/// A `check password script` set in a file that [global] includes (`include = FILE`, one level,
/// paths without `%` macros): (the file, its value). Samba reads the include where it stands and
/// the last setting wins, so a line written here might be overridden, or override, unseen.
fn included_script(text: &str, conf: &Path) -> Option<(PathBuf, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut in_global = false;
    for l in logical_lines(&lines) {
        if let Some(name) = section_name(&l.text) {
            in_global = name == "global";
            continue;
        }
        let t = l.text.trim_start();
        let Some((name, value)) = t.split_once('=') else { continue };
        let squeezed: String = name.chars().filter(|c| !c.is_whitespace()).collect();
        if !in_global || t.starts_with('#') || t.starts_with(';') || !squeezed.eq_ignore_ascii_case("include") {
            continue;
        }
        let value = value.trim();
        if value.is_empty() || value.contains('%') {
            continue;
        }
        let path = conf.parent().unwrap_or(Path::new("/")).join(value);
        let Ok(included) = fs::read_to_string(&path) else { continue };
        // The included text continues the section it is included in: [global].
        let included = format!("[global]\n{included}");
        let included_lines: Vec<&str> = included.lines().collect();
        if let Some((_, found)) = global_entries(&logical_lines(&included_lines)).1.pop() {
            return Some((path, found));
        }
    }
    None
}

/// The file with every entry dropped and `new_line` (if any) at logical line `at`: in the
/// place of the first entry, or after the [global] header when there was none.
fn rewrite(
    lines: &[&str],
    logical: &[Logical],
    entries: &[(usize, String)],
    at: usize,
    new_line: Option<&str>,
) -> String {
    let drop: Vec<usize> = entries.iter().map(|(i, _)| *i).collect();
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum::<usize>() + 80);
    for (idx, l) in logical.iter().enumerate() {
        if drop.contains(&idx) {
            if let Some(n) = new_line.filter(|_| idx == at) {
                out.push_str(n);
                out.push('\n');
            }
            continue;
        }
        for p in &lines[l.first..l.first + l.count] {
            out.push_str(p);
            out.push('\n');
        }
        if let Some(n) = new_line.filter(|_| idx == at && entries.is_empty()) {
            out.push_str(n);
            out.push('\n');
        }
    }
    out
}

/// What `install-hook --remove` does to a file's text.
#[derive(Debug)]
pub(crate) struct Removal {
    pub existing: Existing,
    /// The script our hook chained, which becomes the entry again.
    pub restored: Option<String>,
    /// The new text; `None` when there is nothing of ours to remove.
    pub text: Option<String>,
}

/// The script after `--chain` in our hook's arguments, unquoted (we write it single-quoted).
fn chained_script(args: &str) -> Option<String> {
    let rest = args.split("--chain").nth(1)?.trim_start();
    let rest = rest.strip_prefix(char::is_whitespace).unwrap_or(rest).trim_start();
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    if chars.peek() != Some(&'\'') {
        return rest.split_whitespace().next().map(String::from);
    }
    // 'abc'\''def' -> abc'def
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                }
            }
            '\\' => out.extend(chars.next()),
            c if c.is_whitespace() => break,
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Plans taking our hook out of [global]: a chained script of the site's becomes the entry
/// again; otherwise the entry goes (Samba then applies its own complexity rule again).
pub(crate) fn plan_removal(text: &str) -> Result<Removal, PlanError> {
    let lines: Vec<&str> = text.lines().collect();
    let logical = logical_lines(&lines);
    let (header, entries) = global_entries(&logical);
    header.ok_or(PlanError::NoGlobal)?;
    let existing = entries.last().map(|(_, v)| classify(v)).unwrap_or(Existing::None);
    let Existing::Ours { args, .. } = &existing else {
        return Ok(Removal { existing, restored: None, text: None });
    };
    let restored = chained_script(args);
    let new_line = restored.as_ref().map(|r| format!("\tcheck password script = {r}"));
    let at = entries.first().map(|(i, _)| *i).unwrap_or(0);
    let text = rewrite(&lines, &logical, &entries, at, new_line.as_deref());
    Ok(Removal { existing, restored, text: Some(text) })
}

fn remove(args: &InstallHookArgs, text: &str) -> CliResult {
    let conf = &args.smb_conf;
    let removal = plan_removal(text)
        .map_err(|_| Failure::usage(format!("{} has no [global] section; is it Samba's smb.conf?", conf.display())))?;
    println!("file:  {}", conf.display());
    let Some(new_text) = removal.text else {
        match removal.existing {
            Existing::Foreign { value } => {
                println!(
                    "smb.conf runs another check password script ({value}), not samba-entra-sync's; nothing to change."
                )
            }
            _ => println!("smb.conf does not run samba-entra-sync's hook; nothing to change."),
        }
        return Ok(());
    };
    match &removal.restored {
        Some(r) => println!("change: check password script = {r} (the script the hook chained runs alone again)"),
        None => println!("change: the check password script line goes (Samba applies its own complexity rule again)"),
    }
    if !args.apply {
        println!("Rerun with --remove --apply to write it (a backup is kept), then restart samba.");
        return Ok(());
    }
    let backup = write_with_backup(conf, &new_text)?;
    println!("wrote {} (backup: {})", conf.display(), backup.display());
    println!("Now {RESTART}; then the package can be removed.");
    Ok(())
}

pub fn run(args: &InstallHookArgs) -> CliResult {
    let conf = &args.smb_conf;
    let text = fs::read_to_string(conf).map_err(|e| Failure::usage(format!("cannot read {}: {e}", conf.display())))?;
    if args.remove {
        return remove(args, &text);
    }
    if let Some((file, value)) = included_script(&text, conf) {
        return Err(Failure::usage(format!(
            "{} includes {}, which sets check password script = {value}: Samba uses whichever comes last, so a line \
             written here may be ignored; move that setting into {}'s [global] section (install-hook then offers \
             --chain or --replace) and rerun",
            conf.display(),
            file.display(),
            conf.display()
        )));
    }
    if !args.hook.is_absolute() {
        return Err(Failure::usage(format!(
            "--hook {} is a relative path, which Samba would look up from its own working directory; give the absolute path (the package installs it as {DEFAULT_HOOK})",
            args.hook.display()
        )));
    }
    let plan = plan(&text, &args.hook, args.chain, args.replace).map_err(|e| match e {
        PlanError::NoGlobal => {
            Failure::usage(format!("{} has no [global] section; is it Samba's smb.conf?", conf.display()))
        }
        PlanError::EmptyChain => {
            Failure::usage("the existing check password script is empty; there is nothing to chain")
        }
        PlanError::ForeignNeedsChoice(old) => Failure::usage(format!(
            "{} already runs another check password script ({old}); rerun with --chain to keep it running after \
             the hook (check password script = {} --chain {}), or with --replace to drop it",
            conf.display(),
            hook_word(&args.hook),
            shell_quote(&old)
        )),
    })?;
    println!("file:  {}", conf.display());
    println!("line:  check password script = {}", plan.value);
    let place = if plan.replaces { "replacing the current entry at" } else { "after the [global] header at" };
    println!("where: in the [global] section, {place} line {}", plan.line);
    match &plan.existing {
        Existing::None => {}
        Existing::Ours { value, .. } => println!("now:   check password script = {value} (samba-entra-sync's hook)"),
        Existing::Foreign { value } => println!("now:   check password script = {value} (not ours)"),
    }
    let Some(new_text) = plan.text else {
        println!("smb.conf already has this line; nothing to change.");
        return Ok(());
    };
    if !args.apply {
        println!("Rerun with --apply to write it (a backup is kept), then restart samba (a reload is not enough).");
        return Ok(());
    }
    check_executable(&args.hook)?;
    let backup = write_with_backup(conf, &new_text)?;
    println!("wrote {} (backup: {})", conf.display(), backup.display());
    println!("Now {RESTART}.");
    Ok(())
}

/// A regular file someone may execute: what Samba needs the hook to be (`install-hook` and
/// `doctor` both ask).
pub(crate) fn is_executable_file(meta: &fs::Metadata) -> bool {
    meta.is_file() && meta.permissions().mode() & 0o111 != 0
}

/// Samba refuses every password change when the script cannot run: never point it at nothing.
fn check_executable(hook: &Path) -> CliResult {
    let meta = fs::metadata(hook).map_err(|e| {
        Failure::usage(format!(
            "the hook {} cannot be used ({e}); Samba would refuse every password change, so nothing was written",
            hook.display()
        ))
    })?;
    if !is_executable_file(&meta) {
        return Err(Failure::usage(format!(
            "the hook {} is not an executable file; Samba would refuse every password change, so nothing was written",
            hook.display()
        )));
    }
    Ok(())
}

/// Copies `conf` to `conf.bak-<UTC time>` and replaces it by rename with `text`, keeping its
/// mode and owner. Returns the backup's path.
pub(crate) fn write_with_backup(conf: &Path, text: &str) -> Result<PathBuf, Failure> {
    let fail =
        |what: &str, p: &Path, e: std::io::Error| Failure::runtime(format!("cannot {what} {}: {e}", p.display()));
    // A symlinked smb.conf stays a symlink: the file it points at is the one replaced.
    let conf = &fs::canonicalize(conf).map_err(|e| fail("read", conf, e))?;
    let meta = fs::metadata(conf).map_err(|e| fail("read", conf, e))?;
    let stamp = utc_stamp(std::time::SystemTime::now());
    let mut backup = PathBuf::from(format!("{}.bak-{stamp}", conf.display()));
    let mut n = 1;
    while backup.exists() {
        backup = PathBuf::from(format!("{}.bak-{stamp}-{n}", conf.display()));
        n += 1;
    }
    fs::copy(conf, &backup).map_err(|e| fail("back up", conf, e))?;
    let dir = conf.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = conf.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    // An unpredictable name, created only if nothing is there (O_EXCL, never following a symlink
    // someone planted), mode 0600 until it carries the original's mode and owner.
    let tmp = dir.join(format!(".{name}.install-hook-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        std::os::unix::fs::fchown(&f, Some(meta.uid()), Some(meta.gid()))?;
        f.sync_all()?;
        fs::rename(&tmp, conf)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(fail("write", conf, e));
    }
    // The rename is durable only once the directory is synced.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(backup)
}

/// `YYYYMMDDTHHMMSSZ` for a time.
pub(crate) fn utc_stamp(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = crate::entra::timefmt::civil_from_days(days);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOOK: &str = "/usr/libexec/samba-entra-sync/samba-entra-sync-hook";

    fn p(text: &str, chain: bool, replace: bool) -> Result<Plan, PlanError> {
        plan(text, Path::new(HOOK), chain, replace)
    }

    #[test]
    fn adds_after_the_global_header() {
        let plan = p("# c\n[global]\n\tworkgroup = LAB\n[netlogon]\n\tpath = /x\n", false, false).unwrap();
        assert_eq!(plan.existing, Existing::None);
        assert_eq!(plan.line, 2);
        assert_eq!(
            plan.text.unwrap(),
            format!("# c\n[global]\n\tcheck password script = {HOOK}\n\tworkgroup = LAB\n[netlogon]\n\tpath = /x\n")
        );
    }

    #[test]
    fn name_matching_ignores_case_and_spaces_and_comments_and_other_sections() {
        let text = "[Global]\n; check password script = /commented\n  CheckPassword Script=/old/x\n[share]\ncheck password script = /elsewhere\n";
        let plan = p(text, false, true).unwrap();
        assert_eq!(plan.existing, Existing::Foreign { value: "/old/x".into() });
        let out = plan.text.unwrap();
        assert!(out.contains("; check password script = /commented\n"));
        assert!(out.contains("[share]\ncheck password script = /elsewhere\n"));
        assert!(!out.contains("/old/x"));
        assert_eq!(out.matches(HOOK).count(), 1);
    }

    #[test]
    fn a_foreign_script_needs_a_choice_and_chain_quotes_it_for_sh() {
        let text = "[global]\n\tcheck password script = /usr/local/bin/check 'it''s' x\n";
        assert_eq!(
            p(text, false, false).unwrap_err(),
            PlanError::ForeignNeedsChoice("/usr/local/bin/check 'it''s' x".into())
        );
        let plan = p(text, true, false).unwrap();
        assert_eq!(plan.value, format!(r"{HOOK} --chain '/usr/local/bin/check '\''it'\'''\''s'\'' x'"));
        // What sh would hand the hook as the --chain argument.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote("/usr/local/bin/check 'it''s' x")))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "/usr/local/bin/check 'it''s' x");
    }

    #[test]
    fn rerunning_keeps_our_chain_and_changes_nothing() {
        let text = format!("[global]\n\tcheck password script = {HOOK} --chain '/x'\n");
        let plan = p(&text, false, false).unwrap();
        assert!(matches!(plan.existing, Existing::Ours { .. }));
        assert_eq!(plan.value, format!("{HOOK} --chain '/x'"));
        assert!(plan.text.is_none());
        // Another path of ours is replaced, keeping the arguments.
        let plan =
            p("[global]\ncheck password script = /opt/samba-entra-sync-hook --chain '/x'\n", false, false).unwrap();
        assert_eq!(plan.text.unwrap(), format!("[global]\n\tcheck password script = {HOOK} --chain '/x'\n"));
    }

    #[test]
    fn continuation_lines_and_duplicates_collapse_to_one_line_and_the_last_counts() {
        let text = "[global]\ncheck password script = /a\nrealm = X\ncheck password \\\n script = /b \\\n --arg\n";
        let plan = p(text, false, true).unwrap();
        assert_eq!(plan.existing, Existing::Foreign { value: "/b  --arg".into() });
        assert_eq!(plan.line, 2);
        assert_eq!(plan.text.unwrap(), format!("[global]\n\tcheck password script = {HOOK}\nrealm = X\n"));
    }

    #[test]
    fn removal_restores_a_chained_script_or_drops_the_line() {
        let ours =
            "[global]\n\tworkgroup = LAB\n\tcheck password script = /usr/libexec/s/samba-entra-sync-hook\n[share]\n";
        let r = plan_removal(ours).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.text.as_deref(), Some("[global]\n\tworkgroup = LAB\n[share]\n"));
        let chained = "[global]\ncheck password script = /x/samba-entra-sync-hook --chain '/usr/local/bin/it'\\''s' --timeout 3\n";
        let r = plan_removal(chained).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.restored.as_deref(), Some("/usr/local/bin/it's"));
        assert_eq!(r.text.as_deref(), Some("[global]\n\tcheck password script = /usr/local/bin/it's\n"));
        let foreign = "[global]\ncheck password script = /usr/local/bin/mine\n";
        assert!(
            plan_removal(foreign).map(|r| r.text.is_none()).unwrap_or(false),
            "a foreign script is not ours to remove"
        );
        assert!(plan_removal("[global]\n").map(|r| r.text.is_none()).unwrap_or(false));
        // What install-hook writes, --remove takes back exactly.
        let original = "[global]\n\tworkgroup = LAB\n\tcheck password script = /usr/local/bin/mine\n";
        let installed = p(original, true, false).ok().and_then(|p| p.text).unwrap_or_default();
        let removed = plan_removal(&installed).ok().and_then(|r| r.text).unwrap_or_default();
        assert_eq!(removed, original);
    }

    #[test]
    fn no_global_section_is_an_error() {
        assert_eq!(p("[homes]\npath = /x\n", false, false).unwrap_err(), PlanError::NoGlobal);
    }

    #[test]
    fn utc_stamps_match_known_dates() {
        let at = |s: u64| utc_stamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "19700101T000000Z");
        assert_eq!(at(951_782_400 + 3_723), "20000229T010203Z");
        assert_eq!(at(1_795_478_399), "20261123T235959Z");
    }
}
