//! `samba-entra-sync phs-credential`: print the PHS `CredentialData` for an NT hash, to check a
//! credential by hand or to compare against another implementation.

use std::io::Write;

use super::{CliResult, Failure};
use crate::entra::credential::{self, CredentialError, ITERATIONS};

#[derive(clap::Args, Debug)]
pub struct PhsArgs {
    /// The NT hash as 32 hexadecimal characters, upper or lower case.
    #[arg(long, value_name = "HEX")]
    pub nt_hash: String,
    /// Salt as hex (1 to 64 bytes); a random 10-byte salt when absent.
    #[arg(long, value_name = "HEX")]
    pub salt: Option<String>,
    /// PBKDF2 iterations (1 to 100000); Entra expects 1000.
    #[arg(long, value_name = "N", default_value_t = ITERATIONS)]
    pub iterations: u32,
}

pub fn phs_credential(args: &PhsArgs) -> CliResult {
    let nt_hash = credential::parse_nt_hash_hex(&args.nt_hash).map_err(|e| bad("--nt-hash", &e))?;
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
