//! `zdimport login`: the browser sign-in with PKCE, answered on a loopback callback port the
//! operator registers with their OAuth client.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use reqwest::Url;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::zendesk::error::ZendeskError;
use crate::zendesk::secret::Secret;

use super::*;

/// How long one connection to the login callback port may take to send its request line.
pub(super) const CALLBACK_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The loopback port `zdimport login` listens on unless told otherwise: fixed, because the
/// redirect URL must be registered on the OAuth client, and whether Zendesk accepts any port
/// for a registered loopback URL is unverified (API.md).
pub const DEFAULT_REDIRECT_PORT: u16 = 47_800;

/// The redirect URL to register on the OAuth client for a loopback port.
pub fn redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

/// A PKCE pair (RFC 7636): the verifier stays here, the S256 challenge goes to the browser.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = random_token(64);
        let challenge = s256_challenge(&verifier);
        Self {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// `BASE64URL(SHA256(verifier))` without padding, the `S256` method.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Random text from the PKCE alphabet (unreserved URL characters).
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// An authorization code sign-in in progress: a loopback listener waits for the browser.
#[derive(Debug)]
pub struct LoginFlow {
    listener: TcpListener,
    base: Url,
    client: OAuthClient,
    redirect_uri: String,
    state: String,
    pkce: Pkce,
    authorize_url: Url,
}

impl LoginFlow {
    /// Listens on `127.0.0.1` (a random port) and builds the URL to open in the browser.
    pub async fn start(base: &Url, client: OAuthClient, scope: &str) -> Result<Self, ZendeskError> {
        Self::start_on(base, client, scope, 0).await
    }

    /// [`LoginFlow::start`] on a fixed port, whose [`redirect_uri`] the OAuth client lists.
    pub async fn start_on(
        base: &Url,
        client: OAuthClient,
        scope: &str,
        port: u16,
    ) -> Result<Self, ZendeskError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            ZendeskError::Auth(format!(
                "cannot listen on 127.0.0.1:{port} for the browser's redirect: {e}; choose \
                     another port with --redirect-port and register its redirect URL on the \
                     OAuth client"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| ZendeskError::Auth(format!("cannot read the listening port: {e}")))?
            .port();
        let redirect_uri = redirect_uri(port);
        let state = random_token(32);
        let pkce = Pkce::new();
        let mut authorize_url =
            base.join("/oauth/authorizations/new")
                .map_err(|e| ZendeskError::BadUrl {
                    url: base.to_string(),
                    reason: e.to_string(),
                })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", scope)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", &state);
        Ok(Self {
            listener,
            base: base.clone(),
            client,
            redirect_uri,
            state,
            pkce,
            authorize_url,
        })
    }

    /// The page the operator approves zdimport on.
    pub fn authorize_url(&self) -> &Url {
        &self.authorize_url
    }

    /// The redirect URL the browser comes back to, as the OAuth client must list it.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the browser's redirect, checks `state`, and exchanges the code.
    pub async fn finish(self, timeout: Duration) -> Result<TokenAnswer, ZendeskError> {
        let code = self.wait_for_code().await?;
        let http = token_http(timeout)?;
        let token_url = token_url(&self.base)?;
        let body = with_lifetimes(grant_body(
            &self.client,
            "authorization_code",
            &[
                ("code", code.expose()),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", self.pkce.verifier.expose()),
            ],
        ));
        request_token(&http, &token_url, &body, timeout).await
    }

    /// Accepts every connection while earlier ones are still being read: a browser's idle
    /// preconnect, or any local process that connects and sends nothing, must not keep the real
    /// callback waiting; each read gives up after [`CALLBACK_READ_TIMEOUT`].
    async fn wait_for_code(&self) -> Result<Secret, ZendeskError> {
        let mut reading = tokio::task::JoinSet::new();
        loop {
            let (mut stream, target) = tokio::select! {
                accepted = self.listener.accept() => {
                    let (mut stream, _) = accepted.map_err(|e| {
                        ZendeskError::Auth(format!("waiting for the browser: {e}"))
                    })?;
                    reading.spawn(async move {
                        let target =
                            tokio::time::timeout(CALLBACK_READ_TIMEOUT, read_request_target(&mut stream))
                                .await
                                .ok()
                                .flatten();
                        (stream, target)
                    });
                    continue;
                }
                Some(Ok(read)) = reading.join_next(), if !reading.is_empty() => read,
            };
            let outcome = target.as_deref().and_then(|t| self.callback_outcome(t));
            let page = match &outcome {
                Some(Ok(_)) => "zdimport is signed in. You can close this tab.",
                Some(Err(_)) => "zdimport could not sign in; see the terminal.",
                None => "Not found",
            };
            let status = if outcome.is_some() {
                "200 OK"
            } else {
                "404 Not Found"
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    /// `None` for requests that are not the callback (a browser also asks for a favicon).
    fn callback_outcome(&self, target: &str) -> Option<Result<Secret, ZendeskError>> {
        let url = Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
        if url.path() != "/callback" {
            return None;
        }
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if param("state").as_deref() != Some(self.state.as_str()) {
            return Some(Err(ZendeskError::Auth(
                "the browser came back with a different state: sign-in refused".into(),
            )));
        }
        if let Some(error) = param("error") {
            let why = param("error_description").unwrap_or_default();
            return Some(Err(ZendeskError::Auth(format!(
                "Zendesk refused: {error} {why}"
            ))));
        }
        Some(
            param("code")
                .map(Secret::from)
                .ok_or_else(|| ZendeskError::Auth("the redirect carried no code".into())),
        )
    }
}

/// The target of an HTTP request line (`GET /callback?code=… HTTP/1.1`).
pub(super) async fn read_request_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next()?;
    line.split_whitespace().nth(1).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn login_listens_on_the_port_asked_and_a_busy_one_says_what_to_do() {
        let base = Url::parse("https://acme.zendesk.com").unwrap();
        let client = OAuthClient {
            client_id: "acme".into(),
            client_secret: None,
        };
        let busy = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = busy.local_addr().unwrap().port();
        let err = LoginFlow::start_on(&base, client.clone(), "read", port)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.contains("--redirect-port"), "{err}");
        drop(busy);
        let flow = LoginFlow::start_on(&base, client, "read", port)
            .await
            .unwrap();
        assert_eq!(flow.redirect_uri(), redirect_uri(port));
        let url = flow.authorize_url().to_string();
        assert!(
            url.contains(&format!("127.0.0.1%3A{port}%2Fcallback")),
            "{url}"
        );
    }

    #[test]
    fn s256_matches_rfc7636_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn pkce_verifier_is_long_and_unreserved() {
        let pkce = Pkce::new();
        assert_eq!(pkce.verifier.expose().len(), 64);
        assert!(
            pkce.verifier
                .expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        );
        assert_eq!(format!("{pkce:?}").matches("***").count(), 1);
    }
}
