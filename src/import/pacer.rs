//! When the next request may leave: after a 429's `Retry-After` (for every sender), and spaced
//! out once `X-Rate-Limit-Remaining` runs low, so the limit is rarely hit at all.

use std::time::{Duration, Instant};

use rand::Rng as _;

use crate::zendesk::RateInfo;

#[derive(Debug)]
pub(crate) struct Pacer {
    /// No request before this (429 `Retry-After`).
    blocked_until: Option<Instant>,
    /// The earliest time of the next request (spacing near the limit).
    next_at: Instant,
    spacing: Duration,
    window: Duration,
    reserve: f64,
}

impl Pacer {
    pub fn new(window: Duration, reserve: f64) -> Self {
        Self {
            blocked_until: None,
            next_at: Instant::now(),
            spacing: Duration::ZERO,
            window,
            reserve,
        }
    }

    /// When the next request may leave.
    pub fn ready_at(&self) -> Instant {
        self.blocked_until
            .map_or(self.next_at, |b| b.max(self.next_at))
    }

    pub fn is_ready(&self, now: Instant) -> bool {
        self.ready_at() <= now
    }

    /// A request leaves now.
    pub fn sent(&mut self, now: Instant) {
        self.next_at = now + self.spacing;
    }

    /// `n` requests leave one after the other from now (a task that makes several).
    pub fn sent_requests(&mut self, now: Instant, n: u32) {
        self.next_at = now + self.spacing * n;
    }

    /// Reads an answer's rate headers: below the reserve, requests are spread evenly over what
    /// is left of the window; above it, they go as fast as the jobs allow.
    pub fn observe(&mut self, rate: &RateInfo) -> bool {
        let (Some(limit), Some(remaining)) = (rate.limit, rate.remaining) else {
            return false;
        };
        let reserve = (f64::from(limit) * self.reserve).ceil() as u32;
        self.spacing = if remaining > reserve || limit == 0 {
            Duration::ZERO
        } else {
            // `ratelimit-reset` says when the window ends: spread what is left over it.
            match rate.reset_after.filter(|r| !r.is_zero()) {
                Some(reset) => (reset / remaining.max(1)).min(self.window / limit.max(1) * 4),
                None => self.window / limit,
            }
        };
        !self.spacing.is_zero()
    }

    /// A 429: nobody sends before `until`.
    pub fn block(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// Reads a refused request's rate headers; for a 429, nobody sends before its `Retry-After`
    /// (a short back-off when there is none): the time the wait ends, `None` for another error.
    pub fn refused(
        &mut self,
        error: &crate::zendesk::ZendeskError,
        options: &super::EngineOptions,
    ) -> Option<Instant> {
        if let Some(rate) = error.rate() {
            self.observe(&rate);
        }
        if !matches!(error, crate::zendesk::ZendeskError::RateLimited { .. }) {
            return None;
        }
        let wait = rate_limit_wait(error.retry_after(), options.backoff, options.max_backoff);
        let until = Instant::now() + wait;
        self.block(until);
        Some(until)
    }
}

/// Exponential back-off with jitter: `base × 2^(attempt-1)`, capped, times 0.5 to 1.5.
pub(crate) fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(max);
    capped.mul_f64(rand::rng().random_range(0.5..1.5))
}

/// How long every sender waits after a 429: Zendesk's `Retry-After`, else a short back-off.
pub(crate) fn rate_limit_wait(
    retry_after: Option<Duration>,
    base: Duration,
    max: Duration,
) -> Duration {
    retry_after
        .filter(|d| !d.is_zero())
        .unwrap_or_else(|| backoff(base, max, 1))
}

/// After a lookup failed (try `tries`): when to look again and the tries that counts as, or
/// `None` to give up. A 429 (already waited out by the caller) costs no try; a transient
/// failure backs off until the tries run out.
pub(crate) fn lookup_again(
    error: &crate::zendesk::ZendeskError,
    rate_limited: bool,
    tries: u32,
    options: &super::EngineOptions,
) -> Option<(Instant, u32)> {
    let now = Instant::now();
    if rate_limited {
        return Some((now, tries - 1));
    }
    (error.is_transient() && tries < options.max_attempts).then(|| {
        (
            now + backoff(options.backoff, options.max_backoff, tries),
            tries,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_requests_once_few_are_left() {
        let mut pacer = Pacer::new(Duration::from_secs(60), 0.1);
        let plenty = RateInfo {
            limit: Some(700),
            remaining: Some(500),
            ..RateInfo::default()
        };
        assert!(!pacer.observe(&plenty));
        let low = RateInfo {
            remaining: Some(20),
            ..plenty
        };
        assert!(pacer.observe(&low));
        let now = Instant::now();
        pacer.sent(now);
        assert_eq!(pacer.ready_at(), now + Duration::from_secs(60) / 700);
        let reset = RateInfo {
            reset_after: Some(Duration::from_secs(5)),
            ..low
        };
        pacer.observe(&reset);
        pacer.sent(now);
        assert_eq!(pacer.ready_at(), now + Duration::from_millis(250));
        pacer.block(now + Duration::from_secs(5));
        assert!(!pacer.is_ready(now + Duration::from_secs(4)));
    }

    #[test]
    fn a_failed_lookup_is_tried_again_while_it_can_succeed() {
        use crate::zendesk::ZendeskError;
        let request = || crate::zendesk::RequestLabel {
            method: "GET".into(),
            path: "/api/v2/users/show_many".into(),
        };
        let timeout = ZendeskError::Timeout {
            request: request(),
            after: Duration::from_secs(30),
        };
        let refused = ZendeskError::Decode {
            request: request(),
            status: 200,
            reason: "not JSON".into(),
        };
        let options = super::super::EngineOptions::default();
        let last = options.max_attempts;
        // A 429 the caller waited out costs no try.
        assert_eq!(
            lookup_again(&timeout, true, 3, &options).map(|a| a.1),
            Some(2)
        );
        let (at, tries) = lookup_again(&timeout, false, 2, &options).expect("transient");
        assert_eq!(tries, 2);
        assert!(at > Instant::now(), "after a back-off");
        assert_eq!(
            lookup_again(&timeout, false, last, &options),
            None,
            "tries spent"
        );
        assert_eq!(
            lookup_again(&refused, false, 1, &options),
            None,
            "not transient"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        assert!(backoff(base, max, 1) <= Duration::from_millis(150));
        assert!(backoff(base, max, 4) >= Duration::from_millis(400));
        assert!(backoff(base, max, 30) <= Duration::from_secs(3));
    }
}
