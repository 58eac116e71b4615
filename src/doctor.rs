//! `zdimport doctor`: read-only probes that settle, on the operator's own account, what
//! `shared/zendesk/API.md` marks *unverified* or what differs between accounts.
//!
//! Nothing is written to the account: every probe is a `GET`. Each finding is a [`Check`] with
//! a verdict (✓ as zdimport expects, ✗ an import will not work as planned, ? not settled by a
//! read) and what zdimport does about it, so the operator knows before sending anything.

use serde::Serialize;
use serde_json::Value;

use crate::zendesk::{Client, Credentials, RateInfo, ZendeskError};

/// How a probe came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// As zdimport expects.
    Ok,
    /// An import will not work as planned until the operator acts.
    Fail,
    /// A read cannot settle it; zdimport copes with every possibility.
    Unknown,
}

impl Verdict {
    pub fn mark(self) -> &'static str {
        match self {
            Verdict::Ok => "✓",
            Verdict::Fail => "✗",
            Verdict::Unknown => "?",
        }
    }
}

/// One finding about the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub topic: &'static str,
    pub verdict: Verdict,
    /// What the account answered.
    pub found: String,
    /// What zdimport does about it.
    pub action: String,
}

impl Check {
    fn new(topic: &'static str, verdict: Verdict, found: String, action: &str) -> Self {
        Self {
            topic,
            verdict,
            found,
            action: action.to_owned(),
        }
    }
}

/// Every finding, in the order probed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub account: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// True when some finding stops an import from working as planned.
    pub fn has_failures(&self) -> bool {
        self.checks.iter().any(|c| c.verdict == Verdict::Fail)
    }

    pub fn get(&self, topic: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.topic == topic)
    }
}

/// Probes the account behind `client`, read-only.
pub async fn probe(client: &Client) -> Report {
    let mut checks = Vec::new();
    checks.push(credentials(client.credentials()).await);
    let me = client.get_json("/api/v2/users/me.json").await;
    checks.push(sign_in(&me));
    if let Ok(answer) = &me {
        checks.push(bulk_rights(&answer.value["user"]));
        checks.push(rate_limit("Rate limit (users/me)", &answer.rate));
        let email = answer.value["user"]["email"].as_str().unwrap_or_default();
        checks.push(search_key(client, email).await);
    }
    checks.extend(settings(client).await);
    checks.push(custom_fields(client).await);
    checks.extend(jobs(client).await);
    checks.extend(unsettled());
    Report {
        account: client.base_url().to_string(),
        checks,
    }
}

async fn credentials(credentials: &Credentials) -> Check {
    match credentials {
        Credentials::ApiToken { .. } => Check::new(
            "Credentials",
            Verdict::Unknown,
            "a legacy API token".into(),
            "works for now; Zendesk deactivates tokens unused for 30 days and retires all on \
             2027-04-30 — sign in with OAuth (`zdimport login`) for monthly imports",
        ),
        Credentials::Bearer(_) => Check::new(
            "Credentials",
            Verdict::Ok,
            "an OAuth access token (ZENDESK_OAUTH_TOKEN), not refreshed".into(),
            "a long import may outlive it (30 min by default): `zdimport login` keeps a \
             refresh token",
        ),
        Credentials::OAuth(tokens) => {
            // A renewal now proves the refresh works before an import needs it (it changes the
            // tokens, never the account).
            let renewed = match tokens.access().await {
                Ok((_, generation)) => tokens.renew_after_unauthorized(generation).await,
                Err(error) => Err(error),
            };
            match renewed {
                Ok(()) => Check::new(
                    "Credentials",
                    Verdict::Ok,
                    "OAuth; a token refresh just worked".into(),
                    "refreshes in the middle of an import without losing or repeating a batch",
                ),
                Err(error) => Check::new(
                    "Credentials",
                    Verdict::Fail,
                    format!("OAuth, but the token refresh failed: {error}"),
                    "an import longer than the access token's life would stop: sign in again \
                     with `zdimport login`",
                ),
            }
        }
    }
}

