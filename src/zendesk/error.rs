//! What can go wrong talking to Zendesk, each saying which request failed.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::rate::RateInfo;
use super::types::ErrorBody;

/// The request an error belongs to: method and path, never a header or a body (they carry
/// credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLabel {
    pub method: String,
    pub path: String,
}

impl fmt::Display for RequestLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Zendesk's own reason for a refusal, as it sent it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiReason {
    /// The code: `TooManyValues`, `RecordNotFound`, `Forbidden`, `invalid_grant`…
    pub error: Option<String>,
    /// `description`, or `message` (some 403s), or `error_description` (OAuth).
    pub description: Option<String>,
    /// Per-field problems on 422s.
    pub details: Option<Value>,
}

impl ApiReason {
    /// Reads a JSON error body; an HTML or empty body gives a reason with nothing in it.
    pub fn from_body(body: &[u8]) -> Self {
        let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) else {
            return Self::default();
        };
        let (error, nested) = match parsed.error {
            Some(Value::String(code)) => (Some(code), None),
            // Newer answers nest it: {"error": {"title": "Forbidden", "message": "..."}}
            Some(Value::Object(map)) => (
                map.get("title").and_then(Value::as_str).map(str::to_owned),
                map.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ),
            _ => (None, None),
        };
        Self {
            error,
            description: parsed
                .description
                .or(parsed.message)
                .or(parsed.error_description)
                .or(nested),
            details: parsed.details.filter(|d| !d.is_null()),
        }
    }
}

impl fmt::Display for ApiReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error, &self.description) {
            (Some(e), Some(d)) => write!(f, "{e}: {d}")?,
            (Some(e), None) => write!(f, "{e}")?,
            (None, Some(d)) => write!(f, "{d}")?,
            (None, None) => write!(f, "no error body")?,
        }
        if let Some(details) = &self.details {
            write!(f, " ({details})")?;
        }
        Ok(())
    }
}

/// A failed call to Zendesk.
#[derive(Debug, thiserror::Error)]
pub enum ZendeskError {
    #[error("{request}: HTTP {status}: {reason}")]
    Api {
        request: RequestLabel,
        status: u16,
        reason: Box<ApiReason>,
        rate: RateInfo,
    },
    /// `rate.retry_after` holds the answer's `Retry-After`.
    #[error("{request}: HTTP 429 rate limited{}", retry_text(.rate.retry_after))]
    RateLimited {
        request: RequestLabel,
        reason: Box<ApiReason>,
        rate: RateInfo,
    },
    #[error("{request}: no answer within {}s", .after.as_secs_f64())]
    Timeout {
        request: RequestLabel,
        after: Duration,
    },
    #[error("{request}: connection failed: {reason}")]
    Connection {
        request: RequestLabel,
        reason: String,
    },
    #[error("{request}: HTTP {status}: unexpected answer: {reason}")]
    Decode {
        request: RequestLabel,
        status: u16,
        reason: String,
    },
    #[error("{url}: refusing plain http to a host that is not loopback; use https")]
    InsecureUrl { url: String },
    #[error("'{url}' is not a usable Zendesk URL: {reason}")]
    BadUrl { url: String, reason: String },
    /// `https://user:pass@host`: the password would be stored in the run folder and sent
    /// beside zdimport's own Authorization header. `url` is shown without it.
    #[error(
        "'{url}' holds a user name or password: give the account URL alone (e.g. \
         https://acme.zendesk.com) and sign in with ZENDESK_EMAIL/ZENDESK_API_TOKEN, \
         ZENDESK_OAUTH_TOKEN or `zdimport login`"
    )]
    CredentialsInUrl { url: String },
    #[error("signing in: {0}")]
    Auth(String),
}

fn retry_text(after: Option<Duration>) -> String {
    after.map_or_else(String::new, |d| {
        format!(", retry after {}s", d.as_secs_f64())
    })
}

impl ZendeskError {
    /// The HTTP status when Zendesk answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Worth sending again after a pause: 429, 5xx, timeouts and dropped connections.
    ///
    /// A bulk call that timed out or lost its connection may have been accepted: the caller
    /// decides whether resending is safe, this only says the failure was not a refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Timeout { .. } | Self::Connection { .. } => true,
            Self::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// A 404: for a job status read just after the job was created, poll again.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// How long Zendesk asked to wait before any request (429 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { rate, .. } | Self::Api { rate, .. } => rate.retry_after,
            _ => None,
        }
    }

    /// The rate headers of the failed answer, when there was one.
    pub fn rate(&self) -> Option<RateInfo> {
        match self {
            Self::Api { rate, .. } | Self::RateLimited { rate, .. } => Some(*rate),
            _ => None,
        }
    }
}
