//! `runwait-bench`: the processes of the benches.
//!
//! - `runwait-bench sim --models N --task DURATION [--rate-limit R]`: the simulator with
//!   the bench's tenant on 127.0.0.1 port 0; prints `listening ADDR`, serves until its
//!   standard input closes, then prints its journal's summary as one JSON line.
//! - `runwait-bench worker --addr ADDR --n N [...]`: N concurrent `RunAndWait` steps
//!   (see [`runwait_bench::worker`]); prints its report as one JSON line.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use runwait_bench::args::Args;
use runwait_bench::scenario::{Summary, scenario};
use runwait_bench::worker;
use runwait_sim::{SimConfig, Simulator};
use tokio::io::AsyncReadExt;

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let command = argv.next().unwrap_or_default();
    let args = Args::parse(argv);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runwait-bench: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let done = match command.as_str() {
        "sim" => runtime.block_on(sim(&args)),
        "worker" => match worker::Options::from_args(&args) {
            Ok(options) => runtime.block_on(async {
                let report = worker::run(options).await?;
                println!("{report}");
                Ok(())
            }),
            Err(e) => Err(e),
        },
        _ => Err("usage: runwait-bench sim|worker [--options]".into()),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runwait-bench {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn sim(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let models = args.number("models", 1usize);
    let task = args.duration("task", Duration::from_secs(60));
    let rate_limit = args.text("rate-limit").map(str::parse).transpose()?;
    let sim = Simulator::start(SimConfig::new(scenario(models, task, rate_limit))).await?;
    println!("listening {}", sim.addr());
    std::io::stdout().flush()?;
    // Serves until the bench closes our input.
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    let summary = Summary::of(&sim.journal(), task);
    println!("{}", summary.to_json());
    sim.shutdown().await;
    Ok(())
}
