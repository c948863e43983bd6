//! Signing keys and the on-disk key ring: PEM round trips, kid stability,
//! persistence, permissions, rotation with overlap, reload and refusal of
//! damaged stores.

mod common;

use attesta_token::jwt::{VerifyOptions, sign_jwt, verify_jwt};
use attesta_token::keys::{KeyRing, SigningKey};
use common::NOW;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const CN: &str = "Attesta test node";
const OVERLAP: u64 = 3600;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn signing_key_pem_round_trip_keeps_kid_and_signs() {
    let k = SigningKey::generate_at(CN, NOW).unwrap();
    assert_eq!(k.kid().len(), 27, "base64url of 20 bytes, no padding");
    assert!(
        k.kid()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let again = SigningKey::from_pem(&k.key_pem(), &k.cert_pem()).unwrap();
    assert_eq!(again.kid(), k.kid());
    assert_eq!(again.cert_der(), k.cert_der());
    let jwk = again.jwk();
    assert_eq!(jwk.kid.as_deref(), Some(k.kid()));
    assert_eq!(jwk.kty, "RSA");
    assert_eq!(jwk.x5c, vec![k.cert_b64().to_string()]);
    assert_eq!(
        serde_json::to_value(&jwk)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["alg", "e", "kid", "kty", "n", "use", "x5c"]
    );
    assert_eq!(jwk.alg.as_deref(), Some("RS256"));
    assert_eq!(jwk.use_.as_deref(), Some("sig"));
    // Certificate is self-signed with the CN and a validity around NOW.
    let (_, cert) = x509_parser::parse_x509_certificate(k.cert_der()).unwrap();
    assert_eq!(cert.subject().to_string(), format!("CN={CN}"));
    assert!(
        cert.validity()
            .is_valid_at(x509_parser::time::ASN1Time::from_timestamp(NOW as i64).unwrap())
    );
    assert!(cert.verify_signature(None).is_ok());
}

#[test]
fn key_and_certificate_must_match() {
    let a = SigningKey::generate_at(CN, NOW).unwrap();
    let b = SigningKey::generate_at(CN, NOW).unwrap();
    let e = SigningKey::from_pem(&a.key_pem(), &b.cert_pem()).unwrap_err();
    assert_eq!(e.code(), "KeyCertificateMismatch");
    let e = SigningKey::from_pem(&a.cert_pem(), &a.cert_pem()).unwrap_err();
    assert_eq!(e.code(), "KeyPemInvalid");
    let e = SigningKey::from_pem("not pem", &a.cert_pem()).unwrap_err();
    assert_eq!(e.code(), "KeyPemInvalid");
    // An EC key is not a token-signing key.
    let ec = common::self_signed("ec", common::ec_key(), false);
    let e = SigningKey::from_der(&ec.key_der(), &ec.cert_der).unwrap_err();
    assert_eq!(e.code(), "KeyUnsupported");
}

#[test]
fn key_ring_persists_with_private_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let ring = KeyRing::load_or_create(&dir, CN, OVERLAP, NOW).unwrap();
    let kid = ring.active().kid().to_string();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(format!("{kid}.key.pem"))), 0o600);
    assert_eq!(mode(&dir.join(format!("{kid}.cert.pem"))), 0o600);
    assert_eq!(mode(&dir.join("manifest.json")), 0o600);
    assert_eq!(mode(&dir.join("store.lock")), 0o600);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["keys"][0]["kid"], kid.as_str());
    assert_eq!(manifest["keys"][0]["created_at"], NOW);
    assert!(manifest["keys"][0]["retired_at"].is_null());
    // No temporary files left behind: the manifest, the key, its
    // certificate and the (empty) lock file.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");

    let again = KeyRing::load_or_create(&dir, CN, OVERLAP, NOW + 100).unwrap();
    assert_eq!(again.active().kid(), kid);
    assert_eq!(again.active().cert_der(), ring.active().cert_der());
    // A token from the first instance verifies with the second's key set.
    let claims = serde_json::json!({"exp": NOW + 60})
        .as_object()
        .unwrap()
        .clone();
    let token = sign_jwt(&ring.active(), "https://x/certs", &claims, false);
    let opts = VerifyOptions {
        issuer: None,
        now: NOW,
        leeway_secs: 0,
    };
    assert!(verify_jwt(&token, &again.jwks(NOW), &opts).is_ok());
}

