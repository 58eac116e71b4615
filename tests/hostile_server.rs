//! A server that misbehaves on purpose, met by the real binary (issue 12): error bodies that
//! carry terminal controls (item 14), and a token endpoint answering absurd lifetimes through
//! the client-credentials sign-in (item 10). Nothing panics, nothing raw reaches a terminal,
//! the log or the report.

mod common;

use std::path::Path;
use std::process::Output;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post};
use serde_json::{Value, json};

/// ESC sequences (a screen clear, an OSC 52 clipboard write ended by BEL), a C1 CSI and bidi
/// controls (an override and an isolate) in the shape of a Zendesk error body.
fn hostile_body() -> Value {
    json!({
        "error": "Bad\u{1b}[2JInput",
        "message": "imports \u{1b}]52;c;aGVsbG8=\u{7} are \u{9b}31m off \u{202e}live",
        "description": "Clip \u{1b}]52;c;aGVsbG8=\u{7} \u{9b}31m \u{202e}evil\u{2066}x",
        "details": {"email": [{"description": "taken\u{1b}[31m\u{202e}"}]}
    })
}

/// The raw controls of [`hostile_body`], none of which may leave zdimport as they are.
const RAW: [char; 6] = [
    '\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2066}', '\u{fffd}',
];

/// An account answering `me`, an empty field list and the bulk requests with `bulk`; more
/// routes are added to what comes back.
fn account(bulk: MethodRouter) -> Router {
    Router::new()
        .route(
            "/api/v2/users/me.json",
            get(|| async {
                axum::Json(json!({"user": {"id": 1, "name": "Admin", "role": "admin"}}))
            }),
        )
        .route(
            "/api/v2/user_fields.json",
            get(|| async { axum::Json(json!({"user_fields": [], "next_page": null})) }),
        )
        .route("/api/v2/users/create_many.json", bulk.clone())
        .route("/api/v2/users/create_or_update_many.json", bulk)
}

/// Serves `router` on loopback; its base URL.
async fn serve_router(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

/// An account refusing the bulk requests with `status` and the hostile body; `/oauth/tokens`
/// answers `token`.
async fn serve(status: StatusCode, token: Value) -> String {
    let refuse = move || async move { (status, axum::Json(hostile_body())) };
    let router = account(post(refuse)).route(
        "/oauth/tokens",
        post(move || async move { axum::Json(token) }),
    );
    serve_router(router).await
}

/// `zdimport import` of three rows into `url`, signed in with `credentials`.
async fn import(home: &Path, url: &str, credentials: &[(&str, &str)]) -> Output {
    let csv = common::users_csv(home, 3);
    let mut cmd = common::command(home);
    cmd.args(["import", csv.to_str().unwrap(), "--auto", "--yes"])
        .args(["--url", url])
        .env("ZDIMPORT_STATE_DIR", home.join("state"));
    for (name, value) in credentials {
        cmd.env(name, value);
    }
    let run = tokio::process::Command::from(cmd).output();
    tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the import ends within a minute")
        .unwrap()
}

const BEARER: [(&str, &str); 1] = [("ZENDESK_OAUTH_TOKEN", "hostile-test-token")];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `dir`, read as text (the logs).
fn files_text(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.push_str(&files_text(&path));
        } else {
            all.push_str(&text(&std::fs::read(&path).unwrap()));
        }
    }
    all
}

fn assert_made_visible(what: &str, shown: &str, server_words: &[&str]) {
    for c in RAW {
        assert!(
            !shown.contains(c),
            "{what} holds U+{:04X}: {shown}",
            u32::from(c)
        );
    }
    for word in server_words {
        assert!(shown.contains(word), "{what} lacks {word:?}: {shown}");
    }
}

