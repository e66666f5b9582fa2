//! `daemon`, `plan`, `sync` and `approve-deletes`.

use std::path::PathBuf;

use super::daemon_client::{BusArgs, SimpleArgs};
use super::local_time::local_time;
use super::progress::{ProgressLine, Work};
use super::{CliResult, Failure};
use crate::daemon::{self, DaemonError};
use crate::sync::plan::Action;

fn failure(e: DaemonError) -> Failure {
    Failure { code: e.exit_code(), message: e.to_string() }
}

#[derive(clap::Args, Debug)]
pub struct DaemonArgs {
    #[arg(long, value_name = "FILE", default_value = "/etc/samba-entra-sync/config.toml")]
    pub config: PathBuf,
}

pub fn run_daemon(args: &DaemonArgs) -> CliResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .thread_name("samba-entra-sync")
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(daemon::run(args.config.clone())).map_err(failure)
}

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// The config to plan with, in this process. On a terminal, stderr shows the progress
    /// (objects read, read back from Entra, planned).
    #[arg(long, value_name = "FILE", default_value = "/etc/samba-entra-sync/config.toml")]
    pub config: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Read the tenant back first, so objects Entra already holds show as matches, not creates
    /// (always done while the state DB holds no export yet).
    #[arg(long)]
    pub read_back: bool,
}

/// What a reconcile would send now, computed in this process from sam.ldb and the state DB.
pub fn plan(args: &PlanArgs) -> CliResult {
    let config = daemon::load_config(&args.config).map_err(failure)?;
    let plan = super::runtime()?.block_on(async {
        let engine = daemon::offline_engine(&config, true).await.map_err(failure)?;
        let _progress = ProgressLine::start(&engine.control, Work::Plan);
        engine.reconciler.plan(args.read_back).await.map_err(Failure::runtime)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan).unwrap_or_default());
        return Ok(());
    }
    println!(
        "{} creates, {} updates, {} password pushes, {} deletes; {} deletes held back; {} refused by the tenant{}",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Password),
        plan.count(Action::Delete),
        plan.held.len(),
        plan.refused.len(),
        if plan.read_back { " (the tenant was read back)" } else { "" }
    );
    for op in plan.operations.iter().chain(&plan.held).chain(&plan.refused) {
        println!(
            "{:<9} {:<8} {:<30} {:<26} {}",
            format!("{:?}", op.action).to_lowercase(),
            op.object_type,
            op.name,
            op.anchor,
            op.reason
        );
    }
    for b in &plan.blocked {
        println!(
            "{:<9} {:<8} {:<30} {:<26} held back, the tenant refused it: {}",
            format!("{:?}", b.action).to_lowercase(),
            b.object_type,
            b.name,
            b.anchor,
            b.blocked
        );
    }
    for w in &plan.warnings {
        println!("warning: {w}");
    }
    if let Some(digest) = &plan.held_digest {
        println!("to release the deletes held by the threshold: samba-entra-sync approve-deletes --digest {digest}");
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    /// Run the reconcile in this process with this config instead of asking the daemon. On a
    /// terminal, stderr shows its progress (objects read, planned, sent; passwords pushed).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Plan and report, send nothing (in-process only).
    #[arg(long)]
    pub dry_run: bool,
    /// A bus address to find the daemon on (without --config; `--config` here means in-process,
    /// so the bus cannot come from a config file).
    #[arg(long, value_name = "ADDRESS", env = "SAMBA_ENTRA_SYNC_BUS")]
    pub bus: Option<String>,
    /// Push every in-scope user's current password again (a full password sync: after a tenant
    /// restore, a cloud-side reset, or a time with password hash sync off), behind fresh
    /// changes; shows progress and ends with a summary.
    #[arg(long)]
    pub all_passwords: bool,
    /// Send the objects the tenant refused one by one (`status` lists them) once more, with
    /// their passwords, instead of waiting for them to change on-premises.
    #[arg(long)]
    pub retry_blocked: bool,
    /// Print the record as JSON (in-process runs and --all-passwords) instead of a summary for
    /// people.
    #[arg(long)]
    pub json: bool,
}

