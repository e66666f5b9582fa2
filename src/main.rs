//! The `samba-entra-sync` command line: parsing only; the work is in `cli`.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::todo, clippy::unimplemented)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use samba_entra_sync::cli::{self, CliResult};

#[derive(Parser, Debug)]
#[command(
    name = "samba-entra-sync",
    version,
    about = "Sync a Samba AD domain to Microsoft Entra ID, with instant password hash sync"
)]
struct Opt {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate a config file; every error names its key.
    CheckConfig(cli::config::CheckConfigArgs),
    /// Run the local Entra sync-endpoint emulator (sign-in, sync API, admin API).
    Emulator(Box<cli::emulator::EmulatorArgs>),
    /// Inspect what the daemon reads from sam.ldb.
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
    /// Print the PHS CredentialData string for an NT hash.
    PhsCredential(cli::phs::PhsArgs),
    /// Convert msbin1 (.NET binary XML, the sync API's body format) to XML text and back.
    Wire {
        #[command(subcommand)]
        command: WireCommand,
    },
}

#[derive(Subcommand, Debug)]
enum WireCommand {
    /// msbin1 to XML on stdout.
    Decode(cli::wire::DecodeArgs),
    /// XML to msbin1 on stdout.
    Encode(cli::wire::EncodeArgs),
}

#[derive(Subcommand, Debug)]
enum DirectoryCommand {
    /// Users, groups and computers with their sync attributes.
    Dump(cli::directory::DumpArgs),
}

fn run(opt: Opt) -> CliResult {
    match opt.command {
        Command::CheckConfig(args) => cli::config::check(&args),
        Command::Directory { command: DirectoryCommand::Dump(args) } => cli::directory::dump(&args),
        Command::Wire { command: WireCommand::Decode(args) } => cli::wire::decode(&args),
        Command::Wire { command: WireCommand::Encode(args) } => cli::wire::encode(&args),
        Command::PhsCredential(args) => cli::phs::phs_credential(&args),
        Command::Emulator(args) => cli::emulator::run(*args),
    }
}

fn main() -> ExitCode {
    let opt = match Opt::try_parse() {
        Ok(o) => o,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(opt) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("samba-entra-sync: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
