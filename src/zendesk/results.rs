//! Ties each job result to the user it answers, whatever shape the results came in.
//!
//! `shared/zendesk/API.md`: map a result to its row by `index` when present, else by
//! `email`/`external_id`, else by position, and say which rule was used when it was not `index`.

use serde_json::Value;

use super::types::JobResult;

/// Which rule tied a result to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchRule {
    Index,
    Email,
    ExternalId,
    /// Zendesk answers in the order sent (a staff answer, not the reference): the weakest rule.
    Position,
}

/// A result and the position, in the `users` array sent, of the user it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched<'a> {
    pub position: usize,
    pub result: &'a JobResult,
    pub rule: MatchRule,
}

/// Matches `results` to the `sent` users; each position is matched at most once, and a result
/// that cannot be placed is left out (its user stays unconfirmed).
pub fn match_results<'a>(sent: &[Value], results: &'a [JobResult]) -> Vec<Matched<'a>> {
    let mut claimed = vec![false; sent.len()];
    let mut matched = Vec::with_capacity(results.len());
    for (order, result) in results.iter().enumerate() {
        if let Some((position, rule)) = place(sent, &claimed, order, result) {
            claimed[position] = true;
            matched.push(Matched {
                position,
                result,
                rule,
            });
        }
    }
    matched
}

fn place(
    sent: &[Value],
    claimed: &[bool],
    order: usize,
    result: &JobResult,
) -> Option<(usize, MatchRule)> {
    let free = |i: usize| i < sent.len() && !claimed[i];
    if let Some(index) = result.index.filter(|&i| free(i)) {
        return Some((index, MatchRule::Index));
    }
    let by_key = |key: &str, wanted: &Option<String>| {
        let wanted = wanted.as_deref()?;
        (0..sent.len()).find(|&i| {
            free(i)
                && sent[i]
                    .get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
        })
    };
    if let Some(i) = by_key("email", &result.email) {
        return Some((i, MatchRule::Email));
    }
    if let Some(i) = by_key("external_id", &result.external_id) {
        return Some((i, MatchRule::ExternalId));
    }
    if result.index.is_none() && free(order) {
        return Some((order, MatchRule::Position));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn results(list: Value) -> Vec<JobResult> {
        serde_json::from_value(list).unwrap()
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
        let matched = match_results(&sent, &got);
        let summary: Vec<(usize, MatchRule)> =
            matched.iter().map(|m| (m.position, m.rule)).collect();
        assert_eq!(
            summary,
            [
                (3, MatchRule::Index),
                (1, MatchRule::Email),
                (2, MatchRule::ExternalId)
            ],
            "the 4th result's position is taken, so it is left out"
        );
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
