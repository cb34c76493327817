//! Server secrets (the access-token signing key, the franking key): taken from
//! configuration, or generated once and kept in a 0600 file under the data dir
//! so that they survive restarts and every process sharing the folder agrees.
//! A kept secret found readable by others (copied, restored from a backup) is
//! made 0600 again when it is read, and the correction is logged.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::Secret;

/// A kept key is 256 random bits, base64url: 43 characters.
const KEPT_KEY_CHARS: usize = 43;

/// The configured secret, or the one kept in `<data_dir>/<file>` (created on
/// first use). `what` names it in errors.
pub fn configured_or_kept(
    configured: Option<&Secret>,
    data_dir: &Path,
    file: &str,
    what: &str,
) -> std::io::Result<Vec<u8>> {
    if let Some(secret) = configured {
        return Ok(secret.expose().as_bytes().to_vec());
    }
    let path = data_dir.join(file);
    keep_private(&path)?;
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= KEPT_KEY_CHARS => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is too short to be a {what}", path.display()),
            ));
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    std::fs::create_dir_all(data_dir)?;
    let mut random = [0_u8; 32];
    getrandom::fill(&mut random).map_err(std::io::Error::other)?;
    let key = URL_SAFE_NO_PAD.encode(random);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(key.as_bytes())?;
            file.sync_all()?;
            Ok(key.into_bytes())
        }
        // Another process sharing the data dir created it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?.trim().as_bytes().to_vec())
        }
        Err(err) => Err(err),
    }
}

/// Makes an existing secret file 0600 if its group or others may touch it,
/// logging the correction (the path and the old mode, never the contents).
/// A missing file is left to be created (0600) by the caller.
pub fn keep_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(path) {
        Ok(metadata) => metadata.permissions().mode() & 0o777,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        tracing::warn!(path = %path.display(), old_mode = format!("{mode:o}"), "a private file (secret or log) was readable by others; made it 0600");
    }
    Ok(())
}

/// A file's permission bits (tests of the files kept private).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_loose_kept_secret_is_made_private_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let first = configured_or_kept(None, dir.path(), "jwt-secret", "signing key").unwrap();
        let path = dir.path().join("jwt-secret");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let again = configured_or_kept(None, dir.path(), "jwt-secret", "signing key").unwrap();
        assert_eq!(first, again);
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_private_or_missing_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        keep_private(&dir.path().join("missing")).unwrap();
        let path = dir.path().join("owner-only");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        keep_private(&path).unwrap();
        assert_eq!(mode(&path), 0o400);
    }
}