/// An import, with a bearer token, into an account refusing its bulk request with `status`
/// and the hostile body; its home dir and what it printed.
async fn refused_import(status: StatusCode) -> (tempfile::TempDir, Output) {
    let home = tempfile::tempdir().unwrap();
    let url = serve(status, json!({})).await;
    let out = import(home.path(), &url, &BEARER).await;
    (home, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_error_body_reaches_stderr_the_log_and_the_report_made_visible() {
    // Refused rows: Zendesk's words go to the report and the log.
    let (home, out) = refused_import(StatusCode::UNPROCESSABLE_ENTITY).await;
    let h = home.path();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "every row refused: {err}");
    assert_made_visible("stderr", &err, &[]);
    assert_made_visible("stdout", &text(&out.stdout), &[]);
    let run = std::fs::read_dir(h.join("data/runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let report = text(&std::fs::read(run.path().join("report.csv")).unwrap());
    let words = ["<U+202E>evil", "␛]52;c;aGVsbG8=␇", "<U+009B>31m"];
    assert_made_visible("report.csv", &report, &words);
    let log = files_text(&h.join("state"));
    assert_made_visible("the log", &log, &["422", "<U+202E>evil"]);

    // A refusal that stops the import: Zendesk's words on stderr.
    let (home, out) = refused_import(StatusCode::FORBIDDEN).await;
    let h = home.path();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_made_visible("stderr", &err, &["403", "<U+202E>"]);
    assert_made_visible("the log", &files_text(&h.join("state")), &["403"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_token_lifetimes_from_the_token_endpoint_never_panic() {
    let credentials = [
        ("ZENDESK_CLIENT_ID", "hostile-client"),
        ("ZENDESK_CLIENT_SECRET", "hostile-secret"),
    ];
    // Lifetimes a u64 holds sign in (taken as at most 48 h, or at once renewed): the import
    // runs and its rows meet the account's refusal (exit 1). Others are not a lifetime: the
    // sign-in stops, naming the request (exit 2). Never a panic (exit 101).
    let cases = [
        (json!(u64::MAX), 1),
        (json!(u64::MAX - 1), 1),
        (json!(i64::MAX), 1),
        (json!(0), 1),
        (json!(1e30), 2),
        (json!(-5), 2),
        (json!("soon"), 2),
    ];
    for (expires_in, want) in cases {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let token = json!({
            "access_token": "hostile-access-token",
            "token_type": "bearer",
            "expires_in": expires_in,
            "refresh_token_expires_in": expires_in,
        });
        let url = serve(StatusCode::UNPROCESSABLE_ENTITY, token).await;
        let out = import(h, &url, &credentials).await;
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(want),
            "expires_in {expires_in}: {err}"
        );
        assert!(!err.contains("panicked"), "expires_in {expires_in}: {err}");
        assert!(!err.contains("hostile-access-token") && !err.contains("hostile-secret"));
        if want == 2 {
            assert!(
                err.contains("POST /oauth/tokens"),
                "expires_in {expires_in}: {err}"
            );
        } else {
            assert!(err.contains("3 failed"), "expires_in {expires_in}: {err}");
        }
    }
}

/// `zdimport import` of three rows into `url` with a bearer token, stderr read as it comes.
fn spawn_import(home: &Path, url: &str) -> tokio::process::Child {
    let csv = common::users_csv(home, 3);
    let mut cmd = common::command(home);
    cmd.args([
        "import",
        csv.to_str().unwrap(),
        "--auto",
        "--yes",
        "--url",
        url,
    ])
    .env("ZDIMPORT_STATE_DIR", home.join("state"))
    .env(BEARER[0].0, BEARER[0].1)
    .stderr(std::process::Stdio::piped());
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    cmd.spawn().unwrap()
}

/// Reads `child`'s stderr until a line holds `text`; every line so far.
async fn read_until(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
    seen: &mut String,
    text: &str,
) {
    let wait = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(text) {
                return;
            }
        }
        panic!("stderr ended before {text:?}: {seen}");
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("no {text:?} within 30 s: {seen}"));
}

fn interrupt(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// `Retry-After: 1e30` is waited as an hour and said so; one Ctrl-C ends the wait and the
/// run (nothing was accepted), which stays resumable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_retry_after_is_an_hour_and_one_ctrl_c_ends_the_wait() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let limited = || async {
        let body = axum::Json(json!({"error": "TooManyRequests"}));
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1e30")],
            body,
        )
    };
    let url = serve_router(account(post(limited))).await;
    let mut child = spawn_import(h, &url);
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let mut seen = String::new();
    read_until(&mut lines, &mut seen, "waiting 3600s: rate limit (429)").await;
    interrupt(&child);
    read_until(&mut lines, &mut seen, "zdimport resume").await;
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .unwrap_or_else(|_| panic!("the run ends after one Ctrl-C: {seen}"))
        .unwrap();
    assert_ne!(status.code(), Some(101), "{seen}");
    assert!(!seen.contains("panicked"), "{seen}");
    let runs = common::command(h).arg("runs").output().unwrap();
    let listed = text(&runs.stdout);
    assert!(!listed.contains("  done  "), "resumable: {listed}");
}

/// A job that never ends: the first Ctrl-C stops sending and follows it (for a while), the
/// second ends the process at once (exit 130) with the journal whole, the job open in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_ends_at_once_while_a_job_never_ends() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&polls);
    let job = json!({"id": "J1", "status": "queued", "total": 3, "progress": 0, "results": null});
    let accepted = move || async move { axum::Json(json!({ "job_status": job })) };
    let router = account(post(accepted)).route(
        "/api/v2/job_statuses/show_many.json",
        get(move || async move {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            axum::Json(json!({"job_statuses": [{"id": "J1", "status": "working"}]}))
        }),
    );
    let url = serve_router(router).await;
    let mut child = spawn_import(h, &url);
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let mut seen = String::new();
    read_until(&mut lines, &mut seen, "zdimport: run ").await;
    let polled = async {
        while polls.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), polled)
        .await
        .expect("the job is polled");
    interrupt(&child);
    read_until(&mut lines, &mut seen, "stopping").await;
    // Still following the job: a second Ctrl-C ends it now.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "follows the job: {seen}"
    );
    interrupt(&child);
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .unwrap_or_else(|_| panic!("the second Ctrl-C ends it: {seen}"))
        .unwrap();
    read_until(&mut lines, &mut seen, "zdimport resume").await;
    assert_eq!(status.code(), Some(130), "{seen}");
    let runs = h.join("data/runs");
    let dir = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (_, _, journal) = zdimport::import::Journal::open(&dir).unwrap();
    let replay = journal.replay();
    assert_eq!(replay.damage, None, "the journal reads whole");
    assert!(
        replay.open[&0].iter().any(
            |o| matches!(o, zdimport::import::journal::Open::Job { job_id, .. } if job_id == "J1")
        ),
        "the job is open for resume to follow"
    );
}

