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
    match std::fs::read_to_string(path) {
        Ok(text) => KeyEncryptionKey::from_base64(&text)
            .map(|k| (k, false))
            .ok_or_else(|| {
                format!(
                    "keys.encryption_key_file {}: not a base64 32-byte key",
                    path.display()
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = KeyEncryptionKey::generate(&OsRng);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("keys.encryption_key_file {}: {e}", path.display()))?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(|e| {
                format!(
                    "keys.encryption_key_file {}: cannot create it: {e}",
                    path.display()
                )
            })?;
            writeln!(file, "{}", key.to_base64())
                .map_err(|e| format!("keys.encryption_key_file {}: {e}", path.display()))?;
            Ok((key, true))
        }
        Err(e) => Err(format!(
            "keys.encryption_key_file {}: cannot read it: {e}",
            path.display()
        )),
    }
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
        let _ = std::fs::remove_dir_all(dir);
    }
}
