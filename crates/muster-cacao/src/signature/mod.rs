//! JSS playbook signatures (CACAO 10.15 and Appendix A): create, countersign
//! and verify, with Ed25519, ES256 and RS256, over the JCS form of the playbook.
//!
//! Signing, as in the specification's worked RSA example: remove the existing
//! `signatures`, add the new signature object without `value`, canonicalise
//! (JCS), hash with `hash_algorithm`, sign the hex digest, base64url-encode.
//! A countersignature (a signature's `signature`) signs the playbook whose only
//! signature is the countersigned one, complete with its value, and holding
//! the countersignature without its value.

mod jcs;

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

pub use jcs::canonical_json;

use crate::model::{Playbook, Signature};

/// Why a signature could not be made or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("unsupported hash algorithm {0}")]
    UnsupportedHash(String),
    #[error("the signature carries no public_key to verify with")]
    NoPublicKey,
    #[error("bad key: {0}")]
    BadKey(String),
    #[error("the signature value is malformed")]
    Malformed,
    #[error("the signature does not match the playbook")]
    Mismatch,
    #[error("no valid, current signature from a trusted key")]
    Untrusted,
    #[error("signature index {0} does not exist")]
    NoSuchSignature(usize),
}

/// A private key for one of the supported algorithms.
pub enum SigningKey {
    Ed25519(ed25519_dalek::SigningKey),
    Es256(p256::ecdsa::SigningKey),
    Rs256(Box<rsa::RsaPrivateKey>),
}

impl SigningKey {
    /// The JWA name written into `algorithm`.
    #[must_use]
    pub const fn algorithm(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => "Ed25519",
            Self::Es256(_) => "ES256",
            Self::Rs256(_) => "RS256",
        }
    }

    /// Reads a PKCS#8 PEM private key for `algorithm`. Line length is not
    /// enforced (the specification's example wraps at 76 columns).
    ///
    /// # Errors
    /// [`SignatureError::BadKey`] or [`SignatureError::UnsupportedAlgorithm`].
    pub fn from_pkcs8_pem(algorithm: &str, pem: &str) -> Result<Self, SignatureError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).flat_map(str::split_whitespace).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| SignatureError::BadKey(e.to_string()))?;
        let bad = |e: &dyn std::fmt::Display| SignatureError::BadKey(e.to_string());
        Ok(match algorithm {
            "Ed25519" => Self::Ed25519(ed25519_dalek::SigningKey::from_pkcs8_der(&der).map_err(|e| bad(&e))?),
            "ES256" => Self::Es256(p256::ecdsa::SigningKey::from_pkcs8_der(&der).map_err(|e| bad(&e))?),
            "RS256" => Self::Rs256(Box::new(rsa::RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| bad(&e))?)),
            other => return Err(SignatureError::UnsupportedAlgorithm(other.to_owned())),
        })
    }

    /// The public key as CACAO writes it: base64 DER SubjectPublicKeyInfo (PEM without header/footer).
    ///
    /// # Errors
    /// [`SignatureError::BadKey`] when the key cannot be encoded.
    pub fn public_key(&self) -> Result<String, SignatureError> {
        use ed25519_dalek::pkcs8::EncodePublicKey as _;
        let der = match self {
            Self::Ed25519(k) => k.verifying_key().to_public_key_der(),
            Self::Es256(k) => k.verifying_key().to_public_key_der(),
            Self::Rs256(k) => k.to_public_key().to_public_key_der(),
        }
        .map_err(|e| SignatureError::BadKey(e.to_string()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(der.as_bytes()))
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        use ed25519_dalek::Signer as _;
        Ok(match self {
            Self::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            Self::Es256(k) => {
                let s: p256::ecdsa::Signature = k.sign(message);
                s.to_bytes().to_vec()
            }
            Self::Rs256(k) => {
                let key = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
                rsa::signature::SignatureEncoding::to_vec(&key.sign(message))
            }
        })
    }
}

/// The message that is signed: the lower-case hex digest of the JCS bytes, as
/// in the specification's worked example ("Create a hash (SHA256 in hex)").
fn digest(hash_algorithm: &str, data: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let raw = match hash_algorithm.to_ascii_lowercase().as_str() {
        "sha-256" | "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha-512" | "sha512" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(SignatureError::UnsupportedHash(other.to_owned())),
    };
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes())
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The bytes a signature covers: the digest of the JCS playbook holding only `signature`.
fn signed_digest(playbook: &Playbook, signature: &Signature, hash: &str) -> Result<Vec<u8>, SignatureError> {
    document_digest(&to_value(playbook), signature, hash)
}

fn document_digest(document: &Value, signature: &Signature, hash: &str) -> Result<Vec<u8>, SignatureError> {
    let mut doc = document.clone();
    if let Value::Object(m) = &mut doc {
        m.insert("signatures".into(), Value::Array(vec![to_value(signature)]));
    }
    digest(hash, canonical_json(&doc).as_bytes())
}

fn without_value(s: &Signature) -> Signature {
    Signature { value: String::new(), signature: None, ..s.clone() }
}

/// Signs `playbook`: fills `algorithm`, `public_key` and `value` of `template`
/// and returns the signature, ready to push onto `playbook.signatures`.
///
/// # Errors
/// An unsupported hash algorithm or a key that cannot be encoded.
pub fn sign(playbook: &Playbook, template: &Signature, key: &SigningKey) -> Result<Signature, SignatureError> {
    let mut sig = without_value(template);
    sig.algorithm = key.algorithm().to_owned();
    sig.public_key = Some(key.public_key()?);
    let digest = signed_digest(playbook, &sig, &sig.hash_algorithm)?;
    sig.value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.sign(&digest)?);
    Ok(sig)
}

