//! `samba-entra-sync phs-credential` run as a process: output, normalisation and refusals.

use std::process::{Command, Output};

use samba_entra_sync::entra::credential;

const BIN: &str = env!("CARGO_BIN_EXE_samba-entra-sync");
const PA_SS_W0RD: &str = "92937945B518814341DE3F726500D4FF";

fn run(args: &[&str]) -> Output {
    Command::new(BIN).arg("phs-credential").args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn prints_the_documented_vector_for_either_case() {
    let want =
        "v1;PPH1_MD4,00010203040506070809,1000,ebbc7201bdbb81a9c23c9d47d2273a2d5097c589c707451d3d0accb1db62f7c6;\n";
    for nt in [PA_SS_W0RD.to_string(), PA_SS_W0RD.to_lowercase()] {
        let o = run(&["--nt-hash", &nt, "--salt", "00010203040506070809"]);
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        assert_eq!(stdout(&o), want);
    }
}

#[test]
fn honours_iterations() {
    let o = run(&[
        "--nt-hash",
        "8846f7eaee8fb117ad06bdd830b7586c",
        "--salt",
        "31414275383876386E32",
        "--iterations",
        "100",
    ]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "v1;PPH1_MD4,31414275383876386e32,100,102ce242cde4339e934d7c6b539d49ae340b02dd380815666b98bd036cd4dc4f;\n"
    );
}

#[test]
fn random_salt_differs_per_run_and_verifies() {
    let a = run(&["--nt-hash", PA_SS_W0RD]);
    let b = run(&["--nt-hash", PA_SS_W0RD]);
    assert_eq!(a.status.code(), Some(0), "stderr: {}", stderr(&a));
    let (a, b) = (stdout(&a), stdout(&b));
    assert_eq!(a.trim_end().len(), 103, "{a}");
    assert_ne!(a, b);
    let nt = credential::nt_hash_of_password("Pa$$w0rd");
    assert!(credential::verify(a.trim_end(), &nt).unwrap());
    assert!(credential::verify(b.trim_end(), &nt).unwrap());
}

#[test]
fn bad_input_exits_2_with_one_sentence() {
    let cases: &[(&[&str], &str)] = &[
        (&["--nt-hash", "92937945B518814341DE3F726500D4F"], "--nt-hash"),
        (&["--nt-hash", "92937945B518814341DE3F726500D4FG"], "--nt-hash"),
        (&["--nt-hash", PA_SS_W0RD, "--salt", "abc"], "--salt"),
        (&["--nt-hash", PA_SS_W0RD, "--salt", "zz"], "--salt"),
        (&["--nt-hash", PA_SS_W0RD, "--salt", ""], "--salt"),
        (&["--nt-hash", PA_SS_W0RD, "--iterations", "0"], "--iterations"),
        (&["--nt-hash", PA_SS_W0RD, "--iterations", "100001"], "--iterations"),
        (&["--nt-hash", PA_SS_W0RD, "--iterations", "many"], "--iterations"),
        (&[], "stdin"),
    ];
    for (args, names) in cases {
        let o = run(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?} printed {:?}", stdout(&o));
        assert!(err.contains(names), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // Our own messages are one line; clap's usage errors add a usage hint after a blank line.
        // (--nt-hash adds its warning line first.)
        if !err.starts_with("error:") {
            assert_eq!(err.lines().filter(|l| !l.starts_with("warning: --nt-hash")).count(), 1, "{args:?}: {err}");
        }
        // The refused hash is never echoed back.
        assert!(!err.contains("92937945B518814341DE3F726500D4"), "{args:?}: {err}");
    }
}

fn run_with_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(BIN)
        .arg("phs-credential")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// A pass-the-hash secret on the command line is visible to every local user (`ps`, /proc) and
/// lands in shell history: the hash is read from stdin; the flag is kept for tests and warns.
#[test]
fn reads_the_hash_from_stdin_and_the_flag_warns() {
    let want =
        "v1;PPH1_MD4,00010203040506070809,1000,ebbc7201bdbb81a9c23c9d47d2273a2d5097c589c707451d3d0accb1db62f7c6;\n";
    for input in [format!("{PA_SS_W0RD}\n"), PA_SS_W0RD.to_lowercase(), format!("  {PA_SS_W0RD}\r\n")] {
        let o = run_with_stdin(&["--salt", "00010203040506070809"], &input);
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        assert_eq!(stdout(&o), want);
        assert!(o.stderr.is_empty(), "{}", stderr(&o));
    }
    for (input, what) in [("", "empty"), ("92937945B518814341DE3F726500D4F\n", "short"), ("zz\n", "not hex")] {
        let o = run_with_stdin(&[], input);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains("stdin"), "{what}: {err}");
        assert!(!err.contains("92937945B518814341DE3F726500D4"), "{what}: {err}");
    }
    let o = run(&["--nt-hash", PA_SS_W0RD, "--salt", "00010203040506070809"]);
    assert_eq!(stdout(&o), want);
    assert!(stderr(&o).contains("warning: --nt-hash"), "{}", stderr(&o));
}
