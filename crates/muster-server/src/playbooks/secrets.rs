//! Sealing playbook secrets at rest: authentication info and run inputs are
//! encrypted with XChaCha20-Poly1305 under a 256-bit key kept in the data
//! directory (`playbook-secrets.key`, mode 0600, made on first start), or in
//! the file `playbook_key_file` names. Losing the key loses the secrets (the
//! playbooks still load, their authentication info does not).

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// Prefix of a sealed value: the scheme and key version, so a later key rotation can tell them apart.
const PREFIX: &str = "xc20p1:";

/// Seals and opens secrets with the server's key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// The key file could not be read or made, or a sealed value does not open.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("playbook secrets key {path}: {message}")]
    Key { path: String, message: String },
    #[error("a sealed playbook secret does not open with this server's key (was the key file replaced?)")]
    Open,
}

impl Sealer {
    /// A sealer over a raw 32-byte key.
    #[must_use]
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self { cipher: XChaCha20Poly1305::new(key.into()) }
    }

    /// Loads the key from `path`, creating it (0600) with a random key when missing.
    ///
    /// # Errors
    /// [`SealError::Key`] when the file cannot be read, written, or is not 32 bytes (hex or raw).
    pub fn load_or_create(path: &Path) -> Result<Self, SealError> {
        let err = |message: String| SealError::Key { path: path.display().to_string(), message };
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let raw = hex::decode(text.trim()).map_err(|e| err(format!("not a hex key: {e}")))?;
                let key: [u8; 32] = raw.try_into().map_err(|_| err("must hold 32 bytes as 64 hex digits".into()))?;
                Ok(Self::from_key(&key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
                }
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts.open(path).map_err(|e| err(e.to_string()))?;
                f.write_all(hex::encode(key).as_bytes()).and_then(|()| f.sync_all()).map_err(|e| err(e.to_string()))?;
                Ok(Self::from_key(&key))
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// `plain` sealed: prefix, then base64 of a random nonce and the ciphertext.
    #[must_use]
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption with a fresh nonce and an in-memory buffer cannot fail.
        let sealed = self.cipher.encrypt(XNonce::from_slice(&nonce), plain.as_bytes()).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// Opens what [`Sealer::seal`] made.
    ///
    /// # Errors
    /// [`SealError::Open`] for anything else, or a value sealed with another key.
    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SealError::Open)?;
        let raw = base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| SealError::Open)?;
        if raw.len() < 24 {
            return Err(SealError::Open);
        }
        let (nonce, ct) = raw.split_at(24);
        let plain = self.cipher.decrypt(XNonce::from_slice(nonce), ct).map_err(|_| SealError::Open)?;
        String::from_utf8(plain).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_hide_the_text() {
        let dir = std::env::temp_dir().join(format!("muster-seal-{}", uuid::Uuid::new_v4()));
        let path = dir.join("k.key");
        let a = Sealer::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let sealed = a.seal("hunter2-password");
        assert!(!sealed.contains("hunter2"));
        assert_ne!(sealed, a.seal("hunter2-password"), "fresh nonce each time");
        assert_eq!(Sealer::load_or_create(&path).unwrap().open(&sealed).unwrap(), "hunter2-password");
        let other = Sealer::from_key(&[7; 32]);
        assert!(other.open(&sealed).is_err());
        assert!(a.open("garbage").is_err());
        std::fs::remove_dir_all(dir).ok();
    }
}
