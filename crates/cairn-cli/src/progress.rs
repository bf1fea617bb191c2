//! Progress on stderr, drawn with indicatif on a terminal only, never in JSON or quiet mode:
//! [`Bars`] for the store's transfers, [`TrainBars`] for a training run. What is not a bar
//! (waiting for the write lock) goes through the [`Printer`].

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::printer::Printer;

/// Progress bars on stderr (bytes, files, rate, ETA).
pub struct Bars<'a> {
    printer: &'a Printer,
    enabled: bool,
    state: Mutex<Option<(ProgressBar, u64, u64)>>,
}

impl<'a> Bars<'a> {
    pub fn new(printer: &'a Printer) -> Self {
        Self {
            printer,
            enabled: printer.progress_enabled(),
            state: Mutex::new(None),
        }
    }
}

impl cairn_store::Progress for Bars<'_> {
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
        self.printer.waiting_for_lock(holder);
    }
}

/// A training run's progress: phases on a spinner, trees on a bar.
pub struct TrainBars<'a> {
    printer: &'a Printer,
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl<'a> TrainBars<'a> {
    pub fn new(printer: &'a Printer) -> Self {
        Self {
            printer,
            enabled: printer.progress_enabled(),
            bar: Mutex::new(None),
        }
    }

    /// Clears the last phase's spinner.
    pub fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

impl cairn_train::TrainProgress for TrainBars<'_> {
    fn phase(&self, phase: &str) {
        if !self.enabled {
            return;
        }
        let mut state = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bar) = state.take() {
            bar.finish_and_clear();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>12.cyan.bold} {spinner} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(phase.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        *state = Some(bar);
    }

    fn waiting_for_lock(&self, holder: &str) {
        self.printer.waiting_for_lock(holder);
    }

    fn fit(&self, done: usize, total: usize) {
        if !self.enabled || total <= 1 {
            return;
        }
        let state = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bar) = state.as_ref() {
            if bar.length() != Some(total as u64) {
                bar.set_length(total as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>12.cyan.bold} [{bar:25}] {pos}/{len} trees {elapsed} ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
            }
            bar.set_position(done as u64);
        }
    }
}
