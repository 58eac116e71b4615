//! Background jobs: queued → working → completed (or failed, killed) over simulated time.
//!
//! A job's users are applied to the store when its simulated end time has passed, in the order
//! jobs end, the first time anything looks (a request or an inspection): no timer task, so the
//! outcome depends only on the clock.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::faults::Fault;
use super::options::{JobFailures, JobProgress, JobResults};
use super::store::{RowAction, RowError, Store};

/// Which bulk endpoint started a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkKind {
    CreateMany,
    CreateOrUpdateMany,
    UpdateMany,
    /// `organizations/create_many`: the job's `users` are organizations.
    OrganizationsCreateMany,
    /// `organization_memberships/create_many`: the job's `users` are memberships.
    MembershipsCreateMany,
    /// `organizations/update_many`: the job's `users` are organizations, by id.
    OrganizationsUpdateMany,
}

/// How a job ended, once it has.
#[derive(Debug, Clone)]
pub enum JobEnd {
    Pending,
    Completed(Vec<Value>),
    Failed,
    Killed,
}

/// One job and its simulated schedule.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: BulkKind,
    pub users: Vec<Value>,
    pub start_at: Duration,
    pub done_at: Duration,
    /// Wall-clock time of `done_at`, for the "Completed at …" message.
    pub done_wall: SystemTime,
    pub end: JobEnd,
    /// `failed` or `killed` instead of running, when a fault says so.
    pub fate: Option<Fault>,
    /// Status reads that answer 404 before the job becomes visible.
    pub hidden_reads: u32,
    /// A permutation of the results, for the out-of-order fault.
    pub order: Option<Vec<usize>>,
    pub strip_index: bool,
    /// The shapes of `results` for rows done and rows refused.
    pub shapes: (JobResults, JobFailures),
    pub progress: JobProgress,
}

/// A job id shaped like Zendesk's (`V3-` and 32 hex digits), derived from a counter.
pub fn job_id(seq: u64) -> String {
    format!("V3-{:016x}{:016x}", mix(seq), mix(seq ^ 0x5bd1_e995))
}

fn mix(mut x: u64) -> u64 {
    // splitmix64: distinct, random-looking ids without a generator.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Job {
    /// Still queued or working at `now`: counts against the 30-job limit.
    pub fn is_active(&self, now: Duration) -> bool {
        self.done_at > now
    }

    /// Runs the job against the store: the users change and the results are written.
    pub fn finish(&mut self, store: &mut Store) {
        self.end = match self.fate {
            Some(Fault::JobFailed) => JobEnd::Failed,
            Some(Fault::JobKilled) => JobEnd::Killed,
            _ => JobEnd::Completed(self.run(store)),
        };
        // The bodies are done with; only their count is still shown. Holding them took
        // about a kilobyte per user imported.
        for user in &mut self.users {
            *user = Value::Null;
        }
    }

    fn run(&self, store: &mut Store) -> Vec<Value> {
        let mut results: Vec<Value> = self
            .users
            .iter()
            .enumerate()
            .map(|(index, user)| self.row_result(store, index, user))
            .collect();
        if let Some(order) = &self.order {
            results = order
                .iter()
                .filter_map(|&i| results.get(i).cloned())
                .collect();
        }
        results
    }

    fn row_result(&self, store: &mut Store, index: usize, user: &Value) -> Value {
        let outcome = match self.kind {
            BulkKind::CreateMany => store
                .create(user, self.done_wall)
                .map(|id| (id, RowAction::Created)),
            BulkKind::CreateOrUpdateMany => store.create_or_update(user, self.done_wall),
            BulkKind::UpdateMany => store
                .update(user, self.done_wall)
                .map(|id| (id, RowAction::Updated)),
            BulkKind::OrganizationsCreateMany => store
                .create_organization(user, self.done_wall)
                .map(|id| (id, RowAction::Created)),
            BulkKind::MembershipsCreateMany => store.create_membership(user, self.done_wall),
            BulkKind::OrganizationsUpdateMany => store
                .update_organization(user, self.done_wall)
                .map(|id| (id, RowAction::Updated)),
        };
        let mut result = match outcome {
            Ok((id, action)) => self.done_result(index, id, action),
            Err(e) => self.failed_result(index, user, &e),
        };
        if self.strip_index {
            // The community-reported shape: no index, the user's email to match by instead.
            if let Some(map) = result.as_object_mut() {
                map.remove("index");
                for key in ["email", "external_id"] {
                    if let Some(value) = user.get(key).filter(|v| v.is_string()) {
                        map.insert(key.into(), value.clone());
                    }
                }
            }
        }
        result
    }

    /// A row done: as recorded (no index) or as the reference has it (`{"id","index"}`).
    fn done_result(&self, index: usize, id: u64, action: RowAction) -> Value {
        match (self.shapes.0, action) {
            (JobResults::Reference, _) => json!({"id": id, "index": index}),
            (_, RowAction::Created) => json!({"id": id, "status": "Created"}),
            (_, RowAction::Updated) => {
                json!({"id": id, "action": "update", "status": "Updated", "success": true})
            }
        }
    }

    /// A row refused: with its index as recorded, or in the OpenAPI shape (no index). `id` is
    /// the user's when the body named one, else null.
    fn failed_result(&self, index: usize, user: &Value, e: &RowError) -> Value {
        let id = user.get("id").cloned().unwrap_or(Value::Null);
        match self.shapes.1 {
            JobFailures::Indexed => {
                json!({"index": index, "error": e.error, "id": id, "details": e.details})
            }
            JobFailures::Oas => {
                let action = if matches!(
                    self.kind,
                    BulkKind::UpdateMany | BulkKind::OrganizationsUpdateMany
                ) {
                    "update"
                } else {
                    "create"
                };
                json!({
                    "action": action, "id": id, "success": false, "error": e.error,
                    "details": e.details
                })
            }
        }
    }

    /// The list, or `{"success":true}` for a job whose rows all succeeded when so chosen.
    fn results_json(&self, results: &[Value]) -> Value {
        let all_done = results.iter().all(|r| r.get("error").is_none());
        if self.shapes.0 == JobResults::Summary && all_done {
            return json!({"success": true});
        }
        json!(results)
    }

    /// `Processing user #3`; `Creating organization #10` as recorded for organizations.
    fn working_message(&self, number: usize) -> String {
        match self.kind {
            BulkKind::OrganizationsCreateMany => format!("Creating organization #{number}"),
            BulkKind::OrganizationsUpdateMany => format!("Updating organization #{number}"),
            _ => format!("Processing user #{number}"),
        }
    }

    /// The `job_status` object as Zendesk answers it at `now` (keys of the recorded bodies).
    pub fn render(&self, now: Duration, base: &str) -> Value {
        let total = self.users.len();
        let (status, progress, message, results) = match &self.end {
            JobEnd::Completed(results) => (
                "completed",
                json!(total),
                json!(completed_message(self.done_wall)),
                self.results_json(results),
            ),
            JobEnd::Failed => (
                "failed",
                Value::Null,
                json!("Failed: the job could not run"),
                Value::Null,
            ),
            JobEnd::Killed => ("killed", Value::Null, json!("Killed"), Value::Null),
            JobEnd::Pending if now < self.start_at => {
                ("queued", Value::Null, Value::Null, Value::Null)
            }
            JobEnd::Pending => {
                let span = (self.done_at - self.start_at)
                    .as_secs_f64()
                    .max(f64::EPSILON);
                let done = ((now - self.start_at).as_secs_f64() / span * total as f64) as usize;
                let done = done.min(total.saturating_sub(1));
                (
                    "working",
                    json!(done),
                    json!(self.working_message(done + 1)),
                    Value::Null,
                )
            }
        };
        let (total, progress) = match self.progress {
            JobProgress::Counted => (json!(total), progress),
            JobProgress::Null => (Value::Null, Value::Null),
        };
        json!({
            "id": self.id,
            "url": format!("{base}/api/v2/job_statuses/{}.json", self.id),
            "total": total,
            "progress": progress,
            "status": status,
            "message": message,
            "results": results,
        })
    }
}

