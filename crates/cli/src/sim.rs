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
    let runtime = match crate::runtime() {
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