#[test]
fn rotation_keeps_the_old_key_published_for_the_overlap_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut ring = KeyRing::load_or_create(dir, CN, OVERLAP, NOW).unwrap();
    let old = ring.active();
    let new = ring.rotate(NOW + 1000).unwrap();
    assert_ne!(old.kid(), new.kid());
    assert_eq!(ring.active().kid(), new.kid());

    let kids = |ring: &KeyRing, now: u64| -> Vec<String> {
        ring.published(now)
            .iter()
            .map(|k| k.kid().to_string())
            .collect()
    };
    assert_eq!(kids(&ring, NOW + 1000), [new.kid(), old.kid()]);
    assert_eq!(
        kids(&ring, NOW + 1000 + OVERLAP - 1),
        [new.kid(), old.kid()]
    );
    assert_eq!(kids(&ring, NOW + 1000 + OVERLAP), [new.kid()]);
    let jwks = ring.jwks(NOW + 1001);
    assert_eq!(jwks.keys.len(), 2);
    assert_eq!(jwks.keys[0].kid.as_deref(), Some(new.kid()));

    // A token signed by the old key still verifies during the overlap, and
    // no longer after it.
    let claims = serde_json::json!({"exp": NOW + 100_000})
        .as_object()
        .unwrap()
        .clone();
    let token = sign_jwt(&old, "https://x/certs", &claims, false);
    let opts = VerifyOptions {
        issuer: None,
        now: NOW + 1500,
        leeway_secs: 0,
    };
    assert!(verify_jwt(&token, &ring.jwks(NOW + 1500), &opts).is_ok());
    let e = verify_jwt(&token, &ring.jwks(NOW + 1000 + OVERLAP), &opts).unwrap_err();
    assert_eq!(e.code(), "TokenUnknownKey");

    // Persisted: a fresh load sees the same state.
    let loaded = KeyRing::load_or_create(dir, CN, OVERLAP, NOW + 2000).unwrap();
    assert_eq!(kids(&loaded, NOW + 2000), [new.kid(), old.kid()]);

    // A rotation after the overlap drops the expired key from the store.
    let newest = ring.rotate(NOW + 1000 + OVERLAP + 10).unwrap();
    assert_eq!(
        kids(&ring, NOW + 1000 + OVERLAP + 10),
        [newest.kid(), new.kid()]
    );
    assert!(!dir.join(format!("{}.key.pem", old.kid())).exists());
    assert!(dir.join(format!("{}.key.pem", new.kid())).exists());
}

#[test]
fn reload_sees_another_process_rotation_and_keeps_kids_stable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = KeyRing::load_or_create(tmp.path(), CN, OVERLAP, NOW).unwrap();
    let first = server.active();
    let mut admin = KeyRing::load_or_create(tmp.path(), CN, OVERLAP, NOW).unwrap();
    assert_eq!(admin.active().kid(), first.kid());
    let rotated = admin.rotate(NOW + 10).unwrap();
    assert_eq!(server.active().kid(), first.kid(), "no reload yet");
    server.reload().unwrap();
    assert_eq!(server.active().kid(), rotated.kid());
    // The key already loaded was reused, not re-read.
    assert!(std::sync::Arc::ptr_eq(
        &server.get(first.kid()).unwrap(),
        &first
    ));
    assert_eq!(server.published(NOW + 10).len(), 2);
}

#[test]
fn damaged_stores_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ring = KeyRing::load_or_create(dir, CN, OVERLAP, NOW).unwrap();
    let kid = ring.active().kid().to_string();
    let key_file = dir.join(format!("{kid}.key.pem"));

    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = KeyRing::load_or_create(dir, CN, OVERLAP, NOW).unwrap_err();
    assert_eq!(e.code(), "KeyFileInsecurePermissions");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    let manifest = dir.join("manifest.json");
    let good = std::fs::read_to_string(&manifest).unwrap();
    for (bad, why) in [
        (good.replace("null", "5"), "no active key"),
        (
            good.replace(&kid, "../../etc/passwd"),
            "kid with path characters",
        ),
        (
            good.replace("\"version\": 1", "\"version\": 9"),
            "unknown version",
        ),
        ("{".to_string(), "not JSON"),
    ] {
        std::fs::write(&manifest, &bad).unwrap();
        let e = KeyRing::load_or_create(dir, CN, OVERLAP, NOW).unwrap_err();
        assert_eq!(e.code(), "KeyManifestInvalid", "{why}: {e}");
    }
    // A kid whose files hold another key's certificate.
    let other = SigningKey::generate_at(CN, NOW).unwrap();
    std::fs::write(&manifest, &good).unwrap();
    std::fs::write(dir.join(format!("{kid}.cert.pem")), other.cert_pem()).unwrap();
    std::fs::write(&key_file, other.key_pem()).unwrap();
    let e = KeyRing::load_or_create(dir, CN, OVERLAP, NOW).unwrap_err();
    assert_eq!(e.code(), "KeyManifestInvalid");
}

#[test]
fn keys_and_ring_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SigningKey>();
    send_sync::<KeyRing>();
    fn send<T: Send>(_: &T) {}
    // The relying-party future can be spawned on a multi-threaded runtime.
    let fut = attesta_token::rp::verify_with_issuer("t", "https://a.example", None, NOW, 0);
    send(&fut);
}

/// Rotators sharing one store (separate handles, as separate processes
/// would have) take turns: every rotation's key survives, none is lost to a
/// rotator that started from the same manifest, and exactly one is active.
#[test]
fn concurrent_rotations_of_one_store_lose_no_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let first = KeyRing::load_or_create(&dir, "attesta", 86_400, 1_000)
        .unwrap()
        .active()
        .kid()
        .to_string();
    let rotators = 4;
    let made: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..rotators)
            .map(|i| {
                let dir = dir.clone();
                s.spawn(move || {
                    let mut ring = KeyRing::load_or_create(&dir, "attesta", 86_400, 1_000).unwrap();
                    ring.rotate(2_000 + i).unwrap().kid().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ring = KeyRing::load_or_create(&dir, "attesta", 86_400, 3_000).unwrap();
    for kid in made.iter().chain([&first]) {
        assert!(ring.get(kid).is_some(), "key {kid} was lost");
    }
    let published = ring.published(3_000);
    assert_eq!(published.len(), rotators as usize + 1);
    assert!(made.contains(&published[0].kid().to_string()));
}
