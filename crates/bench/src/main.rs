//! `runwait-bench`: the processes of the benches.
//!
//! - `runwait-bench sim --models N --task DURATION [--rate-limit R]`: the simulator with
//!   the bench's tenant on 127.0.0.1 port 0, scenario time at speed 1 from an explicit
//!   epoch (the wall clock at its start); prints `listening ADDR`, serves until its
//!   standard input closes, then prints its journal's summary (with that epoch, so
//!   journal times map to the wall clock) as one JSON line.
//! - `runwait-bench worker --addr ADDR --n N [...]`: N concurrent `RunAndWait` steps
//!   (see [`runwait_bench::worker`]); prints its report as one JSON line.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

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
    let config = SimConfig::new(scenario(models, task, rate_limit)).epoch(SystemTime::now());
    let sim = Simulator::start(config).await?;
    // Scenario time zero on the wall clock, read off the running clock: the explicit
    // epoch above is taken before the scenario's validation and the bind (tens of ms at
    // 10,000 models), which the clock's own start follows.
    let epoch = SystemTime::now()
        .checked_sub(sim.now())
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .ok_or("the wall clock is before 1970")?;
    println!("listening {}", sim.addr());
    std::io::stdout().flush()?;
    // Serves until the bench closes our input.
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    let mut summary = Summary::of(&sim.journal(), task);
    summary.epoch_ms = u64::try_from(epoch.as_millis())?;
    println!("{}", summary.to_json());
    sim.shutdown().await;
    Ok(())
}
