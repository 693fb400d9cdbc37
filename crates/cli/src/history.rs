//! `runwait tasks --history`: the finished steps the state store kept, newest first.

use std::time::Duration;

use runwait_executor::StepHistory;

/// Prints the history table (or that there is none).
pub fn print(workflow: &str, shown: &str, entries: &[StepHistory]) {
    println!();
    if entries.is_empty() {
        println!("no finished steps recorded for workflow {workflow} in {shown}");
        return;
    }
    println!(
        "{:<24} {:<28} {:<20} {:<24} {:>10} {:<26} {:>6}",
        "STEP", "RUN KEY", "ENDED", "OBJECT", "DURATION", "OUTCOME", "POLLS"
    );
    for e in entries {
        println!(
            "{:<24} {:<28} {:<20} {:<24} {:>10} {:<26} {:>6}",
            e.step_id,
            e.run_key.as_str(),
            humantime::format_rfc3339_seconds(e.ended_at).to_string(),
            format!("{} {}", e.target.kind, e.target.object),
            short(e.duration),
            e.outcome.name(),
            e.polls
        );
    }
}

/// `1h2m3s` to the second (`0s` under a second).
fn short(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs()))
        .to_string()
        .replace(' ', "")
}
