//! Where a refresh token is kept (the keyring, or memory for one process), and the OAuth
//! client each account signed in with (its id and redirect port; never a secret).

use std::sync::Arc;
use std::sync::Mutex as StdMutex;

use serde::Deserialize;

use crate::zendesk::secret::Secret;

use super::*;

/// Where a refresh token is kept between refreshes: never a file of ours.
pub trait RefreshStore: Send + Sync + std::fmt::Debug {
    fn load(&self) -> Option<Secret>;
    fn save(&self, token: &Secret);
    fn clear(&self);
    /// Whether the token saved last outlives this process (read back from where it is kept).
    fn keeps(&self) -> bool {
        false
    }
}

/// Keeps the refresh token in this process only.
#[derive(Debug, Default)]
pub struct MemoryStore(StdMutex<Option<Secret>>);

impl RefreshStore for MemoryStore {
    fn load(&self) -> Option<Secret> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }

    fn save(&self, token: &Secret) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(token.clone());
        }
    }

    fn clear(&self) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = None;
        }
    }
}

/// The operating system's keyring when it answers, this process's memory otherwise.
///
/// On Linux this is the kernel keyring (keyutils), which needs no D-Bus or system library; a
/// container that forbids the syscalls simply falls back to memory.
#[derive(Debug)]
pub struct KeyringStore {
    entry: Option<keyring::Entry>,
    memory: MemoryStore,
}

impl KeyringStore {
    /// One entry per account and OAuth client: `zdimport` / `{host} {client_id}`.
    pub fn new(host: &str, client_id: &str) -> Self {
        let entry = keyring::Entry::new("zdimport", &format!("{host} {client_id}")).ok();
        Self {
            entry,
            memory: MemoryStore::default(),
        }
    }
}

impl RefreshStore for KeyringStore {
    fn load(&self) -> Option<Secret> {
        self.memory.load().or_else(|| {
            let entry = self.entry.as_ref()?;
            entry.get_password().ok().map(Secret::from)
        })
    }

    fn save(&self, token: &Secret) {
        self.memory.save(token);
        if let Some(entry) = &self.entry {
            // Best effort: a keyring that refuses leaves the token in memory for this run.
            let _ = entry.set_password(token.expose());
        }
    }

    fn clear(&self) {
        self.memory.clear();
        if let Some(entry) = &self.entry {
            let _ = entry.delete_credential();
        }
    }

    fn keeps(&self) -> bool {
        let kept = self.entry.as_ref().and_then(|e| e.get_password().ok());
        kept.is_some_and(|k| self.memory.load().is_some_and(|m| m.expose() == k))
    }
}

/// What the config remembers of an account's sign-in (`accounts.json`, keyed by host): the
/// OAuth client `zdimport login` used, so later runs find its refresh token. Never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct RememberedClient {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_port: Option<u16>,
}

/// `accounts.json` in the config dir (`ZDIMPORT_CONFIG_DIR` as `var` reads it, else the
/// platform's).
pub(super) fn accounts_path(var: impl Fn(&str) -> Option<String>) -> Option<std::path::PathBuf> {
    let dir = match var(crate::profile::CONFIG_ENV).filter(|d| !d.is_empty()) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => directories::ProjectDirs::from("", "", "zdimport")?
            .config_dir()
            .to_path_buf(),
    };
    Some(dir.join("accounts.json"))
}

pub(super) fn remembered_all(
    var: impl Fn(&str) -> Option<String>,
) -> std::collections::BTreeMap<String, RememberedClient> {
    accounts_path(var)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// The client remembered for an account host.
pub fn remembered_client(
    host: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Option<RememberedClient> {
    remembered_all(var).remove(host)
}

/// Remembers the client for an account host; returns the file written.
pub fn remember_client(
    host: &str,
    entry: RememberedClient,
    var: impl Fn(&str) -> Option<String>,
) -> Result<std::path::PathBuf, String> {
    let path = accounts_path(&var).ok_or("no config directory: set ZDIMPORT_CONFIG_DIR")?;
    let mut all = remembered_all(&var);
    all.insert(host.to_owned(), entry);
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut json = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
    json.push('\n');
    std::fs::write(&path, json).map_err(io)?;
    Ok(path)
}

/// The refresh token store for an account: the OS keyring, or memory only when
/// `ZDIMPORT_KEYRING=memory` (tests, and machines whose keyring misbehaves).
pub fn refresh_store(
    host: &str,
    client_id: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Arc<dyn RefreshStore> {
    if var("ZDIMPORT_KEYRING").is_some_and(|v| v.eq_ignore_ascii_case("memory")) {
        return Arc::new(MemoryStore::default());
    }
    // No client named: the one `zdimport login` remembered for the account.
    let remembered = (client_id == DEFAULT_CLIENT_ID)
        .then(|| remembered_client(host, &var))
        .flatten();
    let client_id = remembered
        .as_ref()
        .map_or(client_id, |r| r.client_id.as_str());
    Arc::new(KeyringStore::new(host, client_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_login_used_is_remembered_per_account_host() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().to_string_lossy().into_owned();
        let var = |k: &str| (k == crate::profile::CONFIG_ENV).then(|| path.clone());
        assert_eq!(remembered_client("acme.zendesk.com", var), None);
        let acme = RememberedClient {
            client_id: "acme_zdimport".into(),
            redirect_port: Some(8123),
        };
        let other = RememberedClient {
            client_id: "zdg-other".into(),
            redirect_port: None,
        };
        remember_client("acme.zendesk.com", acme.clone(), var).unwrap();
        let file = remember_client("other.zendesk.com", other.clone(), var).unwrap();
        assert_eq!(remembered_client("acme.zendesk.com", var), Some(acme));
        assert_eq!(remembered_client("other.zendesk.com", var), Some(other));
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains("secret") && !text.contains("token"),
            "{text}"
        );
    }

    #[test]
    fn memory_store_keeps_the_latest_token() {
        let store = MemoryStore::default();
        assert!(store.load().is_none());
        store.save(&Secret::new("one"));
        store.save(&Secret::new("two"));
        assert_eq!(store.load().unwrap().expose(), "two");
        store.clear();
        assert!(store.load().is_none());
    }
}
