//! `zdimport sandbox`: the simulated Zendesk in the foreground, for rehearsals.

use super::CliResult;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args};

use crate::session::account::parse_switch;
use crate::session::account::{
    DateFields, EmailOnUpdate, FaultConfig, JobFailures, JobLimitAnswer, JobLimitScope,
    JobProgress, JobResults, OrganizationByName, RateHeaders, SERVICE_CLIENT_ID, Sandbox,
    SandboxConfig, UserSettings,
};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0: any free port)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Requests per minute before 429 (Zendesk plans: 10, 200, 400, 700, 2500)
    #[arg(long, value_name = "N", default_value_t = 700)]
    pub rate_limit: u32,
    /// Jobs queued or working at once before bulk calls get 429 (Zendesk: 30)
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub job_limit: usize,
    /// What the job limit counts: account (every bulk job) or endpoint (each bulk endpoint's
    /// jobs apart, as a Zendesk help article says)
    #[arg(long, value_name = "SCOPE", default_value_t = JobLimitScope::Account)]
    pub job_limit_scope: JobLimitScope,
    /// How a bulk call over the job limit is refused (undocumented): too-many-jobs (429 with
    /// Retry-After), bare-429 (no reason, no Retry-After) or 400 (naming jobs)
    #[arg(long, value_name = "FORM", default_value_t = JobLimitAnswer::TooManyJobs)]
    pub job_limit_answer: JobLimitAnswer,
    /// Faults to inject, comma-separated: 5xx=P, drop=P, slow=P:SECS, lost=P, failed=P,
    /// killed=P (P a chance from 0 to 1), no-index, shuffle, job-404, http-date
    #[arg(long, value_name = "LIST")]
    pub faults: Option<FaultConfig>,
    /// Seed of the fault generator: the same seed gives the same faults
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Simulated seconds per real second (jobs, rate windows, token expiry)
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub speed: f64,
    /// Existing users: a JSON file {"users": [...], "user_fields": [...], "organizations":
    /// [...]}, or a worksheet whose columns are user keys (name, email, external_id,
    /// organization, tags, user_fields.KEY)
    #[arg(long, value_name = "FILE")]
    pub seed_users: Option<PathBuf>,
    /// Answer the bulk endpoints with 403 "Data imports are not enabled"
    #[arg(long)]
    pub bulk_import_disabled: bool,
    /// Job results for rows done: recorded ({"id","status"}, no index; a live account),
    /// reference ({"id","index"}) or summary ({"success":true} when every row succeeded)
    #[arg(long, value_name = "SHAPE", default_value_t = JobResults::Recorded)]
    pub job_results: JobResults,
    /// Job results for rows refused: indexed ({"index","error","id","details"}, recorded) or
    /// oas ({"action","id","success":false,"error","details"})
    #[arg(long, value_name = "SHAPE", default_value_t = JobFailures::Indexed)]
    pub job_failures: JobFailures,
    /// Job statuses' total and progress: counted (as recorded) or null (API.md: they may be)
    #[arg(long, value_name = "FORM", default_value_t = JobProgress::Counted)]
    pub job_progress: JobProgress,
    /// Rate-limit headers besides X-Rate-Limit*: recorded (rate-limit-* on bulk and job
    /// answers), documented (ratelimit-* on every answer) or both
    #[arg(long, value_name = "SPELLING", default_value_t = RateHeaders::Recorded)]
    pub rate_headers: RateHeaders,
    /// Simulated seconds before users/search finds a new user (0: at once)
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub search_lag: f64,
    /// Simulated seconds a job waits queued (recorded: 5 or more)
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub job_queue_time: f64,
    /// Simulated seconds per user while a job works (recorded: 8–11 s per 100 users)
    #[arg(long, value_name = "SECS", default_value_t = 0.095)]
    pub job_time_per_user: f64,
    /// An email sent for an existing user: secondary (adds an identity, the primary stays; as
    /// Zendesk documents) or replace (replaces the primary)
    #[arg(long, value_name = "RULE", default_value_t = EmailOnUpdate::AddSecondary)]
    pub email_on_update: EmailOnUpdate,
    /// Date custom fields read back as offset (2027-01-01T00:00:00+00:00), zulu (…T00:00:00Z)
    /// or as-sent (2027-01-01)
    #[arg(long, value_name = "FORM", default_value_t = DateFields::DateTimeOffset)]
    pub date_fields: DateFields,
    /// organization: {"name"} in a bulk body (undocumented): ignore (the key does nothing),
    /// create (a missing organization is created) or refuse (a missing one fails the row)
    #[arg(long, value_name = "RULE", default_value_t = OrganizationByName::Ignore)]
    pub organizations_by_name: OrganizationByName,
    /// Account setting: user tagging (off: tags are ignored)
    #[arg(long, value_name = "on|off", action = ArgAction::Set, value_parser = parse_switch, default_value = "on")]
    pub user_tagging: bool,
    /// Account setting: several organizations per user
    #[arg(long, value_name = "on|off", action = ArgAction::Set, value_parser = parse_switch, default_value = "off")]
    pub multiple_organizations: bool,
    /// Account setting: validate phone numbers (on: a phone not in E.164 fails its row)
    #[arg(long, value_name = "on|off", action = ArgAction::Set, value_parser = parse_switch, default_value = "off")]
    pub phone_validation: bool,
    /// Account setting: welcome emails to users an admin creates
    #[arg(long, value_name = "on|off", action = ArgAction::Set, value_parser = parse_switch, default_value = "on")]
    pub welcome_emails: bool,
}

