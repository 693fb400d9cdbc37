//! Live progress while a workflow runs: one line per running step on a terminal
//! (indicatif), plain timestamped lines elsewhere. Everything goes to stderr, so stdout
//! carries only the summary or the JSON document.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use runwait_executor::StepEvent;

/// Something a running workflow reports.
pub enum Update {
    /// A step began (attempt counts from 1).
    Begin { step: String, attempt: u32 },
    /// An event of a running step.
    Event { step: String, event: StepEvent },
    /// A step ended with this line.
    End { step: String, line: String },
    /// A step was skipped.
    Skipped { step: String, reason: String },
    /// A note for the whole run.
    Note(String),
}

/// Renders updates.
pub struct Display {
    live: Option<MultiProgress>,
    bars: HashMap<String, (ProgressBar, Option<String>)>,
}

impl Display {
    /// Live lines when stderr is a terminal, plain lines otherwise.
    pub fn new() -> Self {
        let live = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Display {
            live,
            bars: HashMap::new(),
        }
    }

    /// Shows one update.
    pub fn show(&mut self, update: Update) {
        match update {
            Update::Begin { step, attempt } => {
                let what = if attempt > 1 {
                    format!("starting (attempt {attempt})")
                } else {
                    "starting".to_owned()
                };
                if let Some(live) = &self.live {
                    let bar = live.add(ProgressBar::new(100));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} {prefix:20} {bar:20} {pos:>3}% {msg} [{elapsed}]",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_prefix(step.clone());
                    bar.set_message(what);
                    bar.enable_steady_tick(Duration::from_millis(200));
                    self.bars.insert(step, (bar, None));
                } else {
                    line(&step, &what);
                }
            }
            Update::Event { step, event } => self.event(&step, event),
            Update::End { step, line: text } => match self.bars.remove(&step) {
                Some((bar, _)) => bar.finish_with_message(text),
                None => line(&step, &text),
            },
            Update::Skipped { step, reason } => self.println(&step, &format!("skipped: {reason}")),
            Update::Note(text) => match &self.live {
                Some(live) => {
                    let _ = live.println(text);
                }
                None => eprintln!("{} {text}", timestamp()),
            },
        }
    }

    fn println(&self, step: &str, text: &str) {
        match &self.live {
            Some(live) => {
                let _ = live.println(format!("  {step:20} {text}"));
            }
            None => line(step, text),
        }
    }

    fn event(&mut self, step: &str, event: StepEvent) {
        let text = match &event {
            StepEvent::Started {
                task_id,
                adopted: false,
            } => format!("started task {task_id}"),
            StepEvent::Started {
                task_id,
                adopted: true,
            } => format!("adopted task {task_id} (the start's reply was lost)"),
            StepEvent::Reattached { task_id } => format!("reattached to task {task_id}"),
            StepEvent::Polled {
                state,
                progress,
                current_step,
                ..
            } => {
                let pct = progress.map_or(String::new(), |p| format!(" {:.0}%", p * 100.0));
                let detail = current_step
                    .as_deref()
                    .map_or(String::new(), |s| format!(" ({s})"));
                format!("{state}{pct}{detail}")
            }
            StepEvent::PollFailed { message } => format!("poll failed, still waiting: {message}"),
            StepEvent::Cancelling => "cancelling the remote task".to_owned(),
            StepEvent::Dump(d) => match &d.path {
                Some(p) => format!(
                    "dump written: {} ({} error rows, {} warning rows)",
                    p.display(),
                    d.error_rows,
                    d.warning_rows
                ),
                None if d.gone => format!("dump of {} is gone (404)", d.object_id),
                None => format!("dump of {} could not be downloaded", d.object_id),
            },
            // An event a newer executor added: nothing to show until the display knows it.
            _ => return,
        };
        match self.bars.get_mut(step) {
            Some((bar, task)) => {
                if let StepEvent::Started { task_id, .. } | StepEvent::Reattached { task_id } =
                    &event
                {
                    *task = Some(task_id.to_string());
                }
                if let StepEvent::Polled {
                    state, progress, ..
                } = &event
                {
                    bar.set_position(progress.map_or(0, |p| (p * 100.0).round() as u64));
                    let task = task
                        .as_deref()
                        .map_or(String::new(), |t| format!(" task {t}"));
                    bar.set_message(format!("{}{task}", state.as_str()));
                } else {
                    let _ = self
                        .live
                        .as_ref()
                        .map(|l| l.println(format!("  {step:20} {text}")));
                }
            }
            None => line(step, &text),
        }
    }
}

fn line(step: &str, text: &str) {
    eprintln!("{} {step}: {text}", timestamp());
}

fn timestamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
