use super::*;

/// Vectors checked against AADInternals and the Python ports: (password, NT hash, salt,
/// iterations, derived key).
const VECTORS: &[(&str, &str, &str, u32, &str)] = &[
    (
        "Pa$$w0rd",
        "92937945B518814341DE3F726500D4FF",
        "317ee9d1dec6508fa510",
        100,
        "f4a257ffec53809081a605ce8ddedfbc9df9777b80256763bc0a6dd895ef404f",
    ),
    (
        "openwall",
        "F493840FF8A32CDB269C670A20E13044",
        "724b754c4b6d30526f36",
        100,
        "367ff0ac2a1cb334bb26609c8bfc8ae5f619d1eaf07568df040f407504a20241",
    ),
    (
        "password",
        "8846F7EAEE8FB117AD06BDD830B7586C",
        "31414275383876386e32",
        100,
        "102ce242cde4339e934d7c6b539d49ae340b02dd380815666b98bd036cd4dc4f",
    ),
    (
        "Pa$$w0rd",
        "92937945B518814341DE3F726500D4FF",
        "00010203040506070809",
        1000,
        "ebbc7201bdbb81a9c23c9d47d2273a2d5097c589c707451d3d0accb1db62f7c6",
    ),
    (
        "password",
        "8846F7EAEE8FB117AD06BDD830B7586C",
        "00010203040506070809",
        1000,
        "52baa8631e9b338e4800896113f174acbbfe422b2b8dd47e01a455a7fb8fb83c",
    ),
    (
        "",
        "31D6CFE0D16AE931B73C59D7E0C089C0",
        "a1b2c3d4e5f60718293a",
        1000,
        "b2508ec051bf730ece4bda99d6cdaa1a1ac9f99aed416650f1b9c3cfcc1d80c3",
    ),
];

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn nt_hash_of_password_matches_every_vector() {
    for &(password, nt_hex, ..) in VECTORS {
        let nt = nt_hash_of_password(password);
        assert_eq!(hex::encode_upper(&nt[..]), nt_hex, "password {password:?}");
    }
}

#[test]
fn credential_data_with_matches_every_vector() {
    for &(password, nt_hex, salt, iterations, key) in VECTORS {
        let nt = parse_nt_hash_hex(nt_hex).unwrap();
        let got = credential_data_with(&nt, &unhex(salt), iterations);
        let want = format!("v1;PPH1_MD4,{salt},{iterations},{key};");
        assert_eq!(got.as_str(), want, "password {password:?}");
    }
}

#[test]
fn doc_example_string_is_exact() {
    let nt = nt_hash_of_password("Pa$$w0rd");
    let got = credential_data_with(&nt, &unhex("00010203040506070809"), 1000);
    assert_eq!(
        got.as_str(),
        "v1;PPH1_MD4,00010203040506070809,1000,ebbc7201bdbb81a9c23c9d47d2273a2d5097c589c707451d3d0accb1db62f7c6;"
    );
    assert_eq!(got.len(), 103);
}

/// The negative vector: running PBKDF2 over the lower-case spelling of the NT hash gives a
/// different key, which is exactly the AADInternals/Python bug. Our API takes bytes (or parses
/// hex of either case into bytes) and so always produces the upper-case result.
#[test]
fn lower_case_hex_is_normalised() {
    let lower = "92937945b518814341de3f726500d4ff";
    let utf16: Vec<u8> = lower.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut raw = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(&utf16, &unhex("317ee9d1dec6508fa510"), 100, &mut raw);
    assert_eq!(hex::encode(raw), "67bfc1357309265cd22d9927a836ec19da0e6ab6f6f3015831f7c7b4af45addd");

    let nt = parse_nt_hash_hex(lower).unwrap();
    assert_eq!(*nt, *parse_nt_hash_hex(&lower.to_uppercase()).unwrap());
    let got = credential_data_with(&nt, &unhex("317ee9d1dec6508fa510"), 100);
    assert!(got.ends_with(",100,f4a257ffec53809081a605ce8ddedfbc9df9777b80256763bc0a6dd895ef404f;"), "{}", *got);
}

#[test]
fn random_salt_credentials_have_the_documented_shape_and_verify() {
    let nt = nt_hash_of_password("password");
    let a = credential_data(&nt);
    let b = credential_data(&nt);
    assert_eq!(a.len(), 103);
    assert_ne!(a.as_str(), b.as_str(), "two credentials shared a salt");
    let parsed = parse_credential_data(&a).unwrap();
    assert_eq!(parsed.salt().len(), SALT_LEN);
    assert_eq!(parsed.iterations(), ITERATIONS);
    assert!(verify(&a, &nt).unwrap());
    assert!(verify(&b, &nt).unwrap());
    assert!(!verify(&a, &nt_hash_of_password("Password")).unwrap());
}

#[test]
fn verify_accepts_the_vectors_and_rejects_other_hashes() {
    for &(password, _, salt, iterations, key) in VECTORS {
        let data = format!("v1;PPH1_MD4,{salt},{iterations},{key};");
        assert!(verify(&data, &nt_hash_of_password(password)).unwrap(), "password {password:?}");
        let other = format!("{password}x");
        assert!(!verify(&data, &nt_hash_of_password(&other)).unwrap(), "password {other:?}");
    }
}

