//! The few options of the benches and the bin: `--name value` pairs, nothing more (cargo
//! passes `--bench` to a bench without a harness; it is ignored).

use std::collections::HashMap;
use std::time::Duration;

/// Options given as `--name value`.
#[derive(Debug, Default)]
pub struct Args(HashMap<String, String>);

impl Args {
    /// The options of this process (`std::env::args`, the program name and any
    /// `--bench` left out). A lone flag reads as `"true"`.
    pub fn from_env() -> Args {
        Args::parse(std::env::args().skip(1))
    }

    /// The options in `args`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Args {
        let mut map = HashMap::new();
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            let Some(name) = arg.strip_prefix("--") else {
                continue;
            };
            if name == "bench" {
                continue;
            }
            let value = match args.peek() {
                Some(v) if !v.starts_with("--") => args.next().unwrap_or_default(),
                _ => "true".to_owned(),
            };
            map.insert(name.to_owned(), value);
        }
        Args(map)
    }

    /// The text of option `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Option `name` as a number, or `default`; exits with a message if it is not one.
    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.text(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| usage(name, v, "a number")),
        }
    }

    /// Option `name` as a comma-separated list of numbers (`100,1000`), or `default`.
    pub fn numbers(&self, name: &str, default: &[usize]) -> Vec<usize> {
        match self.text(name) {
            None => default.to_vec(),
            Some(v) => v
                .split(',')
                .map(|n| {
                    n.trim()
                        .replace('_', "")
                        .parse()
                        .unwrap_or_else(|_| usage(name, v, "numbers like 100,1000"))
                })
                .collect(),
        }
    }

    /// Option `name` as whole seconds (`120`) or with a unit (`90s`, `2m`), or `default`.
    pub fn duration(&self, name: &str, default: Duration) -> Duration {
        match self.text(name) {
            None => default,
            Some(v) => parse_duration(v).unwrap_or_else(|| usage(name, v, "a duration like 90s")),
        }
    }
}

fn parse_duration(v: &str) -> Option<Duration> {
    let (number, unit) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => v.split_at(at),
        None => (v, "s"),
    };
    let n: f64 = number.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

fn usage(name: &str, value: &str, want: &str) -> ! {
    eprintln!("--{name} {value}: expected {want}");
    std::process::exit(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_flags_and_lists_and_skips_cargos_bench_flag() {
        let args = Args::parse(
            ["--bench", "--n", "100,1_000", "--task", "2m", "--quick"].map(String::from),
        );
        assert_eq!(args.numbers("n", &[1]), vec![100, 1000]);
        assert_eq!(
            args.duration("task", Duration::ZERO),
            Duration::from_secs(120)
        );
        assert_eq!(args.text("quick"), Some("true"));
        assert_eq!(args.text("bench"), None);
        assert_eq!(args.number("missing", 7u32), 7);
    }

    #[test]
    fn durations_take_units() {
        for (text, secs) in [("90", 90.0), ("90s", 90.0), ("1.5m", 90.0), ("500ms", 0.5)] {
            assert_eq!(
                parse_duration(text),
                Some(Duration::from_secs_f64(secs)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("3 weeks"), None);
    }
}
