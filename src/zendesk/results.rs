//! Ties each job result to the user it answers, whatever shape the results came in.
//!
//! `shared/zendesk/API.md`, job_status: live accounts answer without `index`, in the order sent;
//! the reference adds `index`; some answers name the `email`, `external_id` or (update) `id`.
//! A result is placed by `index` when present, else by an identifier it names, else by its
//! position, and every placement is cross-checked against the identifiers of the user sent
//! there: a result that contradicts them, or that cannot be placed safely, is left out, so its
//! user stays unconfirmed (`unknown`, looked up later) rather than given another user's id.

use std::collections::HashMap;

use serde_json::Value;

use super::types::JobResult;

/// Which rule tied a result to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchRule {
    Index,
    /// The user id sent (update mode) named by the result.
    Id,
    Email,
    ExternalId,
    /// Zendesk answers in the order sent (recorded; no `index`): used only when there are as
    /// many results as users and nothing the result names contradicts it.
    Position,
}

/// A result and the position, in the `users` array sent, of the user it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched<'a> {
    pub position: usize,
    pub result: &'a JobResult,
    pub rule: MatchRule,
}

/// Matches `results` to the `sent` users (each an object with the `id`, `email` and
/// `external_id` sent, when they were). Each position is matched at most once; a result that
/// cannot be placed without contradiction is left out, and so are successful results that give
/// the same user id to two rows (one of them would be wrong, and nothing says which).
pub fn match_results<'a>(sent: &[Value], results: &'a [JobResult]) -> Vec<Matched<'a>> {
    let mut at = Placement {
        placed: vec![None; results.len()],
        claimed: vec![false; sent.len()],
    };
    for (r, result) in results.iter().enumerate() {
        if let Some(i) = result
            .index
            .filter(|&i| i < sent.len() && agrees(&sent[i], result))
        {
            at.claim(r, i, MatchRule::Index);
        }
    }
    for (r, result) in results.iter().enumerate() {
        if at.placed[r].is_none() {
            if let Some((i, rule)) = by_identifier(sent, &at.claimed, result) {
                at.claim(r, i, rule);
            }
        }
    }
    // Position is trusted only when Zendesk answered every user, and every result it
    // numbered (recorded failures carry an index, successes none) sits at its own index.
    let in_order = results.len() == sent.len()
        && results
            .iter()
            .enumerate()
            .all(|(order, r)| r.index.is_none_or(|i| i == order));
    if in_order {
        for (r, result) in results.iter().enumerate() {
            if at.placed[r].is_none() && agrees(&sent[r], result) {
                at.claim(r, r, MatchRule::Position);
            }
        }
    }
    let shared_ids = ids_given_twice(results, &at.placed);
    results
        .iter()
        .zip(at.placed)
        .filter_map(|(result, placed)| {
            let (position, rule) = placed?;
            let twice =
                !result.is_failure() && result.id.is_some_and(|id| shared_ids.contains_key(&id));
            (!twice).then_some(Matched {
                position,
                result,
                rule,
            })
        })
        .collect()
}

/// Which result went where, and which users sent already have their result.
struct Placement {
    placed: Vec<Option<(usize, MatchRule)>>,
    claimed: Vec<bool>,
}

impl Placement {
    /// Places result `r` at position `i` unless that user already has a result.
    fn claim(&mut self, r: usize, i: usize, rule: MatchRule) {
        if !self.claimed[i] {
            self.claimed[i] = true;
            self.placed[r] = Some((i, rule));
        }
    }
}

