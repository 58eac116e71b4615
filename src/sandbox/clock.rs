//! The sandbox's own time, which tests and benchmarks speed up or move forward.
//!
//! Jobs, rate-limit windows and token lifetimes all run on this clock, so a 700
//! requests-per-minute rehearsal or a 30-minute token expiry fits in a test's seconds.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug)]
struct ClockState {
    /// Real instant and simulated time at the last change of speed or jump.
    anchor_real: Instant,
    anchor_sim: Duration,
    speed: f64,
}

/// Simulated time since the sandbox started: real time × speed, plus every `advance`.
#[derive(Debug, Clone)]
pub struct SimClock {
    state: Arc<Mutex<ClockState>>,
    /// The wall-clock time at the sandbox's start, for `created_at` and job messages.
    epoch: SystemTime,
}

impl SimClock {
    /// A clock running `speed` times faster than real time (1.0 = real time).
    pub fn new(speed: f64) -> Self {
        Self {
            state: Arc::new(Mutex::new(ClockState {
                anchor_real: Instant::now(),
                anchor_sim: Duration::ZERO,
                speed: sanitize(speed),
            })),
            epoch: SystemTime::now(),
        }
    }

    /// Simulated time elapsed since the start.
    pub fn now(&self) -> Duration {
        let state = self.lock();
        state.anchor_sim + state.anchor_real.elapsed().mul_f64(state.speed)
    }

    /// Simulated wall-clock time.
    pub fn wall(&self) -> SystemTime {
        self.epoch + self.now()
    }

    /// Jumps forward: jobs finish, windows reset and tokens expire as if `by` had passed.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        let elapsed = state.anchor_real.elapsed().mul_f64(state.speed);
        state.anchor_sim += elapsed + by;
        state.anchor_real = Instant::now();
    }

    /// Changes the speed from now on, keeping the time reached so far.
    pub fn set_speed(&self, speed: f64) {
        let mut state = self.lock();
        let elapsed = state.anchor_real.elapsed().mul_f64(state.speed);
        state.anchor_sim += elapsed;
        state.anchor_real = Instant::now();
        state.speed = sanitize(speed);
    }

    pub fn speed(&self) -> f64 {
        self.lock().speed
    }

    /// How long a simulated span lasts in real time (for `Retry-After`, which a client
    /// waits out with its real clock).
    pub fn to_real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.speed())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // The state is two numbers: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn sanitize(speed: f64) -> f64 {
    if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_time_at_once() {
        let clock = SimClock::new(1.0);
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() >= before + Duration::from_secs(3600));
    }

    #[test]
    fn speed_scales_real_time() {
        let clock = SimClock::new(1000.0);
        let start = Instant::now();
        while clock.now() < Duration::from_secs(5) {
            assert!(start.elapsed() < Duration::from_secs(2), "clock too slow");
            std::thread::yield_now();
        }
        assert_eq!(
            clock.to_real(Duration::from_secs(10)),
            Duration::from_millis(10)
        );
        clock.set_speed(-3.0);
        assert!((clock.speed() - 1.0).abs() < f64::EPSILON);
    }
}
