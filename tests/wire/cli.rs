//! The `wire decode|encode` subcommands, run as the built binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use samba_entra_sync::entra::nbfx;

fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/wire/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_samba-entra-sync"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    child.stdin.take().expect("stdin").write_all(stdin).expect("stdin written");
    child.wait_with_output().expect("binary finishes")
}

#[test]
fn decode_file_prints_the_xml() {
    let out = run(&["wire", "decode", &fixture_path("finalize-export.bin")], b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = String::from_utf8(out.stdout).expect("UTF-8 output");
    let expected = super::fixture_xml("finalize-export.xml");
    assert_eq!(nbfx::from_xml_ignoring_layout(&xml).expect("output parses"), expected);
    assert!(xml.contains("\n  <s:Header>"), "indented by default: {xml}");
}

#[test]
fn encode_file_writes_the_golden_bytes() {
    let out = run(&["wire", "encode", &fixture_path("finalize-export.xml")], b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, super::fixture("finalize-export.bin"));
}

#[test]
fn decode_then_encode_through_stdin_round_trips() {
    for name in ["finalize-export.bin", "provision-response.bin"] {
        let original = super::fixture(name);
        for flags in [&["wire", "decode"][..], &["wire", "decode", "--compact"]] {
            let xml = run(flags, &original);
            assert_eq!(xml.status.code(), Some(0), "{}", String::from_utf8_lossy(&xml.stderr));
            let bytes = run(&["wire", "encode"], &xml.stdout);
            assert_eq!(bytes.status.code(), Some(0), "{}", String::from_utf8_lossy(&bytes.stderr));
            // The writer's profile may pick other records than the fixture (UniqueIdText, TrueText),
            // so compare trees, and bytes where the fixture is in the writer's profile.
            assert_eq!(nbfx::decode(&bytes.stdout).expect("decodes"), nbfx::decode(&original).expect("decodes"));
            if name == "finalize-export.bin" {
                assert_eq!(bytes.stdout, original);
            }
        }
    }
}

fn assert_bad_input(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn garbage_exits_2_with_one_sentence() {
    assert_bad_input(&run(&["wire", "decode"], b"\x56\x02\xff\xff\xff\xff\xff"), "not a valid msbin1 document");
    assert_bad_input(&run(&["wire", "decode"], b"<xml/>"), "not a valid msbin1 document");
    assert_bad_input(&run(&["wire", "encode"], b"<a><b></a>"), "cannot read XML");
    assert_bad_input(&run(&["wire", "encode"], b"\xff\xfe"), "not UTF-8");
    assert_bad_input(&run(&["wire", "encode"], b"<p:a/>"), "never declared");
    assert_bad_input(&run(&["wire", "decode", "/nonexistent/file.bin"], b""), "cannot read /nonexistent/file.bin");
}