impl SandboxArgs {
    fn config(&self) -> CliResult<SandboxConfig> {
        let mut config = SandboxConfig {
            port: self.port,
            rate_limit: self.rate_limit,
            job_limit: self.job_limit,
            job_limit_scope: self.job_limit_scope,
            job_limit_answer: self.job_limit_answer,
            faults: self.faults.clone().unwrap_or_default(),
            seed: self.seed,
            speed: self.speed,
            bulk_import_enabled: !self.bulk_import_disabled,
            job_results: self.job_results,
            job_failures: self.job_failures,
            job_progress: self.job_progress,
            rate_headers: self.rate_headers,
            search_lag: seconds(self.search_lag, "--search-lag")?,
            job_queue_time: seconds(self.job_queue_time, "--job-queue-time")?,
            job_time_per_user: seconds(self.job_time_per_user, "--job-time-per-user")?,
            email_on_update: self.email_on_update,
            date_fields: self.date_fields,
            organization_by_name: self.organizations_by_name,
            user_settings: UserSettings {
                tagging: self.user_tagging,
                multiple_organizations: self.multiple_organizations,
                end_user_phone_number_validation: self.phone_validation,
                agent_created_welcome_emails: self.welcome_emails,
            },
            ..SandboxConfig::live()
        };
        if let Some(path) = &self.seed_users {
            config.seed_from_file(path)?;
        }
        Ok(config)
    }
}

fn seconds(secs: f64, flag: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{flag}: {secs} is not a number of seconds"))
}

/// Serves until Ctrl-C, after printing the URL and the credentials to paste.
pub fn run(args: &SandboxArgs) -> CliResult<ExitCode> {
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let sandbox = Sandbox::start(config).await?;
        let secret = sandbox
            .config()
            .oauth_clients
            .iter()
            .find(|c| c.client_id == SERVICE_CLIENT_ID)
            .and_then(|c| c.client_secret.as_ref())
            .map(|s| s.expose().to_owned())
            .unwrap_or_default();
        // The reader may go away (a script that took the URL): the sandbox serves on.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "zdimport sandbox listening on {}", sandbox.url())
            .and_then(|()| writeln!(out, "{}", sandbox.env_line()))
            .and_then(|()| {
                writeln!(
                    out,
                    "or OAuth: ZENDESK_CLIENT_ID={SERVICE_CLIENT_ID} ZENDESK_CLIENT_SECRET={secret}"
                )
            })
            .and_then(|()| out.flush());
        drop(out);
        eprintln!("Ctrl-C stops it.");
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        args: SandboxArgs,
    }

    fn config(args: &[&str]) -> SandboxConfig {
        let all = std::iter::once("sandbox").chain(args.iter().copied());
        Command::try_parse_from(all).unwrap().args.config().unwrap()
    }

    #[test]
    fn flags_choose_each_variant_and_default_to_a_live_account() {
        let live = config(&[]);
        let expected = SandboxConfig::live();
        assert_eq!(live.job_results, JobResults::Recorded);
        assert_eq!(live.search_lag, expected.search_lag);
        assert_eq!(live.job_queue_time, expected.job_queue_time);
        assert_eq!(live.job_time_per_user, expected.job_time_per_user);
        assert_eq!(live.user_settings, expected.user_settings);
        assert_eq!(live.organization_by_name, OrganizationByName::Ignore);
        let chosen = config(&[
            "--job-results=reference",
            "--job-limit-scope=endpoint",
            "--job-limit-answer=bare-429",
            "--job-failures=oas",
            "--job-progress=null",
            "--rate-headers=both",
            "--search-lag=0",
            "--email-on-update=replace",
            "--date-fields=zulu",
            "--organizations-by-name=refuse",
            "--user-tagging=off",
            "--phone-validation=on",
        ]);
        assert_eq!(chosen.job_results, JobResults::Reference);
        assert_eq!(chosen.job_limit_scope, JobLimitScope::Endpoint);
        assert_eq!(chosen.job_limit_answer, JobLimitAnswer::Bare429);
        assert_eq!(chosen.job_failures, JobFailures::Oas);
        assert_eq!(chosen.job_progress, JobProgress::Null);
        assert_eq!(chosen.rate_headers, RateHeaders::Both);
        assert_eq!(chosen.search_lag, Duration::ZERO);
        assert_eq!(chosen.email_on_update, EmailOnUpdate::ReplacePrimary);
        assert_eq!(chosen.date_fields, DateFields::DateTimeZulu);
        assert_eq!(chosen.organization_by_name, OrganizationByName::Refuse);
        assert!(!chosen.user_settings.tagging);
        assert!(chosen.user_settings.end_user_phone_number_validation);
        assert!(Command::try_parse_from(["sandbox", "--date-fields=soon"]).is_err());
        let mut env = SandboxConfig::live();
        env.set_options("search-lag=2.5, job-results=reference")
            .unwrap();
        assert_eq!(env.search_lag, Duration::from_millis(2500));
        assert_eq!(env.job_results, JobResults::Reference);
        assert!(env.set_options("colour=blue").is_err());
    }
}
