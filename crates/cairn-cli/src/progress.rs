use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::printer::Printer;

/// Progress bars on stderr (bytes, files, rate, ETA), drawn only on a terminal and never in
/// JSON or quiet mode.
pub struct Bars {
    enabled: bool,
    quiet: bool,
    state: Mutex<Option<(ProgressBar, u64, u64)>>,
}

impl Bars {
    pub fn new(printer: &Printer) -> Self {
        Self {
            enabled: printer.progress_enabled(),
            quiet: printer.quiet,
            state: Mutex::new(None),
        }
    }
}

impl cairn_store::Progress for Bars {
    fn start(&self, phase: &str, files: u64, bytes: u64) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{prefix:>12.cyan.bold} [{bar:25}] {binary_bytes}/{binary_total_bytes} {msg} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(phase.to_string());
        bar.set_message(format!("0/{files} files"));
        bar.enable_steady_tick(Duration::from_millis(200));
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = Some((bar, 0, files));
    }

    fn advance(&self, files: u64, bytes: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((bar, done, total)) = state.as_mut() {
            *done += files;
            bar.inc(bytes);
            if files > 0 {
                bar.set_message(format!("{done}/{total} files"));
            }
        }
    }

    fn finish(&self) {
        if let Some((bar, _, _)) = self.state.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }

    fn waiting_for_lock(&self, holder: &str) {
        if !self.quiet {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "waiting for {holder} to release the project's write lock (.cairn/lock)…"
                );
            }
        }
    }
}
