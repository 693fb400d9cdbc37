//! Live progress while a workflow runs: one line per running step on a terminal
//! (indicatif), plain timestamped lines elsewhere. Everything goes to stderr, so stdout
//! carries only the summary or the JSON document.
//!
//! Plain lines say what changes (a start, a task state, a dump, an outcome), not every
//! poll: a long wait polled hundreds of times wrote a line for each into CI logs.
//! Without a terminal each poll is a `debug` log event (target `runwait::poll`), shown
//! with `RUST_LOG=runwait::poll=debug`; on a terminal the step's line shows every poll.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use runwait_core::TaskState;
use runwait_executor::StepEvent;
use runwait_runner::{NodeId, RunEvent};

/// Renders a run's events and notes. Bars are keyed by node id, which every event of
/// every attempt carries, so a retried step's bar moves like the first one's.
pub struct Display {
    live: Option<MultiProgress>,
    bars: HashMap<NodeId, (ProgressBar, Option<String>)>,
    /// Plain lines: the task state last shown per step, so a poll is shown only when
    /// the state changes.
    shown_state: HashMap<NodeId, TaskState>,
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
            shown_state: HashMap::new(),
        }
    }

    /// Shows a note for the whole run.
    pub fn note(&self, text: String) {
        match &self.live {
            Some(live) => {
                let _ = live.println(text);
            }
            None => eprintln!("{} {text}", timestamp()),
        }
    }

    /// How often the live lines' spinners and clocks move while no event comes: a step
    /// waits minutes between polls.
    pub const TICK: Duration = Duration::from_millis(200);

    /// Whether the lines are live (a terminal), so [`tick`](Self::tick) has work.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Moves every live line's spinner and clock. Called by the display's task every
    /// [`TICK`](Self::TICK), rather than indicatif's steady tick, which starts a thread
    /// for each bar: a thousand steps at once on a terminal were a thousand threads.
    pub fn tick(&self) {
        for (bar, _) in self.bars.values() {
            bar.tick();
        }
    }

    /// Shows one event of the run.
    pub fn show(&mut self, event: RunEvent) {
        match event {
            RunEvent::StepStarted { id, attempt } => {
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
                    bar.set_prefix(id.to_string());
                    bar.set_message(what);
                    self.bars.insert(id, (bar, None));
                } else {
                    line(id.as_str(), &what);
                }
            }
            RunEvent::Step { id, event, .. } => self.event(&id, event),
            RunEvent::StepRetrying { id, result, .. }
            | RunEvent::StepFinished { id, result, .. } => {
                self.shown_state.remove(&id);
                match self.bars.remove(&id) {
                    Some((bar, _)) => bar.finish_with_message(result.message),
                    None => line(id.as_str(), &result.message),
                }
            }
            RunEvent::StepSkipped { id, reason } => {
                self.println(id.as_str(), &format!("skipped: {reason}"))
            }
            // An event this version does not know has nothing to show yet.
            _ => {}
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

    fn event(&mut self, id: &NodeId, event: StepEvent) {
        let step = id.as_str();
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
                Some(p) if d.incomplete.is_some() => format!(
                    "dump INCOMPLETE ({}), kept as {}",
                    d.incomplete.as_deref().unwrap_or_default(),
                    p.display()
                ),
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
        match self.bars.get_mut(id) {
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
            None => {
                if let StepEvent::Polled { state, .. } = &event {
                    tracing::debug!(target: "runwait::poll", step, "{text}");
                    if !self.state_changed(id, state) {
                        return;
                    }
                }
                line(step, &text)
            }
        }
    }
}

impl Display {
    /// Whether `state` differs from the last one shown for `step` (and remembers it).
    fn state_changed(&mut self, step: &NodeId, state: &TaskState) -> bool {
        if self.shown_state.get(step) == Some(state) {
            return false;
        }
        self.shown_state.insert(step.clone(), state.clone());
        true
    }
}

fn line(step: &str, text: &str) {
    eprintln!("{} {step}: {text}", timestamp());
}

fn timestamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use runwait_executor::{StepOutcome, StepResult};
    use runwait_runner::NodeId;

    use super::*;

    fn polled(progress: f64) -> StepEvent {
        StepEvent::Polled {
            state: TaskState::InProgress,
            progress: Some(progress),
            current_step: None,
            next_poll_in: Duration::from_secs(5),
        }
    }

    /// The bug of issue 10: the retry's events came as `load.retry1` and missed the bar.
    #[test]
    fn a_retried_steps_bar_moves() {
        let mut display = Display {
            live: Some(MultiProgress::with_draw_target(ProgressDrawTarget::hidden())),
            bars: HashMap::new(),
            shown_state: HashMap::new(),
        };
        let id = NodeId::new("load");
        display.show(RunEvent::StepStarted {
            id: id.clone(),
            attempt: 1,
        });
        display.show(RunEvent::Step {
            id: id.clone(),
            attempt: 1,
            event: polled(0.3),
        });
        assert_eq!(display.bars[&NodeId::new("load")].0.position(), 30);
        display.show(RunEvent::StepRetrying {
            id: id.clone(),
            attempt: 1,
            result: StepResult::without_task(StepOutcome::Failed, "failed", Duration::ZERO),
        });
        assert!(
            display.bars.is_empty(),
            "the first attempt's bar is finished"
        );
        display.show(RunEvent::StepStarted {
            id: id.clone(),
            attempt: 2,
        });
        display.show(RunEvent::Step {
            id: id.clone(),
            attempt: 2,
            event: polled(0.5),
        });
        let (bar, _) = &display.bars[&NodeId::new("load")];
        assert_eq!(bar.position(), 50, "the retry's bar moves");
        assert_eq!(bar.message(), "IN_PROGRESS");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn live_lines_start_no_thread_per_step() {
        let threads = || {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
            line["Threads:".len()..].trim().parse::<usize>().unwrap()
        };
        let mut display = Display {
            live: Some(MultiProgress::with_draw_target(ProgressDrawTarget::hidden())),
            bars: HashMap::new(),
            shown_state: HashMap::new(),
        };
        let before = threads();
        for i in 0..50 {
            display.show(RunEvent::StepStarted {
                id: NodeId::new(format!("s{i}")),
                attempt: 1,
            });
        }
        display.tick();
        assert_eq!(display.bars.len(), 50);
        // Other tests of this binary may start or end threads meanwhile; a thread a
        // line would be 50 more.
        let after = threads();
        assert!(
            after < before + 25,
            "{before} threads, then {after} with 50 lines"
        );
    }

    #[test]
    fn plain_lines_show_a_poll_only_when_the_state_changes() {
        let mut display = Display {
            live: None,
            bars: HashMap::new(),
            shown_state: HashMap::new(),
        };
        use TaskState::*;
        // (step, state polled, shown)
        let polls = [
            ("a", NotStarted, true),
            ("a", NotStarted, false),
            ("b", NotStarted, true),
            ("a", InProgress, true),
            ("a", InProgress, false),
            ("a", InProgress, false),
            ("a", Complete, true),
        ];
        for (i, (step, state, shown)) in polls.into_iter().enumerate() {
            assert_eq!(
                display.state_changed(&NodeId::new(step), &state),
                shown,
                "poll {i}"
            );
        }
        // A retried step starts over: its first poll is shown again.
        display.show(RunEvent::StepRetrying {
            id: NodeId::new("a"),
            attempt: 1,
            result: StepResult::without_task(StepOutcome::Failed, "failed", Duration::ZERO),
        });
        assert!(display.state_changed(&NodeId::new("a"), &Complete));
    }
}