/// A user created by the account behind [`serve_repeating`]: its id and external_id.
fn held_user(q: &str) -> Vec<Value> {
    [("X0", 100), ("X1", 101)]
        .iter()
        .filter(|(x, _)| q.contains(x))
        .map(|(x, id)| json!({"id": id, "external_id": x, "name": "User"}))
        .collect()
}

/// An account that answers every bulk request with job `J1`, whose results name no user
/// (`{"id":100,"index":0}`), and finds users X0 (id 100) and X1 (id 101) by external_id. The
/// first request is answered last, so the job seems to be the second request's; it runs
/// until both are answered.
async fn serve_repeating() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let job = json!({"id": "J1", "status": "queued"});
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    // When the first request (the last answered) was answered.
    let answered: std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>> =
        std::sync::Arc::default();
    let answers = std::sync::Arc::clone(&answered);
    let accepted = move || async move {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            *answers.lock().unwrap() = Some(std::time::Instant::now());
        }
        axum::Json(json!({ "job_status": job }))
    };
    let status = move || async move {
        let since = *answered.lock().unwrap();
        let both = since.is_some_and(|t| t.elapsed() > std::time::Duration::from_millis(200));
        let (state, results) = if both {
            ("completed", json!([{"id": 100, "index": 0}]))
        } else {
            ("working", Value::Null)
        };
        axum::Json(json!({"job_statuses": [{
            "id": "J1", "status": state, "total": 1, "progress": 0, "results": results
        }]}))
    };
    let router = account(post(accepted))
        .route("/api/v2/job_statuses/show_many.json", get(status))
        .route(
            "/api/v2/users/show_many.json",
            get(|uri: axum::http::Uri| async move {
                let q = uri.query().unwrap_or_default().to_owned();
                axum::Json(json!({ "users": held_user(&q) }))
            }),
        );
    serve_router(router).await
}

