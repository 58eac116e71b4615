//! Seeded, deterministic fault injection: the same seed and the same requests give the same
//! faults, so a failing test can be replayed.

use std::collections::VecDeque;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// Chances (0.0–1.0) of each fault per request or per job, and shapes of job results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// An answer of 500/502/503 before anything is done.
    pub server_error: f64,
    /// The connection closes with no answer at all.
    pub drop_connection: f64,
    /// The answer waits `slow_for` (real time) first.
    pub slow: f64,
    pub slow_for: Duration,
    /// A bulk call is accepted (the job exists and runs) but the answer is a 502.
    pub lost_answer: f64,
    /// A job ends `failed`, or `killed`, having changed nothing.
    pub job_failed: f64,
    pub job_killed: f64,
    /// Results carry no `index` (but `email`/`external_id` when the user had one).
    pub results_without_index: bool,
    /// Results come in another order than the users sent.
    pub results_out_of_order: bool,
    /// A new job answers 404 to its first status read.
    pub job_not_found_first: bool,
    /// `Retry-After` as an HTTP date instead of seconds (RFC 9110 allows both).
    pub retry_after_date: bool,
}

/// Something that goes wrong with one request or job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    ServerError(u16),
    /// A 429 with `Retry-After` (real time, whole seconds), as the rate limit answers.
    RateLimited(Duration),
    DropConnection,
    Slow(Duration),
    LostAnswer,
    JobFailed,
    JobKilled,
}

/// A fault forced onto the next request whose path contains `path`, for tests.
#[derive(Debug, Clone)]
pub struct ForcedFault {
    pub path: String,
    pub fault: Fault,
}

/// The faults one request gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draw {
    pub before: Option<Fault>,
    pub lost_answer: bool,
    pub job_end: Option<Fault>,
}

/// Draws faults from a seeded generator.
#[derive(Debug)]
pub struct Faults {
    pub config: FaultConfig,
    rng: StdRng,
    forced: VecDeque<ForcedFault>,
}

impl Faults {
    pub fn new(config: FaultConfig, seed: u64) -> Self {
        Self {
            config,
            rng: StdRng::seed_from_u64(seed),
            forced: VecDeque::new(),
        }
    }

    pub fn force(&mut self, forced: ForcedFault) {
        self.forced.push_back(forced);
    }

    /// The faults for a request to `path`. The generator advances by the same number of draws
    /// on every request, so which fault hits which request depends only on the seed and the
    /// order of requests.
    pub fn draw(&mut self, path: &str, bulk: bool) -> Draw {
        let rolls: [f64; 6] = std::array::from_fn(|_| self.rng.random::<f64>());
        let code = [500, 502, 503][self.rng.random_range(0..3)];
        let c = &self.config;
        let before = if rolls[0] < c.server_error {
            Some(Fault::ServerError(code))
        } else if rolls[1] < c.drop_connection {
            Some(Fault::DropConnection)
        } else if rolls[2] < c.slow {
            Some(Fault::Slow(c.slow_for))
        } else {
            None
        };
        let job_end = if !bulk {
            None
        } else if rolls[4] < c.job_failed {
            Some(Fault::JobFailed)
        } else if rolls[5] < c.job_killed {
            Some(Fault::JobKilled)
        } else {
            None
        };
        let mut draw = Draw {
            before,
            lost_answer: bulk && rolls[3] < c.lost_answer,
            job_end,
        };
        self.apply_forced(path, &mut draw);
        draw
    }

    fn apply_forced(&mut self, path: &str, draw: &mut Draw) {
        let Some(at) = self.forced.iter().position(|f| path.contains(&f.path)) else {
            return;
        };
        let Some(forced) = self.forced.remove(at) else {
            return;
        };
        match forced.fault {
            Fault::LostAnswer => draw.lost_answer = true,
            fault @ (Fault::JobFailed | Fault::JobKilled) => draw.job_end = Some(fault),
            fault => draw.before = Some(fault),
        }
    }