/// The first identifier the result names that points at exactly one free user sent.
fn by_identifier(
    sent: &[Value],
    claimed: &[bool],
    result: &JobResult,
) -> Option<(usize, MatchRule)> {
    let find = |matches: &dyn Fn(&Value) -> bool| -> Option<usize> {
        let mut hits = (0..sent.len()).filter(|&i| !claimed[i] && matches(&sent[i]));
        let first = hits.next()?;
        hits.next().is_none().then_some(first)
    };
    if let Some(id) = result.id {
        let named = |u: &Value| u.get("id").and_then(Value::as_u64) == Some(id);
        if let Some(i) = find(&named).filter(|&i| agrees(&sent[i], result)) {
            return Some((i, MatchRule::Id));
        }
    }
    let text = |key: &'static str, wanted: Option<&str>| {
        let wanted = wanted?;
        let named =
            move |u: &Value| text_of(u, key).is_some_and(|v| v.eq_ignore_ascii_case(wanted));
        find(&named).filter(|&i| agrees(&sent[i], result))
    };
    if let Some(i) = text("email", result.email.as_deref()) {
        return Some((i, MatchRule::Email));
    }
    text("external_id", result.external_id.as_deref()).map(|i| (i, MatchRule::ExternalId))
}

/// Nothing the result names differs from what was sent to that position. Zendesk compares
/// emails and external_ids in any case.
fn agrees(sent: &Value, result: &JobResult) -> bool {
    let same_text = |key: &str, got: Option<&str>| match (text_of(sent, key), got) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => true,
    };
    let same_id = match (sent.get("id").and_then(Value::as_u64), result.id) {
        (Some(a), Some(b)) => a == b || result.is_failure(),
        _ => true,
    };
    same_id
        && same_text("email", result.email.as_deref())
        && same_text("external_id", result.external_id.as_deref())
}

fn text_of<'v>(user: &'v Value, key: &str) -> Option<&'v str> {
    user.get(key).and_then(Value::as_str)
}

