//! The progress line of long work (`sync --config`, `plan --config`): redrawn in place on stderr
//! while stderr is a terminal, so a person watching a large domain sees the run move. When
//! stderr is not a terminal (a pipe, a log, a unit's journal) it draws nothing: the output stays
//! the line-oriented summary on stdout.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sync::control::Control;
use crate::sync::progress::ProgressFigures;

const REDRAW_EVERY: Duration = Duration::from_millis(200);

/// The widest line drawn where the terminal's width is unknown (a wider one would wrap, and
/// `\r` then redraws only its last row).
const DEFAULT_WIDTH: usize = 80;

/// What the run does with its plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Work {
    /// Plans only (`plan`, `sync --dry-run`): no "sent" figure.
    Plan,
    /// Plans and sends (`sync`).
    Send,
}

/// Draws while it lives; dropping it erases the line (so the summary that follows starts clean).
pub(crate) struct ProgressLine {
    printer: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    passwords_queued: Arc<AtomicU64>,
}

impl ProgressLine {
    /// Starts drawing the engine's progress if stderr is a terminal; otherwise a line that
    /// draws nothing.
    pub(crate) fn start(control: &Control, work: Work) -> ProgressLine {
        let passwords_queued = Arc::new(AtomicU64::new(0));
        let printer = std::io::stderr().is_terminal().then(|| {
            let (stop, stopped) = mpsc::channel();
            let (control, queued) = (control.clone(), passwords_queued.clone());
            std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || draw_until_stopped(&control, work, &queued, &stopped))
                .ok()
                .map(|handle| (stop, handle))
        });
        ProgressLine { printer: printer.flatten(), passwords_queued }
    }

    /// The password pushes about to be made (the queue), so the line can show how many are done.
    pub(crate) fn passwords_queued(&self, n: u64) {
        self.passwords_queued.store(n, Ordering::Relaxed);
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.printer.take() {
            let _ = stop.send(());
            let _ = handle.join();
        }
    }
}

fn draw_until_stopped(control: &Control, work: Work, queued: &AtomicU64, stopped: &mpsc::Receiver<()>) {
    let started = Instant::now();
    // The engine's count of acknowledged pushes lives as long as the engine: count from here.
    let pushed_before = control.latency_histogram().count;
    let width = terminal_width();
    let mut drawn = 0;
    let mut finished = false;
    loop {
        let sample = Sample {
            figures: control.progress().figures(),
            pushed: control.latency_histogram().count.saturating_sub(pushed_before),
            queued: queued.load(Ordering::Relaxed),
            elapsed: started.elapsed(),
        };
        drawn = redraw(&describe(&sample, work, width), drawn, width);
        // The last frame is drawn after the work ended, with its final figures.
        if finished {
            break;
        }
        finished = !matches!(stopped.recv_timeout(REDRAW_EVERY), Err(RecvTimeoutError::Timeout));
    }
    // Erase, so the summary that follows is not mixed with the last frame.
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r{:drawn$}\r", "");
    let _ = err.flush();
}

/// Draws `line` over the previous one (`drawn` characters wide); returns the new width.
fn redraw(line: &str, drawn: usize, width: usize) -> usize {
    let line: String = line.chars().take(width.saturating_sub(1)).collect();
    let len = line.chars().count();
    let mut err = std::io::stderr().lock();
    // Spaces rather than an escape sequence blank the old tail: works on any terminal.
    let _ = write!(err, "\r{line}{:pad$}", "", pad = drawn.saturating_sub(len));
    let _ = err.flush();
    len
}

/// `COLUMNS` where the shell exports it; 80 otherwise.
fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()).filter(|&w| w > 10).unwrap_or(DEFAULT_WIDTH)
}

struct Sample {
    figures: ProgressFigures,
    /// Password pushes acknowledged since the line started.
    pushed: u64,
    /// Password pushes queued for this run (0 until known).
    queued: u64,
    elapsed: Duration,
}