/// Zendesk answering two requests with one job id: neither request's rows take a user id
/// from that job (which cannot say whose results it holds), both are looked up, and each row
/// ends with its own user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_id_given_to_two_requests_puts_no_user_id_on_two_rows() {
    use zdimport::import::{
        EngineOptions, Journal, Outbox, OutboxBatch, Outcome, RunInfo, UserKey,
    };
    use zdimport::payload::Mode;
    use zdimport::zendesk::{Client, ClientConfig, Credentials, Secret};

    let url = serve_repeating().await;
    let config = ClientConfig::new(url.parse().unwrap(), Credentials::Bearer(Secret::new("t")));
    let client = Client::new(config).unwrap();
    let mut plan = Outbox::new(Mode::Create);
    for i in 0..2u32 {
        let x = format!("X{i}");
        plan.batches.push(OutboxBatch {
            first_index: u64::from(i),
            rows: vec![i + 2],
            keys: vec![UserKey {
                external_id: Some(x.clone()),
                ..UserKey::default()
            }],
            body: format!(r#"{{"users":[{{"name":"User {i}","external_id":"{x}"}}]}}"#).into(),
            sent_as: None,
        });
    }
    let tmp = tempfile::tempdir().unwrap();
    let info = RunInfo {
        id: "r".into(),
        rows: 2,
        ..RunInfo::default()
    };
    let journal = Journal::create(tmp.path(), &info, &plan).unwrap();
    let mut options = EngineOptions::for_speed(100.0);
    options.concurrency = 2;
    let summary = common::run_to_end(&client, journal, &options)
        .await
        .unwrap();
    assert_eq!(summary.created, 2, "{summary}");
    let outcomes = zdimport::import::journal::outcomes(&tmp.path().join("r")).unwrap();
    let ids: Vec<(u32, Option<u64>)> = outcomes.iter().map(|o| (o.row, o.user_id)).collect();
    assert_eq!(ids, [(2, Some(100)), (3, Some(101))], "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.outcome == Outcome::Created));
}

/// `login` with a connection to its callback port that sends nothing, and no browser ever
/// coming back: it gives up at its deadline, naming the redirect URL and what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_gives_up_at_its_deadline_naming_the_redirect_url_even_with_an_idle_connection() {
    use tokio::io::AsyncBufReadExt as _;
    let home = tempfile::tempdir().unwrap();
    let url = serve(StatusCode::UNPROCESSABLE_ENTITY, json!({})).await;
    let mut cmd = common::command(home.path());
    cmd.args([
        "login",
        "--no-browser",
        "--url",
        &url,
        "--client-id",
        "zdimport",
    ])
    .args(["--redirect-port", "0", "--wait", "2"])
    .stderr(std::process::Stdio::piped());
    let mut cmd = tokio::process::Command::from(cmd);
    let mut child = cmd.kill_on_drop(true).spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let redirect = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the redirect URL is printed");
        seen.push_str(&line);
        seen.push('\n');
        if let Some((_, url)) = line.split_once("redirect URL: ") {
            break url.trim().to_owned();
        }
    };
    let port = reqwest::Url::parse(&redirect).unwrap().port().unwrap();
    let _idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .expect("login ends at its deadline")
        .unwrap();
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert_eq!(status.code(), Some(2), "{seen}");
    let said = format!("the browser did not come back to {redirect} within 2 s");
    assert!(seen.contains(&said), "{seen}");
    assert!(seen.contains("--wait"), "{seen}");
}
