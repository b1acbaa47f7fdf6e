//! Progress on stderr: an indicatif bar on a terminal, plain lines at most
//! every two seconds otherwise (a log file or CI has no use for a redrawn
//! bar), nothing at all when hidden (library callers, tests).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const PLAIN_EVERY: Duration = Duration::from_secs(2);

enum Display {
    Hidden,
    Bar(ProgressBar),
    Plain(Mutex<Plain>),
}

struct Plain {
    done: u64,
    total: u64,
    last: Instant,
}

pub struct Progress {
    label: String,
    started: Instant,
    display: Display,
}

impl Progress {
    /// A bar on a terminal, plain lines otherwise; `total` may grow.
    pub fn new(label: &str, total: u64) -> Self {
        let display = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({rate}, ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", s.per_sec());
                },
            );
            bar.set_style(style);
            bar.set_prefix(label.to_owned());
            Display::Bar(bar)
        } else {
            Display::Plain(Mutex::new(Plain {
                done: 0,
                total,
                last: Instant::now(),
            }))
        };
        Progress {
            label: label.to_owned(),
            started: Instant::now(),
            display,
        }
    }

    pub fn hidden() -> Self {
        Progress {
            label: String::new(),
            started: Instant::now(),
            display: Display::Hidden,
        }
    }

    pub fn inc(&self, n: u64) {
        match &self.display {
            Display::Hidden => {}
            Display::Bar(bar) => {
                bar.inc(n);
                // The total can be an estimate (DescribeTable's count).
                if bar.length().is_some_and(|len| bar.position() > len) {
                    bar.set_length(bar.position());
                }
            }
            Display::Plain(p) => {
                let mut p = p.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                p.done += n;
                p.total = p.total.max(p.done);
                if p.last.elapsed() >= PLAIN_EVERY {
                    p.last = Instant::now();
                    eprintln!("{}", self.line(p.done, p.total));
                }
            }
        }
    }

    fn line(&self, done: u64, total: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let pct = if total > 0 {
            100.0 * done as f64 / total as f64
        } else {
            100.0
        };
        let eta = if rate > 0.0 {
            format!("{:.0}s", (total.saturating_sub(done)) as f64 / rate)
        } else {
            "-".into()
        };
        format!(
            "{}: {done}/{total} ({pct:.0}%), {rate:.0}/s, {secs:.0}s elapsed, ETA {eta}",
            self.label
        )
    }

    /// A message that must not be overdrawn by the bar.
    pub fn println(&self, msg: &str) {
        match &self.display {
            Display::Hidden => {}
            Display::Bar(bar) => bar.suspend(|| eprintln!("{msg}")),
            Display::Plain(_) => eprintln!("{msg}"),
        }
    }

    pub fn finish(&self) {
        match &self.display {
            Display::Hidden => {}
            // The bar goes, and the same final line as without a terminal
            // stays (a finished bar would leave the cursor on its line, and
            // the next line on stdout would start there).
            Display::Bar(bar) => {
                bar.finish_and_clear();
                eprintln!("{}", self.line(bar.position(), bar.length().unwrap_or(0)));
            }
            Display::Plain(p) => {
                let p = p.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                eprintln!("{}", self.line(p.done, p.total.max(p.done)));
            }
        }
    }
}
