//! `runwait sim`: the simulator of the Anaplan API, standalone, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use runwait_sim::{Scenario, SimConfig};

use crate::exit::Exit;

/// Arguments of `runwait sim`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A scenario file (YAML); the built-in scenario when absent.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Scenario seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// The tenant's API calls per second, above which it answers 429 with `Retry-After`
    /// (Anaplan's documented limit is 600 a minute: 10). Overrides the scenario's
    /// `rate_limit`; default: the scenario's, else no limit.
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
}

/// Runs the command.
pub fn run(args: &Args) -> Exit {
    let scenario = match &args.scenario {
        Some(path) => match runwait_workflow::load_scenario(path) {
            Ok(s) => s,
            Err(errors) => {
                eprintln!("{errors}");
                return Exit::Usage;
            }
        },
        None => Scenario::builtin(),
    };
    let mut scenario = scenario;
    if let Some(limit) = args.rate_limit {
        scenario.rate_limit = Some(limit);
    }
    let runtime = match crate::server_runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let config = SimConfig::new(scenario)
        .speed(args.speed)
        .listen(args.listen);
    let served = runtime.block_on(runwait_sim::serve_until(config, async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    match served {
        Ok(()) => Exit::Success,
        Err(e) => {
            eprintln!("runwait: {e}");
            Exit::Usage
        }
    }
}
