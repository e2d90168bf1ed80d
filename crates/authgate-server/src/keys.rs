//! The key encryption key file: read at start, created on first start.

use std::io::Write;
use std::path::Path;

use authgate::jose::KeyEncryptionKey;
use authgate::OsRng;

/// Reads the key encryption key at `path`, creating it (readable by its owner only) when
/// the file does not exist. Answers the key and whether it was created.
///
/// # Errors
/// One line naming the file: unreadable, not 32 bytes of base64, or not writable.
pub(crate) fn load_or_create(path: &Path) -> Result<(KeyEncryptionKey, bool), String> {
    if let Some(k) = from_env(KEK_ENV)? {
        return Ok((k, false));
    }
    load_or_create_named(path, "keys.encryption_key_file")
}

/// The environment variable that gives the key encryption key (base64, 32 bytes) instead
/// of `keys.encryption_key_file`: how containers pass secrets.
pub(crate) const KEK_ENV: &str = "AUTHGATE_KEY_ENCRYPTION_KEY";

/// Checks the keys the environment gives (without reading or creating any file): what
/// `authgate config check` can tell before a start.
pub(crate) fn check_env() -> Result<(), String> {
    from_env(KEK_ENV)?;
    from_env(SESSION_KEY_ENV)?;
    Ok(())
}

/// A 32-byte key from an environment variable, if it is set.
fn from_env(var: &str) -> Result<Option<KeyEncryptionKey>, String> {
    match std::env::var(var) {
        Ok(v) => KeyEncryptionKey::from_base64(&v)
            .map(Some)
            .ok_or_else(|| format!("{var}: not a base64 32-byte key")),
        Err(_) => Ok(None),
    }
}

/// [`load_or_create`] for any 32-byte key file, its errors naming the config key `what`.
fn load_or_create_named(path: &Path, what: &str) -> Result<(KeyEncryptionKey, bool), String> {
    match load_named(path, what) {
        Ok(k) => Ok((k, false)),
        Err(_) if !path.exists() => match create(path) {
            Ok(k) => Ok((k, true)),
            // Another server starting beside this one created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                load_named(path, what).map(|k| (k, false))
            }
            Err(e) => Err(format!("{what} {}: cannot create it: {e}", path.display())),
        },
        Err(e) => Err(e),
    }
}

/// The environment variable that gives the session-signing key (base64, 32 bytes) instead
/// of a file: how containers pass secrets.
pub(crate) const SESSION_KEY_ENV: &str = "AUTHGATE_SESSION_KEY";

/// The key that signs session cookies: from [`SESSION_KEY_ENV`], else from `path` (created
/// owner-only on first start). Never from the database, so that a dump of it cannot forge a
/// session. Answers the key's bytes and whether the file was created.
///
/// # Errors
/// One line naming the variable or the file.
/// A 32-byte key for one purpose, derived from `key` (HMAC-SHA256 over `label`), so that one
/// key kept outside the database serves several uses without any two sharing a key.
pub(crate) fn derived(key: &[u8], label: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(label);
    mac.finalize().into_bytes().into()
}

pub(crate) fn session_key(path: &Path) -> Result<(Vec<u8>, bool), String> {
    if let Some(key) = from_env(SESSION_KEY_ENV)? {
        return Ok((key_bytes(&key), false));
    }
    let (key, created) = load_or_create_named(path, "keys.session_key_file")?;
    Ok((key_bytes(&key), created))
}

fn key_bytes(key: &KeyEncryptionKey) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key.to_base64())
        .unwrap_or_default()
}

/// Reads the key encryption key at `path`, which must exist. Warns when others than its
/// owner may read it.
///
/// # Errors
/// One line naming the file: missing, unreadable, or not 32 bytes of base64.
pub(crate) fn load_existing(path: &Path) -> Result<KeyEncryptionKey, String> {
    if let Some(k) = from_env(KEK_ENV)? {
        return Ok(k);
    }
    load_named(path, "keys.encryption_key_file")
}

fn load_named(path: &Path, what: &str) -> Result<KeyEncryptionKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{what} {}: cannot read it: {e}", path.display()))?;
    let key = KeyEncryptionKey::from_base64(&text)
        .ok_or_else(|| format!("{what} {}: not a base64 32-byte key", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            tracing::warn!(path = %path.display(), "{what}: the file is readable by others than its owner; chmod 600 it");
        }
    }
    Ok(key)
}

/// Writes a fresh key to a new file, owner-only, flushed to disk; a failed write leaves no
/// file behind.
fn create(path: &Path) -> std::io::Result<KeyEncryptionKey> {
    let key = KeyEncryptionKey::generate(&OsRng);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let written = writeln!(file, "{}", key.to_base64()).and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_created_owner_only_and_read_back() {
        let dir = std::env::temp_dir().join(format!(
            "authgate-kek-{}",
            authgate::token::generate_client_secret(&OsRng).replace(['-', '_'], "")
        ));
        let path = dir.join("sub").join("authgate.kek");
        let (a, created) = load_or_create(&path).unwrap();
        assert!(created);
        let (b, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(a.to_base64(), b.to_base64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(load_or_create(&path).unwrap_err().contains("32-byte"));
        let missing = dir.join("missing.kek");
        assert!(load_existing(&missing).unwrap_err().contains("cannot read"));
        assert!(!missing.exists(), "reading never creates");
        let _ = std::fs::remove_dir_all(dir);
    }
}
