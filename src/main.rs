//! The `samba-entra-sync` command line: parsing only; the work is in `cli`.

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
    /// Inspect what the daemon reads from sam.ldb.
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
    /// Print the PHS CredentialData string for an NT hash.
    PhsCredential(cli::phs::PhsArgs),
}

#[derive(Subcommand, Debug)]
enum DirectoryCommand {
    /// Users, groups and computers with their sync attributes.
    Dump(cli::directory::DumpArgs),
}

fn run(opt: Opt) -> CliResult {
    match opt.command {
        Command::Directory { command: DirectoryCommand::Dump(args) } => cli::directory::dump(&args),
        Command::PhsCredential(args) => cli::phs::phs_credential(&args),
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