fn sign_in(me: &Result<crate::zendesk::Answer<Value>, ZendeskError>) -> Check {
    match me {
        Ok(answer) => {
            let user = &answer.value["user"];
            Check::new(
                "Sign-in",
                Verdict::Ok,
                format!(
                    "signed in as {} <{}>, role {}",
                    text(&user["name"]),
                    text(&user["email"]),
                    text(&user["role"])
                ),
                "",
            )
        }
        Err(error) => Check::new(
            "Sign-in",
            Verdict::Fail,
            error.to_string(),
            "nothing can be imported until sign-in works",
        ),
    }
}

/// Bulk endpoints: admins, or agents whose custom role may manage end users (API.md).
fn bulk_rights(user: &Value) -> Check {
    let role = text(&user["role"]);
    let (verdict, action) = match role.as_str() {
        "admin" => (Verdict::Ok, "may call the bulk user endpoints"),
        "agent" if user["custom_role_id"].is_u64() => (
            Verdict::Unknown,
            "an agent with a custom role: the bulk calls work only if the role may manage end \
             users; the first batch tells (403 stops the import with Zendesk's reason)",
        ),
        _ => (
            Verdict::Fail,
            "only admins (or agents whose role manages end users) may import users",
        ),
    };
    Check::new(
        "Bulk import rights",
        verdict,
        format!("role {role}"),
        action,
    )
}

fn rate_limit(topic: &'static str, rate: &RateInfo) -> Check {
    let found = match (rate.limit, rate.spelling) {
        (Some(limit), Some(spelling)) => {
            format!(
                "{limit} requests a minute (headers spelled `{}…`)",
                spelling.header()
            )
        }
        (Some(limit), None) => format!("{limit} requests a minute"),
        (None, _) => "no rate-limit header on the answer".to_owned(),
    };
    let verdict = if rate.limit.is_some() {
        Verdict::Ok
    } else {
        Verdict::Unknown
    };
    Check::new(
        topic,
        verdict,
        found,
        "all three spellings are read; sending slows down before the limit and waits out \
         any 429",
    )
}

/// `users/search` answers under `users` (OAS); the unified search says `results`.
async fn search_key(client: &Client, email: &str) -> Check {
    let path = format!(
        "/api/v2/users/search.json?query={}",
        url::form_urlencoded::byte_serialize(format!("email:{email}").as_bytes())
            .collect::<String>()
    );
    let topic = "users/search answer";
    match client.get_json(&path).await {
        Ok(answer) => {
            let key = ["users", "results"]
                .into_iter()
                .find(|k| answer.value[*k].is_array());
            match key {
                Some(key) => Check::new(
                    topic,
                    Verdict::Ok,
                    format!(
                        "answers under `{key}`; found yourself: {}",
                        yes_no(answer.value[key].as_array().is_some_and(|a| !a.is_empty()))
                    ),
                    "emails are looked up this way; a miss is no proof (search lags a few \
                     minutes behind new users), so a lost answer is settled by a resend that \
                     Zendesk refuses as already in use",
                ),
                None => Check::new(
                    topic,
                    Verdict::Fail,
                    "neither `users` nor `results` in the answer".into(),
                    "email lookups will fail: plan and lost-answer recovery need them",
                ),
            }
        }
        Err(error) => Check::new(
            topic,
            Verdict::Fail,
            error.to_string(),
            "email lookups will fail: plan and lost-answer recovery need them",
        ),
    }
}

/// The `user` section of the account settings, each setting that changes an import.
async fn settings(client: &Client) -> Vec<Check> {
    let answer = match client.get_json("/api/v2/account/settings.json").await {
        Ok(answer) => answer,
        Err(error) => {
            return vec![Check::new(
                "Account settings",
                Verdict::Unknown,
                error.to_string(),
                "tags, organizations and phones are sent as mapped; Zendesk decides",
            )];
        }
    };
    let user = &answer.value["settings"]["user"];
    let setting = |topic: &'static str, key: &str, on: &str, off: &str, off_fails: bool| match user
        [key]
        .as_bool()
    {
        Some(true) => Check::new(topic, Verdict::Ok, format!("`{key}` on"), on),
        Some(false) => {
            let verdict = if off_fails {
                Verdict::Fail
            } else {
                Verdict::Ok
            };
            Check::new(topic, verdict, format!("`{key}` off"), off)
        }
        None => Check::new(
            topic,
            Verdict::Unknown,
            format!("no `{key}` in the settings' user section"),
            "sent as mapped; Zendesk decides",
        ),
    };
    vec![
        setting(
            "User tagging",
            "tagging",
            "tags are stored; an update replaces the user's whole list",
            "Zendesk ignores tags on users: a tags column changes nothing",
            true,
        ),
        setting(
            "Several organizations per user",
            "multiple_organizations",
            "a user may belong to several organizations",
            "one organization per user",
            false,
        ),
        setting(
            "Phone number validation",
            "end_user_phone_number_validation",
            "phones not in E.164 are refused: zdimport normalises them and warns per row",
            "phones are stored as sent (E.164 still recommended)",
            false,
        ),
        setting(
            "Welcome emails",
            "agent_created_welcome_emails",
            "new users get a welcome email unless skip_verify_email is set",
            "no welcome email to users created here",
            false,
        ),
    ]
}