#[test]
fn parse_reads_fields_and_accepts_upper_case_hex() {
    let data = "v1;PPH1_MD4,317EE9D1DEC6508FA510,100,F4A257FFEC53809081A605CE8DDEDFBC9DF9777B80256763BC0A6DD895EF404F;";
    let parsed = parse_credential_data(data).unwrap();
    assert_eq!(parsed.salt(), &unhex("317ee9d1dec6508fa510")[..]);
    assert_eq!(parsed.iterations(), 100);
    assert_eq!(hex::encode(parsed.key()), "f4a257ffec53809081a605ce8ddedfbc9df9777b80256763bc0a6dd895ef404f");
    assert!(parsed.matches(&nt_hash_of_password("Pa$$w0rd")));
    let shown = format!("{parsed:?}");
    assert!(shown.contains("[redacted]") && !shown.to_lowercase().contains("f4a257"), "{shown}");
}

#[test]
fn parse_errors_are_typed() {
    let key = "f4a257ffec53809081a605ce8ddedfbc9df9777b80256763bc0a6dd895ef404f";
    let cases: Vec<(String, CredentialError)> = vec![
        (format!("v2;PPH1_MD4,317ee9d1dec6508fa510,100,{key};"), CredentialError::BadPrefix),
        (format!("v1;PPH1_SHA,317ee9d1dec6508fa510,100,{key};"), CredentialError::BadPrefix),
        (format!("v1;pph1_md4,317ee9d1dec6508fa510,100,{key};"), CredentialError::BadPrefix),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,100,{key}"), CredentialError::MissingTerminator),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,{key};"), CredentialError::FieldCount(2)),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,100,{key},00;"), CredentialError::FieldCount(4)),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa51z,100,{key};"), CredentialError::SaltNotHex),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa51,100,{key};"), CredentialError::SaltNotHex),
        (format!("v1;PPH1_MD4, 317ee9d1dec6508fa510,100,{key};"), CredentialError::SaltNotHex),
        (format!("v1;PPH1_MD4,,100,{key};"), CredentialError::SaltLength(0)),
        (format!("v1;PPH1_MD4,{},100,{key};", "00".repeat(65)), CredentialError::SaltLength(65)),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,0,{key};"), CredentialError::Iterations(0)),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,100001,{key};"), CredentialError::Iterations(100_001)),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,4294967295,{key};"), CredentialError::Iterations(4_294_967_295)),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,99999999999,{key};"), CredentialError::IterationsNotNumber),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,-1,{key};"), CredentialError::IterationsNotNumber),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,+100,{key};"), CredentialError::IterationsNotNumber),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,,{key};"), CredentialError::IterationsNotNumber),
        ("v1;PPH1_MD4,317ee9d1dec6508fa510,100,f4a2;".to_string(), CredentialError::KeyNotHex),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,100,{key}00;"), CredentialError::KeyNotHex),
        (format!("v1;PPH1_MD4,317ee9d1dec6508fa510,100,{}g;", &key[..63]), CredentialError::KeyNotHex),
        (String::new(), CredentialError::BadPrefix),
    ];
    for (data, want) in cases {
        assert_eq!(parse_credential_data(&data).unwrap_err(), want, "{data:?}");
        assert_eq!(verify(&data, &[0u8; 16]).unwrap_err(), want, "{data:?}");
    }
}

#[test]
fn nt_hash_parsing() {
    let nt = parse_nt_hash_hex(" 8846f7eaee8fb117ad06bdd830b7586c\n").unwrap();
    assert_eq!(*nt, *nt_hash_of_password("password"));
    assert_eq!(parse_nt_hash_hex("8846F7EAEE8FB117AD06BDD830B7586").unwrap_err(), CredentialError::NtHashLength(31));
    assert_eq!(parse_nt_hash_hex("").unwrap_err(), CredentialError::NtHashLength(0));
    // What Samba substitutes when DRS returns no hash (32 `X`s): must never become a credential.
    assert_eq!(parse_nt_hash_hex(&"X".repeat(32)).unwrap_err(), CredentialError::NtHashNotHex);
    // 32 characters but 33 bytes: refused on length, never sliced mid-character.
    assert_eq!(parse_nt_hash_hex(&format!("é{}", "0".repeat(31))).unwrap_err(), CredentialError::NtHashLength(32));
}

#[test]
fn parameter_checks() {
    assert!(check_parameters(&[1; 10], 1000).is_ok());
    assert!(check_parameters(&[1; 64], MAX_ITERATIONS).is_ok());
    assert_eq!(check_parameters(&[], 1000).unwrap_err(), CredentialError::SaltLength(0));
    assert_eq!(check_parameters(&[1; 65], 1000).unwrap_err(), CredentialError::SaltLength(65));
    assert_eq!(check_parameters(&[1; 10], 0).unwrap_err(), CredentialError::Iterations(0));
    assert_eq!(check_parameters(&[1; 10], 100_001).unwrap_err(), CredentialError::Iterations(100_001));
    assert_eq!(parse_salt_hex("0a0B").unwrap(), vec![0x0a, 0x0b]);
    assert_eq!(parse_salt_hex("0a0").unwrap_err(), CredentialError::SaltNotHex);
}

#[test]
fn decimal_len_counts_digits() {
    for n in [0u32, 9, 10, 99, 100, 1000, 99_999, 100_000, u32::MAX] {
        assert_eq!(decimal_len(n), n.to_string().len(), "{n}");
    }
}
