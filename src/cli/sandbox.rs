//! `zdimport sandbox`: the simulated Zendesk in the foreground, for rehearsals.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::sandbox::{FaultConfig, SERVICE_CLIENT_ID, Sandbox, SandboxConfig};

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
}

impl SandboxArgs {
    fn config(&self) -> Result<SandboxConfig, String> {
        let mut config = SandboxConfig {
            port: self.port,
            rate_limit: self.rate_limit,
            job_limit: self.job_limit,
            faults: self.faults.clone().unwrap_or_default(),
            seed: self.seed,
            speed: self.speed,
            bulk_import_enabled: !self.bulk_import_disabled,
            ..SandboxConfig::default()
        };
        if let Some(path) = &self.seed_users {
            config.seed_from_file(path).map_err(|e| e.to_string())?;
        }
        Ok(config)
    }
}

/// Serves until Ctrl-C, after printing the URL and the credentials to paste.
pub fn run(args: &SandboxArgs) -> Result<ExitCode, String> {
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let sandbox = Sandbox::start(config).await.map_err(|e| e.to_string())?;
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
