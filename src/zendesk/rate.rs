//! The rate-limit headers Zendesk puts on every answer.
//!
//! <https://developer.zendesk.com/api-reference/introduction/rate-limits/>: every answer carries
//! `X-Rate-Limit` and `X-Rate-Limit-Remaining`; the docs name `ratelimit-limit`,
//! `ratelimit-remaining` and `ratelimit-reset` (seconds), while recorded bulk and job answers
//! spell them `rate-limit`, `rate-limit-remaining` and `rate-limit-reset` (`shared/zendesk/
//! API.md`, Limits): all three spellings are read. A 429 carries `Retry-After`, in seconds or, as
//! any HTTP server may send it, an HTTP date.
//!
//! A server may send any number: every duration read here is clamped to [`MAX_SERVER_WAIT`], so
//! a `Retry-After: 1e30` is an hour's wait (and said so), never a panic or a wait past the run.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// The longest wait a server's header can impose: longer ones are taken as this, and the
/// operator sees the wait with its end time (Ctrl-C stops it).
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(60 * 60);

/// What an answer said about the account's request budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateInfo {
    /// Requests allowed per minute (`X-Rate-Limit`).
    pub limit: Option<u32>,
    /// Requests left in this minute (`X-Rate-Limit-Remaining`).
    pub remaining: Option<u32>,
    /// How long to wait before any request (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// When the window resets, from now (`ratelimit-reset`).
    pub reset_after: Option<Duration>,
    /// Which spelling of the per-minute headers gave the limit: `zdimport doctor` reports it.
    pub spelling: Option<Spelling>,
}

/// The spellings of the rate-limit headers (API.md, Limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// `X-Rate-Limit`, `X-Rate-Limit-Remaining`: on every answer.
    XRateLimit,
    /// `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset`: the docs.
    RateLimit,
    /// `rate-limit`, `rate-limit-remaining`, `rate-limit-reset`: recorded bulk and job answers.
    RateDashLimit,
}

impl Spelling {
    /// The limit header's name as spelled.
    pub fn header(self) -> &'static str {
        match self {
            Spelling::XRateLimit => "X-Rate-Limit",
            Spelling::RateLimit => "ratelimit-limit",
            Spelling::RateDashLimit => "rate-limit",
        }
    }
}

impl RateInfo {
    /// Reads the headers; a missing or malformed header is `None`, never an error.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self::from_headers_at(headers, SystemTime::now())
    }

    /// As `from_headers`, with the clock that turns a `Retry-After` date into a wait.
    pub fn from_headers_at(headers: &HeaderMap, now: SystemTime) -> Self {
        let number = |names: &[&str]| {
            names.iter().find_map(|name| {
                header_str(headers, name).and_then(|v| v.trim().parse::<u32>().ok())
            })
        };
        let spelling = [
            (Spelling::RateLimit, "ratelimit-limit"),
            (Spelling::RateDashLimit, "rate-limit"),
            (Spelling::XRateLimit, "x-rate-limit"),
        ]
        .into_iter()
        .find_map(|(spelling, name)| number(&[name]).map(|_| spelling));
        Self {
            spelling,
            limit: number(&["x-rate-limit", "ratelimit-limit", "rate-limit"]),
            remaining: number(&[
                "x-rate-limit-remaining",
                "ratelimit-remaining",
                "rate-limit-remaining",
            ]),
            retry_after: header_str(headers, "retry-after").and_then(|v| parse_retry_after(v, now)),
            reset_after: number(&["ratelimit-reset", "rate-limit-reset"])
                .map(|secs| clamp_wait(Duration::from_secs(secs.into()))),
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Retry-After: 30` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` (RFC 9110 §10.2.3).
///
/// A date in the past means "now": zero, not an error. Any wait is clamped to
/// [`MAX_SERVER_WAIT`]; a negative or non-numeric value is absent.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(clamp_wait(Duration::from_secs(secs)));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if !(secs.is_finite() && secs >= 0.0) {
            return None;
        }
        let max = MAX_SERVER_WAIT.as_secs_f64();
        return Some(Duration::from_secs_f64(secs.min(max)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(clamp_wait(
        when.duration_since(now).unwrap_or(Duration::ZERO),
    ))
}

/// A server's wait, at most [`MAX_SERVER_WAIT`].
pub fn clamp_wait(wait: Duration) -> Duration {
    wait.min(MAX_SERVER_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn reads_zendesk_headers() {
        let rate = RateInfo::from_headers(&headers(&[
            ("X-Rate-Limit", "700"),
            ("X-Rate-Limit-Remaining", "699"),
            ("ratelimit-reset", "41"),
            ("Retry-After", "7"),
        ]));
        assert_eq!(rate.limit, Some(700));
        assert_eq!(rate.remaining, Some(699));
        assert_eq!(rate.reset_after, Some(Duration::from_secs(41)));
        assert_eq!(rate.retry_after, Some(Duration::from_secs(7)));
    }

    #[test]
    fn reads_the_recorded_and_the_documented_spellings() {
        let recorded = RateInfo::from_headers(&headers(&[
            ("rate-limit", "400"),
            ("rate-limit-remaining", "12"),
            ("rate-limit-reset", "9"),
        ]));
        assert_eq!(recorded.limit, Some(400));
        assert_eq!(recorded.remaining, Some(12));
        assert_eq!(recorded.reset_after, Some(Duration::from_secs(9)));
        assert_eq!(recorded.spelling, Some(Spelling::RateDashLimit));
        let documented = RateInfo::from_headers(&headers(&[
            ("ratelimit-limit", "700"),
            ("ratelimit-remaining", "3"),
            ("ratelimit-reset", "20"),
        ]));
        assert_eq!(
            (
                documented.limit,
                documented.remaining,
                documented.reset_after
            ),
            (Some(700), Some(3), Some(Duration::from_secs(20)))
        );
    }

    #[test]
    fn absurd_waits_are_clamped_not_panics() {
        let now = SystemTime::now();
        for absurd in [
            "1e30",
            "18446744073709551615",
            "99999999999999999999999",
            "1e308",
        ] {
            assert_eq!(
                parse_retry_after(absurd, now),
                Some(MAX_SERVER_WAIT),
                "{absurd}"
            );
        }
        for refused in ["-5", "NaN", "inf", "-1e30", "soon"] {
            assert_eq!(parse_retry_after(refused, now), None, "{refused}");
        }
        let far = RateInfo::from_headers(&headers(&[("rate-limit-reset", "4294967295")]));
        assert_eq!(far.reset_after, Some(MAX_SERVER_WAIT));
    }

    #[test]
    fn retry_after_as_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let rate = RateInfo::from_headers_at(
            &headers(&[("Retry-After", "Wed, 21 Oct 2015 07:28:30 GMT")]),
            now,
        );
        assert_eq!(rate.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn malformed_headers_are_absent() {
        let rate = RateInfo::from_headers(&headers(&[
            ("X-Rate-Limit", "lots"),
            ("Retry-After", "soon"),
        ]));
        assert_eq!(rate, RateInfo::default());
    }
}
