//! The `samba-entra-sync` command line: parsing only; the work is in `cli`.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::todo, clippy::unimplemented)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
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
    /// Run the daemon (systemd Type=notify).
    Daemon(cli::engine::DaemonArgs),
    /// Ask the running daemon for a reconcile now, or run one in-process with --config.
    Sync(cli::engine::SyncArgs),
    /// What a reconcile would send now: creates, updates, deletes, password pushes, and what the
    /// safety rules hold back.
    Plan(cli::engine::PlanArgs),
    /// Release deletes held back by the deletion threshold (asks the running daemon).
    ApproveDeletes(cli::daemon_client::ApproveArgs),
    /// Validate a config file; every error names its key.
    CheckConfig(cli::config::CheckConfigArgs),
    /// Write the man pages and the bash completion (for packaging).
    #[command(hide = true)]
    GenerateDocs(cli::docs::GenerateArgs),
    /// Check everything samba-entra-sync depends on (config, hook, complexity, Samba, daemon,
    /// sign-in, tenant, clock, state DB), one line each with the fix; exit 0 only when all pass.
    Doctor(cli::doctor::DoctorArgs),
    /// Run the local Entra sync-endpoint emulator (sign-in, sync API, admin API).
    Emulator(Box<cli::emulator::EmulatorArgs>),
    /// Inspect what the daemon reads from sam.ldb.
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
    /// Sign the sync account in (device code) and store its refresh token (mode 0600).
    Login(cli::login::LoginArgs),
    /// Set up application-based sign-in: an administrator signs in once; the app registration,
    /// its certificate (made here), its service principal and its sync role are made through
    /// Microsoft Graph and the config switches to method = "certificate" (--dry-run: show the calls).
    RegisterApp(cli::register_app::RegisterAppArgs),
    /// Seamless single sign-on: the AZUREADSSOACC account on this DC and its key in Entra
    /// (enable, rollover, disable, status).
    SeamlessSso(cli::seamless_sso::SeamlessSsoArgs),
    /// Ask the running daemon for its state, counters, latency and recent errors.
    Status(cli::daemon_client::StatusArgs),
    /// One user's sync and password state, from the running daemon.
    User(cli::daemon_client::UserArgs),
    /// Print the PHS CredentialData string for an NT hash.
    PhsCredential(cli::phs::PhsArgs),
    /// Show (or with --apply write, keeping a backup) the smb.conf line that runs the hook.
    InstallHook(cli::install_hook::InstallHookArgs),
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
        Command::Daemon(args) => cli::engine::run_daemon(&args),
        Command::Sync(args) => cli::engine::sync(&args),
        Command::Plan(args) => cli::engine::plan(&args),
        Command::ApproveDeletes(args) => cli::daemon_client::approve_deletes(&args),
        Command::CheckConfig(args) => cli::config::check(&args),
        Command::Doctor(args) => cli::doctor::run(&args),
        Command::GenerateDocs(args) => cli::docs::generate(&args, Opt::command()),
        Command::Directory { command: DirectoryCommand::Dump(args) } => cli::directory::dump(&args),
        Command::Wire { command: WireCommand::Decode(args) } => cli::wire::decode(&args),
        Command::Wire { command: WireCommand::Encode(args) } => cli::wire::encode(&args),
        Command::Login(args) => cli::login::run(&args),
        Command::RegisterApp(args) => cli::register_app::run(&args),
        Command::SeamlessSso(args) => cli::seamless_sso::run(&args),
        Command::Status(args) => cli::daemon_client::status(&args),
        Command::User(args) => cli::daemon_client::user(&args),
        Command::PhsCredential(args) => cli::phs::phs_credential(&args),
        Command::Emulator(args) => cli::emulator::run(*args),
        Command::InstallHook(args) => cli::install_hook::run(&args),
    }
}

/// Logs: journald under systemd, readable text on stderr otherwise. The daemon logs at info,
/// other subcommands only warnings (RUST_LOG overrides both).
fn init_logging(daemon: bool) {
    use tracing_subscriber::prelude::*;
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let journald =
        (daemon && std::env::var_os("JOURNAL_STREAM").is_some()).then(|| tracing_journald::layer().ok()).flatten();
    let registry = tracing_subscriber::registry().with(filter);
    match journald {
        Some(layer) => registry.with(layer).init(),
        None => {
            // Colours only on a terminal: a log file or a pipe gets plain `key=value` text.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let layer =
                tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(ansi);
            registry.with(layer).init()
        }
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
    init_logging(matches!(opt.command, Command::Daemon(_)));
    match run(opt) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("samba-entra-sync: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
