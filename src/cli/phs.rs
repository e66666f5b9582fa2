//! `samba-entra-sync phs-credential`: print the PHS `CredentialData` for an NT hash, to check a
//! credential by hand or to compare against another implementation. The hash is read from stdin:
//! an NT hash signs in as its user (pass-the-hash), and a command line is visible to every local
//! user (`ps`, /proc) and kept in shell history.

use std::io::{Read, Write};

use zeroize::Zeroizing;

use super::{CliResult, Failure};
use crate::entra::credential::{self, CredentialError, ITERATIONS};

#[derive(clap::Args, Debug)]
pub struct PhsArgs {
    /// For tests only (prints a warning): the NT hash on the command line, where every local
    /// user can read it. Without it the hash (32 hex characters) is read from stdin.
    #[arg(long, value_name = "HEX")]
    pub nt_hash: Option<String>,
    /// Salt as hex (1 to 64 bytes); a random 10-byte salt when absent.
    #[arg(long, value_name = "HEX")]
    pub salt: Option<String>,
    /// PBKDF2 iterations (1 to 100000); Entra expects 1000.
    #[arg(long, value_name = "N", default_value_t = ITERATIONS)]
    pub iterations: u32,
}

pub fn phs_credential(args: &PhsArgs) -> CliResult {
    let nt_hash = match &args.nt_hash {
        Some(hex) => {
            eprintln!(
                "warning: --nt-hash puts a pass-the-hash secret on the command line (visible in ps, kept in shell \
                 history); give it on stdin instead"
            );
            credential::parse_nt_hash_hex(hex).map_err(|e| bad("--nt-hash", &e))?
        }
        None => {
            let mut input = Zeroizing::new(String::new());
            std::io::stdin()
                .take(1024)
                .read_to_string(&mut input)
                .map_err(|e| Failure::usage(format!("cannot read the NT hash from stdin: {e}.")))?;
            credential::parse_nt_hash_hex(input.trim()).map_err(|e| bad("the NT hash on stdin", &e))?
        }
    };
    let salt = match &args.salt {
        Some(hex) => credential::parse_salt_hex(hex).map_err(|e| bad("--salt", &e))?,
        None => credential::random_salt()
            .map_err(|e| Failure::runtime(format!("cannot read random bytes for the salt: {e}")))?
            .to_vec(),
    };
    credential::check_parameters(&salt, args.iterations).map_err(|e| bad("--iterations", &e))?;
    let data = credential::credential_data_with(&nt_hash, &salt, args.iterations);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", data.as_str()).map_err(|e| Failure::runtime(format!("cannot write the credential: {e}")))
}

fn bad(option: &str, error: &CredentialError) -> Failure {
    Failure::usage(format!("{option}: {error}."))
}
