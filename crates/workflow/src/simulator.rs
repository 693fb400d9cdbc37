//! `connection: simulator:`: the embedded simulator started on loopback and a client
//! logged in as the scenario's first user with a password (the `simulator` feature).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use runwait_anaplan::{BasicAuth, Client, Clock, Endpoints, Secret};
use runwait_sim::{Scenario, SimConfig, Simulator};
use tokio::time::Instant;

use crate::connect::{ConnectError, Connected};

/// Starts the simulator with `scenario` at `speed` and connects to it.
pub(crate) async fn connect(scenario: &Scenario, speed: f64) -> Result<Connected, ConnectError> {
    let user = scenario
        .users
        .iter()
        .find_map(|u| u.password.clone().map(|p| (u.name.clone(), p)))
        .ok_or(ConnectError::NoSimUser)?;
    let epoch = SystemTime::now();
    let simulator =
        Simulator::start(SimConfig::new(scenario.clone()).speed(speed).epoch(epoch)).await?;
    let endpoints = Endpoints::custom(&simulator.api_url(), &simulator.auth_url())?;
    let client = Client::builder(endpoints, BasicAuth::new(user.0, Secret::new(user.1)))
        .clock(Arc::new(ScenarioClock {
            epoch,
            start: Instant::now(),
            speed,
        }))
        .build()?;
    Ok(Connected {
        client,
        simulator: Some(simulator),
        warnings: Vec::new(),
    })
}

/// The simulator's wall clock (scenario time runs `speed` times faster), so the client
/// renews its token before the simulator expires it.
#[derive(Debug)]
struct ScenarioClock {
    epoch: SystemTime,
    start: Instant,
    speed: f64,
}

impl Clock for ScenarioClock {
    fn now(&self) -> SystemTime {
        // An absurd speed saturates (at a century) instead of overflowing.
        let century = Duration::from_secs(100 * 365 * 86_400);
        let scenario = Duration::try_from_secs_f64(self.start.elapsed().as_secs_f64() * self.speed)
            .unwrap_or(century);
        self.epoch + scenario.min(century)
    }
}
