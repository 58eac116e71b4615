//! A server that misbehaves on purpose, met by the real binary (issue 12): error bodies that
//! carry terminal controls (item 14), and a token endpoint answering absurd lifetimes through
//! the client-credentials sign-in (item 10). Nothing panics, nothing raw reaches a terminal,
//! the log or the report.

mod common;

use std::path::Path;
use std::process::Output;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
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

/// An account answering `me`, an empty field list and the bulk requests with `status` and
/// the hostile body; `/oauth/tokens` answers `token`.
async fn serve(status: StatusCode, token: Value) -> String {
    let refuse = move || async move { (status, axum::Json(hostile_body())) };
    let router = Router::new()
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
        .route("/api/v2/users/create_many.json", post(refuse))
        .route("/api/v2/users/create_or_update_many.json", post(refuse))
        .route(
            "/oauth/tokens",
            post(move || async move { axum::Json(token) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
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
