//! Whether a user Zendesk answered "Updated" to a resent upsert was created by the request
//! whose answer was lost: its `created_at` against Zendesk's time before the batch first left.
//!
//! An upsert is safe to send again, but its answer then says "Updated" for a user the lost
//! request created. The account-aware plan knows which users were new (`UserKey::expect_new`);
//! a run without it, a resume after a kill and a retry read the users instead: one
//! `users/show_many` per hundred, only for rows a resend answered "Updated". Zendesk's
//! `created_at` and its answers' `Date` are whole seconds of one clock, and a user that
//! request created was created no earlier than the `Date` of an answer seen before it left.

use std::collections::HashMap;
use std::time::Duration;

use super::super::pacer::backoff;
use super::super::{Outcome, RowOutcome};
use crate::zendesk::{Client, RateInfo, User, ZendeskError};

/// When Zendesk created each user read (Unix seconds), by id.
#[derive(Debug, Default)]
pub(super) struct Dates {
    pub(super) created: HashMap<u64, i64>,
    pub(super) rate: RateInfo,
}

/// Reads the users `ids` (100 a request), trying each request up to `tries` times while
/// Zendesk is busy or unreachable.
pub(super) async fn dates(
    client: &Client,
    ids: &[u64],
    tries: u32,
    (base, max): (Duration, Duration),
) -> Result<Dates, ZendeskError> {
    let mut dates = Dates::default();
    for chunk in ids.chunks(crate::zendesk::MAX_USERS_PER_CALL) {
        let mut attempt = 0;
        let answer = loop {
            attempt += 1;
            match client.show_many_by_ids(chunk).await {
                Ok(answer) => break answer,
                Err(error) if error.is_transient() && attempt < tries => {
                    let wait = error
                        .retry_after()
                        .unwrap_or_else(|| backoff(base, max, attempt));
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(error),
            }
        };
        dates.rate = answer.rate;
        for user in &answer.value {
            if let Some(at) = created_at(user) {
                dates.created.insert(user.id, at);
            }
        }
    }
    Ok(dates)
}

/// A user's `created_at` (Unix seconds), when it has a readable one.
pub(super) fn created_at(user: &User) -> Option<i64> {
    let text = user.extra.get("created_at")?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// How far apart the clocks of two of Zendesk's hosts may be (the one that dated an answer,
/// the one that created a user): a `created_at` this much before `since` still counts.
const HOST_SKEW_SECS: i64 = 2;

/// Rows answered "Updated" whose user Zendesk created at `since` or later (within
/// [`HOST_SKEW_SECS`]): created by this run (its first request for them went unanswered),
/// reported `created`.
pub(super) fn apply(outcomes: &mut [RowOutcome], dates: &Dates, since: i64) {
    for o in outcomes
        .iter_mut()
        .filter(|o| o.outcome == Outcome::Updated)
    {
        let Some(&at) = o.user_id.and_then(|id| dates.created.get(&id)) else {
            continue;
        };
        if at >= since - HOST_SKEW_SECS {
            o.outcome = Outcome::Created;
            o.details = Some(format!(
                "created by this run: an earlier request's answer was lost, and Zendesk \
                 created the user at {}, after that request left ({}); the resend was \
                 answered \"Updated\"",
                stamp(at),
                stamp(since)
            ));
        }
    }
}

/// A user created at `at`, before `since` (a batch's first send; beyond [`HOST_SKEW_SECS`]):
/// there before this run, said as the two times. `None` when either is unknown or it is not.
pub(super) fn before(at: Option<i64>, since: Option<i64>) -> Option<String> {
    let (at, since) = (at?, since?);
    (at < since - HOST_SKEW_SECS).then(|| {
        format!(
            "created {}, before this run first sent it ({})",
            stamp(at),
            stamp(since)
        )
    })
}

/// The users could not be read: the rows stay `updated`, saying they may have been created.
pub(super) fn unchecked(outcomes: &mut [RowOutcome], error: &ZendeskError) {
    for o in outcomes
        .iter_mut()
        .filter(|o| o.outcome == Outcome::Updated && o.details.is_none())
    {
        o.details = Some(format!(
            "answered \"Updated\" to a resend after a lost answer: the lost request may have \
             created the user, but it could not be read to tell ({error})"
        ));
    }
}

fn stamp(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::UserKey;

    fn updated(id: u64) -> RowOutcome {
        let mut o = RowOutcome::new(2, Outcome::Updated, &UserKey::default());
        o.user_id = Some(id);
        o
    }

    #[test]
    fn a_user_created_since_the_first_send_is_created_one_from_before_stays_updated() {
        // 999: a second before, within the hosts' skew; 997: three seconds before.
        let mut outcomes = vec![updated(1), updated(2), updated(3)];
        let dates = Dates {
            created: HashMap::from([(1, 1_000), (2, 997), (3, 999)]),
            rate: RateInfo::default(),
        };
        apply(&mut outcomes, &dates, 1_000);
        let words: Vec<Outcome> = outcomes.iter().map(|o| o.outcome).collect();
        assert_eq!(
            words,
            [Outcome::Created, Outcome::Updated, Outcome::Created]
        );
        let details = outcomes[0].details.as_deref().unwrap();
        assert!(details.contains("1970-01-01T00:16:40Z"), "{details}");
        assert!(outcomes[1].details.is_none());
    }
}