/// `1200 read, 3 read back, 1180 planned, 400/1100 sent, 20/80 passwords pushed, 12 s`: each
/// figure once it is known. A line wider than `width` leaves out figures, the least telling first
/// (what was read back, then read, then planned), rather than cutting one in half.
fn describe(s: &Sample, work: Work, width: usize) -> String {
    let f = &s.figures;
    // (figure, rank: the lower, the longer it stays on a narrow terminal)
    let mut parts: Vec<(String, u8)> = Vec::new();
    if f.read == 0 && f.planned.is_none() {
        parts.push(("reading the directory".to_owned(), 0));
    } else {
        parts.push((format!("{} read", f.read), 3));
    }
    if f.read_back > 0 {
        parts.push((format!("{} read back", f.read_back), 4));
    }
    match f.planned {
        None if f.read > 0 => parts.push(("planning".to_owned(), 0)),
        None => {}
        Some(p) => {
            parts.push((format!("{} planned", p.objects + p.passwords), 2));
            // Drift repair sends what was not planned: then no total.
            match work {
                Work::Send if f.sent <= p.objects && p.objects > 0 => {
                    parts.push((format!("{}/{} sent", f.sent, p.objects), 1))
                }
                Work::Send if f.sent > 0 => parts.push((format!("{} sent", f.sent), 1)),
                _ => {}
            }
        }
    }
    if s.queued > 0 {
        parts.push((format!("{}/{} passwords pushed", s.pushed.min(s.queued), s.queued), 0));
    } else if s.pushed > 0 {
        parts.push((format!("{} passwords pushed", s.pushed), 0));
    }
    parts.push((format!("{} s", s.elapsed.as_secs()), 0));
    let line = |parts: &[(String, u8)]| parts.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(", ");
    while line(&parts).chars().count() >= width {
        let Some(drop) = parts.iter().enumerate().filter(|(_, (_, rank))| *rank > 0).max_by_key(|(_, (_, rank))| *rank)
        else {
            break;
        };
        parts.remove(drop.0);
    }
    line(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::progress::Planned;

    fn sample(read: u64, read_back: u64, planned: Option<(u64, u64)>, sent: u64, pushed: u64, queued: u64) -> Sample {
        Sample {
            figures: ProgressFigures {
                read,
                read_back,
                planned: planned.map(|(objects, passwords)| Planned { objects, passwords }),
                sent,
            },
            pushed,
            queued,
            elapsed: Duration::from_secs(12),
        }
    }

    #[test]
    fn each_figure_shows_once_it_is_known() {
        assert_eq!(describe(&sample(0, 0, None, 0, 0, 0), Work::Send, 80), "reading the directory, 12 s");
        assert_eq!(describe(&sample(1200, 0, None, 0, 0, 0), Work::Send, 80), "1200 read, planning, 12 s");
        assert_eq!(
            describe(&sample(1200, 30, None, 0, 0, 0), Work::Plan, 80),
            "1200 read, 30 read back, planning, 12 s"
        );
        assert_eq!(
            describe(&sample(1200, 0, Some((1100, 80)), 400, 0, 0), Work::Send, 80),
            "1200 read, 1180 planned, 400/1100 sent, 12 s"
        );
        assert_eq!(
            describe(&sample(1200, 0, Some((1100, 80)), 1100, 20, 80), Work::Send, 80),
            "1200 read, 1180 planned, 1100/1100 sent, 20/80 passwords pushed, 12 s"
        );
    }

    #[test]
    fn a_narrow_line_leaves_out_whole_figures_the_least_telling_first() {
        let s = sample(110_000, 100_000, Some((110_000, 100_000)), 50_000, 20_000, 100_000);
        let wide = describe(&s, Work::Send, 200);
        assert_eq!(
            wide,
            "110000 read, 100000 read back, 210000 planned, 50000/110000 sent, 20000/100000 passwords pushed, 12 s"
        );
        assert_eq!(
            describe(&s, Work::Send, 80),
            "210000 planned, 50000/110000 sent, 20000/100000 passwords pushed, 12 s"
        );
        assert_eq!(describe(&s, Work::Send, 40), "20000/100000 passwords pushed, 12 s");
        assert!(describe(&s, Work::Send, 80).chars().count() < 80);
    }

    #[test]
    fn a_plan_or_a_dry_run_shows_nothing_sent() {
        assert_eq!(describe(&sample(5, 0, Some((3, 1)), 0, 0, 0), Work::Plan, 80), "5 read, 4 planned, 12 s");
    }

    #[test]
    fn what_drift_repair_sends_beyond_the_plan_has_no_total() {
        assert_eq!(
            describe(&sample(5, 9, Some((3, 0)), 4, 0, 0), Work::Send, 80),
            "5 read, 9 read back, 3 planned, 4 sent, 12 s"
        );
    }
}