/// The custom user fields, every page, with the types zdimport converts.
async fn custom_fields(client: &Client) -> Check {
    match client.user_fields().await {
        Ok(answer) => {
            let fields = answer.value;
            let mut types: Vec<&str> = fields.iter().map(|f| f.field_type.as_str()).collect();
            types.sort_unstable();
            types.dedup();
            let inactive = fields.iter().filter(|f| !f.active).count();
            Check::new(
                "Custom user fields",
                Verdict::Ok,
                format!(
                    "{} fields ({} inactive), types: {}",
                    fields.len(),
                    inactive,
                    if types.is_empty() {
                        "none".to_owned()
                    } else {
                        types.join(", ")
                    }
                ),
                "every page read; dropdown labels sent as values, numbers as numbers, dates \
                 compared as dates; an unknown key stops the import before sending",
            )
        }
        Err(error) => Check::new(
            "Custom user fields",
            Verdict::Fail,
            error.to_string(),
            "custom fields cannot be checked or converted",
        ),
    }
}

/// The job list: slots in use now, and the shape of recent results (index or not).
async fn jobs(client: &Client) -> Vec<Check> {
    let answer = match client.get_json("/api/v2/job_statuses.json").await {
        Ok(answer) => answer,
        Err(error) => {
            return vec![Check::new(
                "Job list",
                Verdict::Unknown,
                error.to_string(),
                "jobs are followed one by one as they are created",
            )];
        }
    };
    let list = answer.value["job_statuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let active = list
        .iter()
        .filter(|j| matches!(j["status"].as_str(), Some("queued" | "working")))
        .count();
    let results: Vec<&Value> = list
        .iter()
        .filter_map(|j| j["results"].as_array())
        .flatten()
        .collect();
    let indexed = results.iter().filter(|r| r.get("index").is_some()).count();
    let shape = if results.is_empty() {
        Check::new(
            "Job result shape",
            Verdict::Unknown,
            "no finished job with results in the list".into(),
            "results are matched by index when present, else by position, cross-checked by \
             id, email and external_id; one that cannot be matched safely stays unknown",
        )
    } else {
        Check::new(
            "Job result shape",
            Verdict::Ok,
            format!(
                "{} of {} recent results carry an `index`",
                indexed,
                results.len()
            ),
            "matched by index when present, else by position, cross-checked by id, email and \
             external_id",
        )
    };
    vec![
        Check::new(
            "Job slots",
            if active >= crate::import::MAX_JOBS {
                Verdict::Fail
            } else {
                Verdict::Ok
            },
            format!(
                "{active} of {} jobs queued or working now ({} listed)",
                crate::import::MAX_JOBS,
                list.len()
            ),
            "an import keeps at most 30 jobs in flight and waits when Zendesk says the queue is \
             full",
        ),
        rate_limit("Rate limit (job answers)", &answer.rate),
        shape,
    ]
}

/// What a read cannot settle, said once so the operator knows zdimport's stance.
fn unsettled() -> Vec<Check> {
    vec![
        Check::new(
            "Organizations named in a bulk body",
            Verdict::Unknown,
            "undocumented: created, ignored or refused".into(),
            "the plan looks organizations up and lists those not in the account; it never \
             promises Zendesk creates them",
        ),
        Check::new(
            "Job limit per endpoint",
            Verdict::Unknown,
            "30 jobs at once; per endpoint or per account is unconfirmed".into(),
            "counts every job against one limit of 30",
        ),
    ]
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or("?").to_owned()
}

fn yes_no(yes: bool) -> &'static str {
    if yes { "yes" } else { "no" }
}
