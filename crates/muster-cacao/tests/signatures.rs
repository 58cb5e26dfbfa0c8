//! JSS signatures: the specification's worked RSA example verifies; our own
//! Ed25519, ES256 and RS256 signatures and countersignatures verify and fail
//! when tampered; a trust policy accepts only current signatures from trusted keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use muster_cacao::Playbook;
use muster_cacao::model::Signature;
use muster_cacao::signature::{
    SignatureError, SigningKey, TrustPolicy, countersign, require_trusted, sign, verify_countersignature,
    verify_document, verify_signature,
};
use serde_json::json;

fn example_md() -> String {
    std::fs::read_to_string(common::cacao_data().join("examples/oasis-tcs-cacao/signature-example-rsa.md")).unwrap()
}

/// The first fenced block after `heading` in the example.
fn block_after(md: &str, heading: &str, fence: &str) -> String {
    let at = md.find(heading).unwrap();
    let start = md[at..].find(fence).unwrap() + at + fence.len();
    let end = md[start..].find("```").unwrap() + start;
    md[start..end].trim().to_owned()
}

fn rsa_key() -> SigningKey {
    let md = example_md();
    let pem = block_after(&md, "### Step 0", "```\n");
    SigningKey::from_pkcs8_pem("RS256", &pem).unwrap()
}

fn keys() -> Vec<SigningKey> {
    vec![
        SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[7; 32])),
        SigningKey::Es256(p256::ecdsa::SigningKey::from_slice(&[9; 32]).unwrap()),
        rsa_key(),
    ]
}

fn playbook() -> Playbook {
    serde_json::from_value(json!({
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": "playbook--a0777575-5c4c-4710-9f01-15776103837f", "name": "Playbook 1",
        "created_by": "identity--5abe695c-7bd5-4c31-8824-2528696cdbf1",
        "created": "2022-05-18T11:31:31.319Z", "modified": "2022-05-18T11:31:31.319Z",
        "workflow_start": "start--00000000-0000-4000-8000-000000000001",
        "workflow": {
            "start--00000000-0000-4000-8000-000000000001": {"type": "start", "on_completion": "end--00000000-0000-4000-8000-000000000002"},
            "end--00000000-0000-4000-8000-000000000002": {"type": "end"}
        }
    }))
    .unwrap()
}

fn template(signee: &str, valid_until: Option<&str>) -> Signature {
    serde_json::from_value(json!({
        "type": "jss", "id": "jss--af892292-c4b4-47eb-9be6-4897ff4b9388",
        "created": "2023-01-10T17:39:31.319Z", "modified": "2023-01-10T17:39:31.319Z",
        "signee": signee, "related_to": "playbook--a0777575-5c4c-4710-9f01-15776103837f",
        "related_version": "2022-05-18T11:31:31.319Z", "hash_algorithm": "sha-256",
        "algorithm": "", "valid_until": valid_until,
    }))
    .unwrap()
}

#[test]
fn the_specifications_rsa_example_verifies() {
    let md = example_md();
    let doc = block_after(&md, "## Verifying a Playbook", "```json\n");
    // The example playbook has no workflow, so it is checked as raw JSON.
    let pb: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let sig: Signature = serde_json::from_value(pb["signatures"][0].clone()).unwrap();
    assert_eq!(verify_document(&pb, &sig), Ok(()));
    let mut tampered = pb.clone();
    tampered["name"] = json!("Playbook 2");
    assert_eq!(verify_document(&tampered, &sig), Err(SignatureError::Mismatch));
}

#[test]
fn each_algorithm_signs_and_detects_tampering() {
    for key in keys() {
        let mut pb = playbook();
        let sig = sign(&pb, &template("ACME", None), &key).unwrap();
        assert_eq!(sig.algorithm, key.algorithm());
        pb.signatures = Some(vec![sig.clone()]);
        // Round trip through JSON, as a receiver would see it.
        let received: Playbook = serde_json::from_str(&serde_json::to_string(&pb).unwrap()).unwrap();
        assert_eq!(verify_signature(&received, &sig), Ok(()), "{}", key.algorithm());
        let mut tampered = received.clone();
        tampered.description = Some("now does something else".into());
        assert_eq!(verify_signature(&tampered, &sig), Err(SignatureError::Mismatch), "{}", key.algorithm());
    }
}

#[test]
fn countersignatures_cover_the_signature_they_countersign() {
    let [ed, es, _rs] = <[SigningKey; 3]>::try_from(keys()).ok().unwrap();
    let mut pb = playbook();
    pb.signatures = Some(vec![sign(&pb, &template("author", None), &ed).unwrap()]);
    countersign(&mut pb, 0, &template("reviewer", None), &es).unwrap();
    let sig = pb.signatures.as_ref().unwrap()[0].clone();
    assert_eq!(verify_signature(&pb, &sig), Ok(()), "countersigning keeps the original valid");
    assert_eq!(verify_countersignature(&pb, &sig), Ok(()));
    let mut forged = sig.clone();
    forged.signee = "someone else".into();
    assert_eq!(verify_countersignature(&pb, &forged), Err(SignatureError::Mismatch));
    assert!(countersign(&mut pb, 3, &template("x", None), &es).is_err());
}

#[test]
fn a_trust_policy_requires_a_current_signature_from_a_trusted_key() {
    let [ed, es, _rs] = <[SigningKey; 3]>::try_from(keys()).ok().unwrap();
    let now = time::macros::datetime!(2023-03-01 00:00 UTC);
    let mut pb = playbook();
    pb.signatures = Some(vec![sign(&pb, &template("ACME", Some("2023-06-10T17:39:31.319Z")), &ed).unwrap()]);
    let trusted = TrustPolicy { trusted_keys: vec![ed.public_key().unwrap()] };
    let other = TrustPolicy { trusted_keys: vec![es.public_key().unwrap()] };
    assert_eq!(require_trusted(&pb, &trusted, now), Ok(()));
    assert_eq!(require_trusted(&pb, &other, now), Err(SignatureError::Untrusted));
    let later = time::macros::datetime!(2024-01-01 00:00 UTC);
    assert_eq!(require_trusted(&pb, &trusted, later), Err(SignatureError::Untrusted), "expired");
    let mut tampered = pb.clone();
    tampered.name = "changed".into();
    assert_eq!(require_trusted(&tampered, &trusted, now), Err(SignatureError::Untrusted));
    assert_eq!(require_trusted(&playbook(), &trusted, now), Err(SignatureError::Untrusted), "unsigned");
}