/// User ids that two placed, successful results both claim.
fn ids_given_twice(
    results: &[JobResult],
    placed: &[Option<(usize, MatchRule)>],
) -> HashMap<u64, usize> {
    let mut count: HashMap<u64, usize> = HashMap::new();
    for (result, at) in results.iter().zip(placed) {
        if let (Some(_), Some(id), false) = (at, result.id, result.is_failure()) {
            *count.entry(id).or_default() += 1;
        }
    }
    count.retain(|_, n| *n > 1);
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn results(list: Value) -> Vec<JobResult> {
        serde_json::from_value(list).unwrap()
    }

    fn summary(sent: &[Value], got: &[JobResult]) -> Vec<(usize, MatchRule)> {
        match_results(sent, got)
            .iter()
            .map(|m| (m.position, m.rule))
            .collect()
    }

    #[test]
    fn index_then_email_then_position() {
        let sent = vec![
            json!({"email": "a@x.com"}),
            json!({"email": "b@x.com"}),
            json!({"external_id": "E3"}),
            json!({"name": "d"}),
        ];
        let got = results(json!([
            {"index": 3, "id": 4},
            {"id": 2, "email": "B@x.com"},
            {"id": 3, "external_id": "e3"},
            {"id": 9},
        ]));
        assert_eq!(
            summary(&sent, &got),
            [
                (3, MatchRule::Index),
                (1, MatchRule::Email),
                (2, MatchRule::ExternalId)
            ],
            "the 1st result's index is not its place, so position is not trusted for the 4th"
        );
    }

    #[test]
    fn indexed_failures_among_unindexed_successes_keep_the_order() {
        let sent = vec![
            json!({"name": "a"}),
            json!({"name": "b"}),
            json!({"name": "c"}),
        ];
        let got = results(json!([
            {"id": 1, "status": "Created"},
            {"index": 1, "error": "DuplicateValue", "id": null, "details": "taken"},
            {"id": 3, "status": "Created"},
        ]));
        assert_eq!(
            summary(&sent, &got),
            [
                (0, MatchRule::Position),
                (1, MatchRule::Index),
                (2, MatchRule::Position)
            ]
        );
        let shifted = results(json!([
            {"index": 2, "error": "DuplicateValue", "details": "taken"},
            {"id": 1, "status": "Created"},
            {"id": 3, "status": "Created"},
        ]));
        assert_eq!(
            summary(&sent, &shifted),
            [(2, MatchRule::Index)],
            "an index away from its place: the order cannot be trusted"
        );
    }

    #[test]
    fn reversed_results_without_index_are_placed_by_what_they_name() {
        let sent = vec![
            json!({"email": "a@x.com"}),
            json!({"email": "b@x.com"}),
            json!({"email": "c@x.com"}),
        ];
        let got = results(json!([
            {"id": 3, "status": "Updated", "email": "c@x.com"},
            {"id": 2, "status": "Updated", "email": "b@x.com"},
            {"id": 1, "status": "Updated", "email": "a@x.com"},
        ]));
        let matched = match_results(&sent, &got);
        let ids: Vec<(usize, Option<u64>)> =
            matched.iter().map(|m| (m.position, m.result.id)).collect();
        assert_eq!(ids, [(2, Some(3)), (1, Some(2)), (0, Some(1))]);
        assert!(matched.iter().all(|m| m.rule == MatchRule::Email));
    }

    #[test]
    fn update_results_are_placed_by_the_id_sent() {
        let sent = vec![json!({"id": 10}), json!({"id": 20})];
        let got = results(json!([
            {"id": 20, "action": "update", "status": "Updated", "success": true},
            {"id": 10, "action": "update", "status": "Updated", "success": true},
        ]));
        assert_eq!(
            summary(&sent, &got),
            [(1, MatchRule::Id), (0, MatchRule::Id)]
        );
    }

    #[test]
    fn position_is_not_trusted_when_results_are_missing_or_contradict() {
        let sent = vec![
            json!({"email": "a@x.com"}),
            json!({"email": "b@x.com"}),
            json!({"name": "c"}),
        ];
        // One result short: which one is missing cannot be told.
        let short =
            results(json!([{"id": 1, "status": "Created"}, {"id": 2, "status": "Created"}]));
        assert!(summary(&sent, &short).is_empty());
        // The second names an email that is not the one sent second.
        let wrong = results(json!([
            {"id": 1, "status": "Created"},
            {"id": 2, "status": "Created", "email": "zz@x.com"},
            {"id": 3, "status": "Created"},
        ]));
        assert_eq!(
            summary(&sent, &wrong),
            [(0, MatchRule::Position), (2, MatchRule::Position)]
        );
    }

    #[test]
    fn an_index_that_contradicts_the_email_is_not_trusted() {
        let sent = vec![json!({"email": "a@x.com"}), json!({"email": "b@x.com"})];
        let got = results(json!([
            {"index": 0, "id": 2, "email": "b@x.com"},
            {"index": 1, "id": 1, "email": "a@x.com"},
        ]));
        assert_eq!(
            summary(&sent, &got),
            [(1, MatchRule::Email), (0, MatchRule::Email)]
        );
    }

    #[test]
    fn one_user_id_on_two_rows_confirms_neither() {
        let sent = vec![
            json!({"name": "a"}),
            json!({"name": "b"}),
            json!({"name": "c"}),
        ];
        let got = results(json!([
            {"id": 7, "status": "Created"},
            {"id": 7, "status": "Created"},
            {"id": 8, "status": "Created"},
        ]));
        assert_eq!(summary(&sent, &got), [(2, MatchRule::Position)]);
    }

    #[test]
    fn no_index_falls_back_to_order() {
        let sent = vec![json!({"name": "a"}), json!({"name": "b"})];
        let got = results(json!([{"status": "Created", "id": 1}, {"status": "Created", "id": 2}]));
        let matched = match_results(&sent, &got);
        assert_eq!(matched[1].position, 1);
        assert!(matched.iter().all(|m| m.rule == MatchRule::Position));
    }

    #[test]
    fn an_index_out_of_range_is_not_trusted() {
        let sent = vec![json!({"email": "a@x.com"})];
        let got = results(json!([{"index": 7, "id": 1}]));
        assert!(match_results(&sent, &got).is_empty());
    }
}