    /// A seeded permutation of `0..len`, for results out of order.
    pub fn shuffle(&mut self, len: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..len).collect();
        for i in (1..len).rev() {
            order.swap(i, self.rng.random_range(0..=i));
        }
        if len > 1 && order.iter().enumerate().all(|(i, &o)| i == o) {
            order.reverse();
        }
        order
    }
}

/// A `--faults` value that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "--faults: '{item}': {reason} (expected e.g. 5xx=0.05,drop=0.01,slow=0.1:2s,lost=0.01,\
     failed=0.02,killed=0.01,no-index,shuffle,job-404,http-date)"
)]
pub struct FaultParseError {
    item: String,
    reason: String,
}

impl FromStr for FaultConfig {
    type Err = FaultParseError;

    /// `5xx=0.05,drop=0.01,slow=0.1:2s,lost=0.01,failed=0.02,killed=0.01,no-index,shuffle,job-404`
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut config = Self {
            slow_for: Duration::from_secs(2),
            ..Self::default()
        };
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            parse_item(&mut config, item).map_err(|reason| FaultParseError {
                item: item.to_owned(),
                reason,
            })?;
        }
        Ok(config)
    }
}

fn parse_item(config: &mut FaultConfig, item: &str) -> Result<(), String> {
    match item {
        "no-index" => config.results_without_index = true,
        "shuffle" => config.results_out_of_order = true,
        "job-404" => config.job_not_found_first = true,
        "http-date" => config.retry_after_date = true,
        _ => {
            let (name, value) = item.split_once('=').ok_or("unknown fault")?;
            let (chance, extra) = value
                .split_once(':')
                .map_or((value, None), |(a, b)| (a, Some(b)));
            let chance: f64 = chance.parse().map_err(|_| "the chance is not a number")?;
            if !(0.0..=1.0).contains(&chance) {
                return Err("the chance must be between 0 and 1".into());
            }
            let slot = match name {
                "5xx" => &mut config.server_error,
                "drop" => &mut config.drop_connection,
                "slow" => &mut config.slow,
                "lost" => &mut config.lost_answer,
                "failed" => &mut config.job_failed,
                "killed" => &mut config.job_killed,
                _ => return Err("unknown fault".into()),
            };
            *slot = chance;
            if let Some(extra) = extra {
                let secs = extra
                    .trim_end_matches('s')
                    .parse::<f64>()
                    .map_err(|_| "bad delay")?;
                config.slow_for = Duration::from_secs_f64(secs);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_syntax() {
        let c: FaultConfig = "5xx=0.1,slow=0.5:0.2s,no-index,shuffle,job-404"
            .parse()
            .unwrap();
        assert!((c.server_error - 0.1).abs() < 1e-9);
        assert_eq!(c.slow_for, Duration::from_millis(200));
        assert!(c.results_without_index && c.results_out_of_order && c.job_not_found_first);
        assert!("5xx=2".parse::<FaultConfig>().is_err());
        assert!("boom".parse::<FaultConfig>().is_err());
    }

    #[test]
    fn same_seed_same_faults() {
        let config: FaultConfig = "5xx=0.3,drop=0.2,lost=0.3".parse().unwrap();
        let run = |seed| {
            let mut f = Faults::new(config.clone(), seed);
            (0..50).map(|_| f.draw("/x", true)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().any(|d| d.before.is_some()));
    }

    #[test]
    fn forced_fault_hits_the_matching_path_once() {
        let mut f = Faults::new(FaultConfig::default(), 1);
        f.force(ForcedFault {
            path: "create_many".into(),
            fault: Fault::DropConnection,
        });
        assert_eq!(f.draw("/api/v2/users/me.json", false).before, None);
        assert_eq!(
            f.draw("/api/v2/users/create_many.json", true).before,
            Some(Fault::DropConnection)
        );
        assert_eq!(f.draw("/api/v2/users/create_many.json", true).before, None);
    }
}
