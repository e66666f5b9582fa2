//! The man pages and the bash completion, generated so they cannot drift from what they
//! describe: samba-entra-sync(8) from the clap definitions, samba-entra-sync.toml(5) from the
//! example config (every key with its comment; a test checks that every key the parser accepts
//! is in it), the completion from clap. `scripts/deb.sh` writes them into the package.

use std::path::PathBuf;

use super::{CliResult, Failure};

/// The example config, as installed at /etc/samba-entra-sync/config.toml.
pub(crate) const EXAMPLE_CONFIG: &str = include_str!("../../etc/samba-entra-sync.toml");

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Where to write samba-entra-sync.8, samba-entra-sync.toml.5 and samba-entra-sync.bash.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn generate(args: &GenerateArgs, command: clap::Command) -> CliResult {
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(args.out.join(name), bytes)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", args.out.join(name).display())))
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", args.out.display())))?;
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .section("8")
        .render(&mut page)
        .map_err(|e| Failure::runtime(format!("cannot render the man page: {e}")))?;
    // Every subcommand under SUBCOMMANDS with its options (clap_mangen lists only their names),
    // and the subcommands of those (seamless-sso enable, ...) likewise.
    let mut sections: Vec<(String, clap::Command)> = Vec::new();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        sections.push((sub.get_name().to_uppercase(), sub.clone()));
        for nested in sub.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            sections.push((format!("{} {}", sub.get_name(), nested.get_name()).to_uppercase(), nested.clone()));
        }
    }
    for (title, sub) in sections {
        let mut text = Vec::new();
        clap_mangen::Man::new(sub.clone())
            .render_options_section(&mut text)
            .map_err(|e| Failure::runtime(format!("cannot render the man page: {e}")))?;
        page.extend_from_slice(format!(".SH \"{title}\"\n").as_bytes());
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            page.extend_from_slice(format!("{}\n", roff_escape(&about.to_string())).as_bytes());
        }
        page.extend_from_slice(&text);
    }
    write("samba-entra-sync.8", &page)?;
    write("samba-entra-sync.toml.5", config_man_page(EXAMPLE_CONFIG).as_bytes())?;
    let mut completion = Vec::new();
    let mut command = command;
    clap_complete::generate(clap_complete::Shell::Bash, &mut command, "samba-entra-sync", &mut completion);
    write("samba-entra-sync.bash", &completion)?;
    println!("wrote samba-entra-sync.8, samba-entra-sync.toml.5 and samba-entra-sync.bash to {}", args.out.display());
    Ok(())
}