/// `Completed at 2023-10-08 17:22:35 +0000`, as in the recorded answers.
fn completed_message(at: SystemTime) -> String {
    let at = chrono::DateTime::<chrono::Utc>::from(at);
    format!("Completed at {}", at.format("%Y-%m-%d %H:%M:%S +0000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(kind: BulkKind, users: Vec<Value>) -> Job {
        Job {
            id: job_id(1),
            kind,
            users,
            start_at: Duration::from_secs(1),
            done_at: Duration::from_secs(3),
            done_wall: SystemTime::now(),
            end: JobEnd::Pending,
            fate: None,
            hidden_reads: 0,
            order: None,
            strip_index: false,
            shapes: (JobResults::Reference, JobFailures::Indexed),
            progress: JobProgress::Counted,
        }
    }

    #[test]
    fn moves_from_queued_to_working_to_completed() {
        let mut store = Store::new("http://127.0.0.1:1");
        let mut j = job(
            BulkKind::CreateMany,
            vec![json!({"name": "A"}), json!({"email": "b@x.com"})],
        );
        assert_eq!(j.render(Duration::ZERO, "b")["status"], "queued");
        let working = j.render(Duration::from_secs(2), "b");
        assert_eq!(working["status"], "working");
        assert_eq!(working["progress"], 1);
        j.finish(&mut store);
        let done = j.render(Duration::from_secs(4), "b");
        assert_eq!(done["status"], "completed");
        assert_eq!(done["results"][0]["index"], 0, "the reference shape");
        assert!(done["results"][0]["id"].is_u64());
        assert_eq!(done["results"][1]["error"], "UserCreateError");
        assert_eq!(done["results"][1]["index"], 1);
    }

    #[test]
    fn results_take_the_recorded_or_the_oas_shape() {
        let mut store = Store::new("http://127.0.0.1:1");
        let id = store
            .create(
                &json!({"name": "Old", "email": "old@x.com"}),
                SystemTime::now(),
            )
            .unwrap();
        let mut j = job(
            BulkKind::CreateOrUpdateMany,
            vec![
                json!({"name": "A", "email": "a@x.com"}),
                json!({"email": "old@x.com", "name": "Old 2"}),
                json!({"email": "b@x.com"}),
            ],
        );
        j.shapes = (JobResults::Recorded, JobFailures::Oas);
        j.finish(&mut store);
        let results = j.render(Duration::from_secs(4), "b")["results"].clone();
        assert_eq!(results[0]["status"], "Created");
        assert_eq!(results[0].as_object().unwrap().len(), 2, "{results}");
        assert_eq!(
            results[1],
            json!({"id": id, "action": "update", "status": "Updated", "success": true})
        );
        assert_eq!(
            results[2],
            json!({"action": "create", "id": null, "success": false,
                "error": "UserCreateError", "details": "Name: cannot be blank"})
        );
    }

    #[test]
    fn job_ids_look_like_zendesk_ids() {
        let id = job_id(42);
        assert!(id.starts_with("V3-") && id.len() == 35, "{id}");
        assert_ne!(job_id(1), job_id(2));
    }
}
