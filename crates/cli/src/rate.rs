//! `--rate-per-second N|off`: the tenant's rate budget for one run, over the workflow's
//! `defaults.rate_per_second`.

use runwait_executor::RateBudget;
use runwait_postgres::OpenStore;

/// The value of `--rate-per-second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateFlag {
    /// At most this many requests per second for the tenant.
    PerSecond(u32),
    /// No budget: requests are sent when due (a 429 is still honoured per request).
    Off,
}

/// Reads `N` (1 or more) or `off`.
pub fn parse_rate(s: &str) -> Result<RateFlag, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(RateFlag::Off);
    }
    match s.parse::<u32>() {
        Ok(0) => Err("must be 1 or more, or `off` for no budget".to_owned()),
        Ok(n) => Ok(RateFlag::PerSecond(n)),
        Err(_) => Err(format!(
            "`{s}` is neither a number of requests per second nor `off`"
        )),
    }
}

/// The budget of a run: the flag's when given, else the workflow's `per_second`; shared
/// through `state` (its database) unless off.
pub fn budget(
    flag: Option<RateFlag>,
    per_second: u32,
    state: &OpenStore,
    tenant: &str,
) -> RateBudget {
    let per_second = match flag {
        Some(RateFlag::Off) => return RateBudget::unlimited(),
        Some(RateFlag::PerSecond(n)) => n,
        None => per_second,
    };
    state.budget(per_second, tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_flag_overrides_the_workflows_rate_or_turns_the_budget_off() {
        let dir = tempfile::tempdir().unwrap();
        let state = runwait_postgres::StoreLocation::Dir(dir.path().into())
            .open(runwait_postgres::PgOptions::default())
            .await
            .unwrap();
        // (flag, the workflow's rate, the run's rate)
        let cases = [
            (None, 10, Some(10)),
            (Some(RateFlag::PerSecond(200)), 10, Some(200)),
            (Some(RateFlag::Off), 10, None),
        ];
        for (flag, per_second, rate) in cases {
            let budget = budget(flag, per_second, &state, "tenant");
            assert_eq!(budget.rate(), rate, "{flag:?}");
        }
    }

    #[test]
    fn reads_a_rate_or_off() {
        // (text, what it reads as)
        let table: [(&str, Result<RateFlag, &str>); 6] = [
            ("10", Ok(RateFlag::PerSecond(10))),
            ("100000", Ok(RateFlag::PerSecond(100_000))),
            ("off", Ok(RateFlag::Off)),
            ("OFF", Ok(RateFlag::Off)),
            ("0", Err("must be 1 or more, or `off` for no budget")),
            (
                "fast",
                Err("`fast` is neither a number of requests per second nor `off`"),
            ),
        ];
        for (text, expected) in table {
            assert_eq!(parse_rate(text), expected.map_err(str::to_owned), "{text}");
        }
    }
}