fn roff_escape(text: &str) -> String {
    let t = text.replace('\\', "\\\\").replace('-', "\\-");
    // A line starting with . or ' would be a roff request.
    t.lines()
        .map(|l| if l.starts_with('.') || l.starts_with('\'') { format!("\\&{l}") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A key line of the example config, set or commented out: `key = value` or `# key = value`.
fn key_line(line: &str) -> Option<(&str, &str)> {
    let l = line.trim_start_matches('#').trim();
    let (k, v) = l.split_once(" = ")?;
    k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_').then_some((k, v.trim()))
}

/// samba-entra-sync.toml(5): the example config's sections, keys and comments as a man page.
pub(crate) fn config_man_page(example: &str) -> String {
    let mut out = String::from(
        ".TH SAMBA\\-ENTRA\\-SYNC.TOML 5 \"\" \"samba-entra-sync\" \"File formats\"\n\
         .SH NAME\nsamba\\-entra\\-sync.toml \\- the configuration of samba\\-entra\\-sync\n\
         .SH SYNOPSIS\n/etc/samba\\-entra\\-sync/config.toml\n\
         .SH DESCRIPTION\nA TOML file, checked by \\fBsamba\\-entra\\-sync check\\-config \\-\\-config FILE\\fR; \
         unknown keys are errors. Each key below is shown with its default or an example value, as in the \
         example config installed with the package.\n",
    );
    let mut comment: Vec<String> = Vec::new();
    let mut keys: Vec<(String, String)> = Vec::new();
    let flush = |out: &mut String, comment: &mut Vec<String>, keys: &mut Vec<(String, String)>| {
        if keys.is_empty() {
            if !comment.is_empty() {
                out.push_str(&format!(".PP\n{}\n", roff_escape(&comment.join(" "))));
            }
        } else {
            let tag: Vec<String> =
                keys.iter().map(|(k, v)| format!("\\fB{}\\fR = {}", roff_escape(k), roff_escape(v))).collect();
            out.push_str(&format!(".TP\n{}\n", tag.join(", ")));
            out.push_str(&format!("{}\n", roff_escape(&comment.join(" "))));
        }
        comment.clear();
        keys.clear();
    };
    for line in example.lines() {
        let t = line.trim();
        if let Some(section) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            flush(&mut out, &mut comment, &mut keys);
            out.push_str(&format!(".SH \"[{}]\"\n", roff_escape(section)));
        } else if let Some((k, v)) = key_line(t) {
            keys.push((k.to_string(), v.to_string()));
        } else if let Some(c) = t.strip_prefix('#') {
            if !keys.is_empty() {
                flush(&mut out, &mut comment, &mut keys);
            }
            comment.push(c.trim().to_string());
        } else if t.is_empty() {
            flush(&mut out, &mut comment, &mut keys);
        }
    }
    flush(&mut out, &mut comment, &mut keys);
    out.push_str(".SH SEE ALSO\n\\fBsamba\\-entra\\-sync\\fR(8)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The man page cannot drift from the parser: for every section, the keys the parser
    /// accepts (it lists them when it meets an unknown one) are all in the example config,
    /// and so in the page.
    #[test]
    fn every_key_the_parser_accepts_is_in_the_example_config_and_the_man_page() {
        let page = config_man_page(EXAMPLE_CONFIG);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sections: Vec<&str> = EXAMPLE_CONFIG
            .lines()
            .filter_map(|l| l.trim().strip_prefix('[').and_then(|s| s.strip_suffix(']')))
            .collect();
        assert!(sections.len() >= 7, "{sections:?}");
        for section in std::iter::once("").chain(sections.iter().copied()) {
            let probe = if section.is_empty() {
                "version = 1\nzz_probe = 1\n".to_string()
            } else {
                format!("version = 1\n[{section}]\nzz_probe = 1\n")
            };
            let path = dir.path().join("probe.toml");
            std::fs::write(&path, probe).unwrap_or_else(|e| panic!("{e}"));
            let err = crate::config::Config::load(&path).err().map(|e| e.to_string()).unwrap_or_default();
            let known = err
                .lines()
                .find(|l| l.contains("zz_probe"))
                .and_then(|l| l.split("known keys here: ").nth(1))
                .unwrap_or_else(|| panic!("no list of known keys for [{section}]: {err}"));
            let known = known.trim_end_matches(')');
            // The section's text in the example config.
            let text = section_text(EXAMPLE_CONFIG, section);
            let page_text = section_text_man(&page, section);
            for key in known.split(", ").map(str::trim).filter(|k| !k.is_empty()) {
                let sub = if section.is_empty() { key.to_string() } else { format!("{section}.{key}") };
                if sections.contains(&sub.as_str()) {
                    continue; // a sub-table, documented as its own section
                }
                assert!(text.contains(key), "[{section}] {key} is accepted but not in the example config");
                assert!(page_text.contains(&roff_escape(key)), "[{section}] {key} is not in the man page");
            }
        }
    }

    fn section_text<'a>(config: &'a str, section: &str) -> &'a str {
        if section.is_empty() {
            return config.split("\n[").next().unwrap_or("");
        }
        let start = config.find(&format!("\n[{section}]\n")).unwrap_or_else(|| panic!("no [{section}]"));
        let rest = &config[start + 1..];
        let end = rest[1..].find("\n[").map_or(rest.len(), |e| e + 1);
        &rest[..end]
    }

    fn section_text_man(page: &str, section: &str) -> String {
        if section.is_empty() {
            return page.split(".SH \"[").next().unwrap_or("").to_string();
        }
        let head = format!(".SH \"[{}]\"\n", roff_escape(section));
        let start = page.find(&head).unwrap_or_else(|| panic!("no {head} in the man page"));
        let rest = &page[start + head.len()..];
        rest[..rest.find(".SH ").unwrap_or(rest.len())].to_string()
    }

    #[test]
    fn key_lines_set_or_commented_out() {
        assert_eq!(key_line("interval = \"30m\""), Some(("interval", "\"30m\"")));
        assert_eq!(key_line("# ca_file = \"/etc/ssl/x.pem\""), Some(("ca_file", "\"/etc/ssl/x.pem\"")));
        assert_eq!(key_line("# The sync web service. For the emulator: x = y"), None);
    }
}
