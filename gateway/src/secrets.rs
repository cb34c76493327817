//! Server secrets (the access-token signing key, the franking key): taken from
//! configuration, or generated once and kept in a 0600 file under the data dir
//! so that they survive restarts and every process sharing the folder agrees.

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