/// Countersigns signature `index` of `playbook` in place.
///
/// # Errors
/// As [`sign`], or when there is no signature at `index`.
pub fn countersign(
    playbook: &mut Playbook,
    index: usize,
    template: &Signature,
    key: &SigningKey,
) -> Result<(), SignatureError> {
    let outer = playbook
        .signatures
        .as_ref()
        .and_then(|s| s.get(index))
        .cloned()
        .ok_or(SignatureError::NoSuchSignature(index))?;
    let mut counter = without_value(template);
    counter.algorithm = key.algorithm().to_owned();
    counter.public_key = Some(key.public_key()?);
    let covered = Signature { signature: Some(Box::new(counter.clone())), ..outer };
    let digest = signed_digest(playbook, &covered, &counter.hash_algorithm)?;
    counter.value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.sign(&digest)?);
    if let Some(s) = playbook.signatures.as_mut().and_then(|s| s.get_mut(index)) {
        s.signature = Some(Box::new(counter));
    }
    Ok(())
}

fn check(public_key: &str, algorithm: &str, message: &[u8], value: &str) -> Result<(), SignatureError> {
    use ed25519_dalek::pkcs8::DecodePublicKey as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(public_key.split_whitespace().collect::<String>())
        .map_err(|e| SignatureError::BadKey(e.to_string()))?;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| SignatureError::Malformed)?;
    let bad = |e: &dyn std::fmt::Display| SignatureError::BadKey(e.to_string());
    match algorithm {
        "Ed25519" => {
            use ed25519_dalek::Verifier as _;
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(&der).map_err(|e| bad(&e))?;
            let sig = ed25519_dalek::Signature::from_slice(&sig).map_err(|_| SignatureError::Malformed)?;
            key.verify(message, &sig).map_err(|_| SignatureError::Mismatch)
        }
        "ES256" => {
            use p256::ecdsa::signature::Verifier as _;
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(&der).map_err(|e| bad(&e))?;
            let sig = p256::ecdsa::Signature::from_slice(&sig).map_err(|_| SignatureError::Malformed)?;
            key.verify(message, &sig).map_err(|_| SignatureError::Mismatch)
        }
        "RS256" => {
            use rsa::signature::Verifier as _;
            let key = rsa::RsaPublicKey::from_public_key_der(&der).map_err(|e| bad(&e))?;
            let key = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key);
            let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).map_err(|_| SignatureError::Malformed)?;
            key.verify(message, &sig).map_err(|_| SignatureError::Mismatch)
        }
        other => Err(SignatureError::UnsupportedAlgorithm(other.to_owned())),
    }
}

/// Verifies one signature (not its countersignature) against `playbook`.
///
/// # Errors
/// Why the signature does not hold.
pub fn verify_signature(playbook: &Playbook, signature: &Signature) -> Result<(), SignatureError> {
    verify_document(&to_value(playbook), signature)
}

/// Verifies one signature against a playbook held as raw JSON (for documents
/// that do not parse into the typed model, such as partial examples).
///
/// # Errors
/// Why the signature does not hold.
pub fn verify_document(document: &Value, signature: &Signature) -> Result<(), SignatureError> {
    let key = signature.public_key.as_deref().ok_or(SignatureError::NoPublicKey)?;
    let digest = document_digest(document, &without_value(signature), &signature.hash_algorithm)?;
    check(key, &signature.algorithm, &digest, &signature.value)
}

/// Verifies the countersignature of `signature`, if it has one.
///
/// # Errors
/// Why the countersignature does not hold.
pub fn verify_countersignature(playbook: &Playbook, signature: &Signature) -> Result<(), SignatureError> {
    let Some(counter) = &signature.signature else {
        return Ok(());
    };
    let key = counter.public_key.as_deref().ok_or(SignatureError::NoPublicKey)?;
    let covered = Signature { signature: Some(Box::new(without_value(counter))), ..signature.clone() };
    let digest = signed_digest(playbook, &covered, &counter.hash_algorithm)?;
    check(key, &counter.algorithm, &digest, &counter.value)
}

/// Which keys may authorise a playbook to run.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Trusted public keys, base64 DER SPKI as in `public_key`.
    pub trusted_keys: Vec<String>,
}

/// Requires at least one signature that verifies, is not revoked, is inside
/// its validity window at `now`, and was made with a trusted key.
///
/// # Errors
/// [`SignatureError::Untrusted`] when no signature qualifies.
pub fn require_trusted(
    playbook: &Playbook,
    policy: &TrustPolicy,
    now: time::OffsetDateTime,
) -> Result<(), SignatureError> {
    let parse = |s: &Option<String>| {
        s.as_deref().and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
    };
    let normalise = |k: &str| k.split_whitespace().collect::<String>();
    let trusted: Vec<String> = policy.trusted_keys.iter().map(|k| normalise(k)).collect();
    let ok = playbook.signatures.iter().flatten().any(|s| {
        s.revoked != Some(true)
            && parse(&s.valid_from).is_none_or(|f| f <= now)
            && parse(&s.valid_until).is_none_or(|u| now < u)
            && s.public_key.as_deref().is_some_and(|k| trusted.contains(&normalise(k)))
            && verify_signature(playbook, s).is_ok()
    });
    if ok { Ok(()) } else { Err(SignatureError::Untrusted) }
}