/// A reconcile's outcome for people: counts in words and what to do next.
fn print_summary(s: &crate::sync::report::ReconcileSummary, pushed: usize, left: i64) {
    let took = (s.finished_at - s.started_at).max(0) as f64 / 1000.0;
    let verb = if s.dry_run { "would have sent" } else { "sent" };
    println!(
        "Reconcile finished at {} in {took:.1} s; it {verb}: {} creates, {} updates, {} deletes, {} password changes.",
        local_time(s.finished_at),
        s.creates,
        s.updates,
        s.deletes,
        s.passwords
    );
    if s.dry_run {
        println!("Dry run: nothing was sent to Entra and nothing was recorded.");
    } else {
        println!("Password pushes attempted now: {pushed}; still queued for the daemon: {left}.");
    }
    if s.deletes_held > 0 {
        println!(
            "{} deletes are held back: `samba-entra-sync plan` shows why; `approve-deletes` releases those the threshold holds.",
            s.deletes_held
        );
    }
    if s.drift > 0 {
        println!("{} objects had been changed or deleted in Entra outside this sync and were repaired.", s.drift);
    }
    if s.errors > 0 {
        println!("{} errors: `samba-entra-sync status` lists them.", s.errors);
    }
}

pub fn sync(args: &SyncArgs) -> CliResult {
    if args.all_passwords {
        if args.dry_run {
            return Err(Failure::usage("--all-passwords sends passwords; it has no --dry-run"));
        }
        return match &args.config {
            Some(path) => super::resync::in_process(path, args.json),
            None => super::resync::through_daemon(&BusArgs { config: None, bus: args.bus.clone() }, args.json),
        };
    }
    if args.retry_blocked && args.config.is_none() {
        return super::daemon_client::retry_blocked(&BusArgs { config: None, bus: args.bus.clone() });
    }
    let Some(path) = &args.config else {
        if args.dry_run {
            return Err(Failure::usage("--dry-run runs in-process: give --config FILE (or use `plan`)"));
        }
        return super::daemon_client::sync_now(&SimpleArgs { bus: BusArgs { config: None, bus: args.bus.clone() } });
    };
    let config = daemon::load_config(path).map_err(failure)?;
    super::runtime()?.block_on(async {
        let engine = daemon::offline_engine(&config, args.dry_run).await.map_err(failure)?;
        if args.retry_blocked && !args.dry_run {
            let n = engine.reconciler.retry_blocked().map_err(Failure::runtime)?;
            println!("{n} objects the tenant refused are sent again.");
        }
        let progress = ProgressLine::start(&engine.control, if args.dry_run { Work::Plan } else { Work::Send });
        if !args.dry_run {
            engine.reconciler.check_tenant().await.map_err(Failure::runtime)?;
        }
        let summary = engine.reconciler.run_full().await.map_err(Failure::runtime)?;
        let pushed = if args.dry_run {
            0
        } else {
            progress.passwords_queued(engine.store.outbox_len().map_or(0, |n| u64::try_from(n).unwrap_or(0)));
            engine.passwords.drain().await
        };
        let left = if args.dry_run { 0 } else { engine.store.outbox_len().unwrap_or(0) };
        drop(progress);
        if args.json {
            let mut record = serde_json::to_value(&summary).unwrap_or_default();
            if let Some(o) = record.as_object_mut() {
                o.insert("passwordPushesAttempted".into(), pushed.into());
                o.insert("passwordPushesQueued".into(), left.into());
            }
            println!("{}", serde_json::to_string_pretty(&record).unwrap_or_default());
        } else {
            print_summary(&summary, pushed, left);
        }
        if summary.errors > 0 {
            return Err(Failure::runtime(format!(
                "the reconcile finished with {} errors (see `status`)",
                summary.errors
            )));
        }
        Ok(())
    })
}
