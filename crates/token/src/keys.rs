//! Token-signing keys: one RSA-2048 key with its self-signed certificate
//! ([`SigningKey`]), and the node's set of such keys on disk with rotation
//! ([`KeyRing`]).
//!
//! The private key is parsed once into an aws-lc-rs `RsaKeyPair` and kept:
//! parsing costs about 150 µs, close to the signature itself, so re-parsing
//! per token would halve throughput.
//!
//! The `kid` is base64url (no padding) of SHA-1 over the certificate DER, the
//! x5t-style id MAA gives its CA-issued keys (reference 1.6). It depends only
//! on the certificate, so it is stable across restarts and reloads.
//!
//! Key store layout (one directory, mode 0700):
//! * `manifest.json` — `{"version":1,"keys":[{"kid","created_at","retired_at"}]}`;
//!   exactly one key has `retired_at: null` and is the active key;
//! * `<kid>.key.pem` (PKCS#8, mode 0600) and `<kid>.cert.pem` (mode 0600).
//!
//! Every write goes to a temporary file that is synced and renamed over the
//! target, and the manifest is written last: a crash leaves either the old or
//! the new state (at worst with unreferenced key files). Creating the first
//! key and rotating hold an exclusive lock on `store.lock` in the directory,
//! so processes sharing a store (nodes on one data directory, or `attesta
//! keys rotate` beside a running server) never both rotate from the same
//! state and lose a key.

use crate::crypto::{self, PublicKey};
use crate::encoding::{b64std, b64url, pem_encode};
use crate::error::KeyError;
use crate::jwks::{Jwk, Jwks};
use attesta_evidence::signing_cert::{ATTESTA_OID_PLACEHOLDER_ARCS, substitute_attesta_oid};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Validity given to a generated certificate. Keys are rotated long before
/// this; relying parties that check certificate validity then still accept a
/// key that was never rotated.
const CERT_VALIDITY_SECS: i64 = 10 * 365 * 24 * 3600;
/// Back-dating of `notBefore`, for relying parties with slow clocks.
const CERT_BACKDATE_SECS: i64 = 3600;

/// Extra extensions for a new key's certificate, made from the key's
/// SubjectPublicKeyInfo (DER): a node's TEE evidence bound to the key (see
/// `attesta_evidence::signing_cert`). Each entry is the OID's arcs and the
/// extnValue content; an entry under
/// `attesta_evidence::signing_cert::ATTESTA_OID_PLACEHOLDER_ARCS` is
/// written under Attesta's evidence OID. An error stops the key's creation:
/// a node configured to prove itself never publishes an unproven key.
pub trait CertExtensions: Send + Sync {
    fn extensions(&self, spki_der: &[u8]) -> Result<Vec<Extension>, String>;
}

/// A certificate extension: the OID's arcs and the extnValue content.
pub type Extension = (Vec<u64>, Vec<u8>);

/// An RSA-2048 token-signing key, its self-signed certificate and its `kid`.
pub struct SigningKey {
    key_pair: RsaKeyPair,
    pkcs8_der: Vec<u8>,
    cert_der: Vec<u8>,
    cert_b64: String,
    kid: String,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new key, certificate valid from an hour before the current system
    /// time for ten years.
    pub fn generate(common_name: &str) -> Result<SigningKey, KeyError> {
        Self::generate_at(common_name, unix_now())
    }

    /// A new key whose certificate's validity starts around `now` (Unix
    /// seconds).
    pub fn generate_at(common_name: &str, now: u64) -> Result<SigningKey, KeyError> {
        Self::generate_with(common_name, now, None)
    }

    /// [`Self::generate_at`] with the certificate extensions `ext` makes for
    /// the new key (its TEE evidence).
    pub fn generate_with(
        common_name: &str,
        now: u64,
        ext: Option<&dyn CertExtensions>,
    ) -> Result<SigningKey, KeyError> {
        let key_pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| KeyError::Generate("RSA-2048 key generation failed".into()))?;
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key_pair)
            .map_err(|_| KeyError::Generate("PKCS#8 encoding failed".into()))?
            .as_ref()
            .to_vec();
        let cert_der = self_signed_certificate(&pkcs8, common_name, now, ext)?;
        Self::from_der(&pkcs8, &cert_der)
    }

    /// A key from PKCS#8 DER and its certificate's DER. The certificate must
    /// carry the key's public key.
    pub fn from_der(key_pkcs8_der: &[u8], cert_der: &[u8]) -> Result<SigningKey, KeyError> {
        let key_pair = RsaKeyPair::from_pkcs8(key_pkcs8_der)
            .map_err(|e| KeyError::UnsupportedKey(format!("not an RSA PKCS#8 key ({e})")))?;
        if key_pair.public_modulus_len() < 256 {
            return Err(KeyError::UnsupportedKey(format!(
                "RSA key of {} bits",
                key_pair.public_modulus_len() * 8
            )));
        }
        match crypto::certificate_public_key(cert_der).map_err(KeyError::Certificate)? {
            PublicKey::Rsa(k) if k == key_pair.public_key().as_ref() => {}
            _ => return Err(KeyError::KeyCertificateMismatch),
        }
        Ok(SigningKey {
            kid: b64url(&crypto::sha1(cert_der)),
            cert_b64: b64std(cert_der),
            key_pair,
            pkcs8_der: key_pkcs8_der.to_vec(),
            cert_der: cert_der.to_vec(),
            rng: SystemRandom::new(),
        })
    }

    /// A key from PEM texts: PKCS#8 `PRIVATE KEY` and `CERTIFICATE` (the
    /// first certificate of the text is the key's).
    pub fn from_pem(key_pkcs8_pem: &str, cert_pem: &str) -> Result<SigningKey, KeyError> {
        let key = pem_block(key_pkcs8_pem, "private key", "PRIVATE KEY")?;
        let cert = pem_block(cert_pem, "certificate", "CERTIFICATE")?;
        Self::from_der(&key, &cert)
    }

    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.pkcs8_der)
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert_der)
    }

    /// Key id: base64url(SHA-1(certificate DER)), no padding.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The certificate as an `x5c` entry (standard base64 DER).
    pub fn cert_b64(&self) -> &str {
        &self.cert_b64
    }

    /// The private key, PKCS#8 DER.
    pub fn key_pkcs8_der(&self) -> &[u8] {
        &self.pkcs8_der
    }

    /// The key as published in `/certs`: `kid`, `kty: RSA`, `n`, `e`,
    /// `alg: RS256`, `use: sig` and `x5c: [cert]`.
    pub fn jwk(&self) -> Jwk {
        let public = self.key_pair.public_key();
        Jwk {
            alg: Some("RS256".into()),
            e: Some(b64url(public.exponent().big_endian_without_leading_zero())),
            kid: Some(self.kid.clone()),
            kty: "RSA".into(),
            n: Some(b64url(public.modulus().big_endian_without_leading_zero())),
            use_: Some("sig".into()),
            x5c: vec![self.cert_b64.clone()],
            ..Default::default()
        }
    }

    /// RSASSA-PKCS1-v1_5 / SHA-256 signature of `msg` (RS256).
    pub fn sign_rs256(&self, msg: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.key_pair.public_modulus_len()];
        // The buffer has the modulus length and the key was validated when
        // parsed; aws-lc-rs fails only on a wrong buffer size or a broken
        // system RNG, neither of which input can cause.
        self.key_pair
            .sign(&signature::RSA_PKCS1_SHA256, &self.rng, msg, &mut sig)
            .expect("RSA signing with a validated key and modulus-sized buffer");
        sig
    }
}

fn self_signed_certificate(
    pkcs8: &[u8],
    common_name: &str,
    now: u64,
    ext: Option<&dyn CertExtensions>,
) -> Result<Vec<u8>, KeyError> {
    let gen_err = |e: rcgen::Error| KeyError::Generate(format!("self-signed certificate: {e}"));
    let rc_key = rcgen::KeyPair::try_from(pkcs8).map_err(gen_err)?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let now = i64::try_from(now).unwrap_or(i64::MAX / 2);
    let ts = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map_err(|e| KeyError::Generate(format!("certificate validity time {t}: {e}")))
    };
    params.not_before = ts(now.saturating_sub(CERT_BACKDATE_SECS))?;
    params.not_after = ts(now.saturating_add(CERT_VALIDITY_SECS))?;
    let mut serial = [0u8; 16];
    SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| KeyError::Generate("random serial number".into()))?;
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let mut placeholder = false;
    if let Some(ext) = ext {
        let spki = rcgen::PublicKeyData::subject_public_key_info(&rc_key);
        for (oid, value) in ext.extensions(&spki).map_err(KeyError::Evidence)? {
            placeholder |= oid == ATTESTA_OID_PLACEHOLDER_ARCS;
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(&oid, value));
        }
    }
    let cert = params.self_signed(&rc_key).map_err(gen_err)?;
    if !placeholder {
        return Ok(cert.der().to_vec());
    }
    // rcgen takes 64-bit arcs only; Attesta's OID (2.25.<UUID>) is swapped
    // in afterwards and the certificate signed again with the same key.
    let key_pair = RsaKeyPair::from_pkcs8(pkcs8)
        .map_err(|e| KeyError::Generate(format!("re-reading the new key: {e}")))?;
    let mut failed = false;
    let der = substitute_attesta_oid(cert.der(), |tbs| {
        let mut sig = vec![0u8; key_pair.public_modulus_len()];
        if key_pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                tbs,
                &mut sig,
            )
            .is_err()
        {
            failed = true;
        }
        sig
    })
    .map_err(|e| KeyError::Generate(format!("certificate evidence extension: {e}")))?;
    if failed {
        return Err(KeyError::Generate("signing the certificate failed".into()));
    }
    Ok(der)
}

/// The first PEM block of `text`, which must carry `label`.
fn pem_block(text: &str, what: &'static str, label: &str) -> Result<Vec<u8>, KeyError> {
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(text.as_bytes()).map_err(|e| KeyError::Pem {
            what,
            reason: format!("no PEM block found ({e})"),
        })?;
    if pem.label != label {
        let hint = if pem.label == "RSA PRIVATE KEY" {
            "; convert PKCS#1 to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt`"
        } else {
            ""
        };
        return Err(KeyError::Pem {
            what,
            reason: format!("found \"{}\", expected \"{label}\"{hint}", pem.label),
        });
    }
    Ok(pem.contents)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

const MANIFEST: &str = "manifest.json";
const LOCK_FILE: &str = "store.lock";
const MANIFEST_VERSION: u32 = 1;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
struct ManifestKey {
    kid: String,
    created_at: u64,
    retired_at: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct Manifest {
    version: u32,
    keys: Vec<ManifestKey>,
}

struct Entry {
    meta: ManifestKey,
    key: Arc<SigningKey>,
}

/// The `/certs` entry of a signing certificate another node published
/// (only its certificate is shared, never the key): the same fields as
/// [`SigningKey::jwk`], read from the certificate. Only RSA certificates,
/// which are all Attesta makes, are accepted.
pub fn jwk_for_certificate(cert_der: &[u8]) -> Result<Jwk, KeyError> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    use x509_parser::public_key::PublicKey as X509Key;
    let bad = |why: &str| KeyError::Certificate(format!("published certificate: {why}"));
    let (rest, cert) = X509Certificate::from_der(cert_der).map_err(|e| bad(&e.to_string()))?;
    if !rest.is_empty() {
        return Err(bad("trailing bytes after the certificate"));
    }
    let strip = |b: &[u8]| -> Vec<u8> {
        let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        b[start..].to_vec()
    };
    match cert.public_key().parsed() {
        Ok(X509Key::RSA(rsa)) => Ok(Jwk {
            alg: Some("RS256".into()),
            e: Some(b64url(&strip(rsa.exponent))),
            kid: Some(b64url(&crypto::sha1(cert_der))),
            kty: "RSA".into(),
            n: Some(b64url(&strip(rsa.modulus))),
            use_: Some("sig".into()),
            x5c: vec![b64std(cert_der)],
            ..Default::default()
        }),
        _ => Err(bad("not an RSA key")),
    }
}

/// A published key of a ring with its times (Unix seconds), as the store
/// records it for other nodes.
#[derive(Debug, Clone)]
pub struct PublishedEntry {
    pub key: Arc<SigningKey>,
    pub created_at: u64,
    /// `None` for the active key.
    pub retired_at: Option<u64>,
}

/// The node's token-signing keys, persisted in a directory.
pub struct KeyRing {
    dir: PathBuf,
    common_name: String,
    overlap_secs: u64,
    /// Manifest order (oldest first); exactly one entry is active.
    entries: Vec<Entry>,
    /// The entry with `retired_at: None`.
    active: Arc<SigningKey>,
    /// Certificate extensions for keys this ring makes (TEE evidence).
    extensions: Option<Arc<dyn CertExtensions>>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("dir", &self.dir)
            .field("overlap_secs", &self.overlap_secs)
            .field(
                "kids",
                &self.entries.iter().map(|e| &e.meta).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyRing {
    /// Open the key store in `dir`, creating the directory (0700) and a first
    /// key when there is no manifest yet. Retired keys stay published for
    /// `overlap_secs` after their retirement.
    pub fn load_or_create(
        dir: &Path,
        common_name: &str,
        overlap_secs: u64,
        now: u64,
    ) -> Result<KeyRing, KeyError> {
        Self::load_or_create_with(dir, common_name, overlap_secs, now, None)
    }

    /// [`Self::load_or_create`] whose new keys (the first, and every
    /// rotation's) carry the certificate extensions `ext` makes.
    pub fn load_or_create_with(
        dir: &Path,
        common_name: &str,
        overlap_secs: u64,
        now: u64,
        ext: Option<Arc<dyn CertExtensions>>,
    ) -> Result<KeyRing, KeyError> {
        create_private_dir(dir)?;
        // Another process may be creating the first key right now.
        let _lock = lock_store(dir)?;
        if dir.join(MANIFEST).exists() {
            let (entries, active) = read_store(dir, &[])?;
            return Ok(KeyRing {
                dir: dir.to_path_buf(),
                common_name: common_name.to_string(),
                overlap_secs,
                entries,
                active,
                extensions: ext,
            });
        }
        let key = Arc::new(SigningKey::generate_with(common_name, now, ext.as_deref())?);
        let ring = KeyRing {
            dir: dir.to_path_buf(),
            common_name: common_name.to_string(),
            overlap_secs,
            entries: vec![Entry {
                meta: ManifestKey {
                    kid: key.kid().to_string(),
                    created_at: now,
                    retired_at: None,
                },
                key: key.clone(),
            }],
            active: key,
            extensions: ext,
        };
        write_key_files(dir, &ring.active)?;
        ring.write_manifest()?;
        Ok(ring)
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> Arc<SigningKey> {
        self.active.clone()
    }

    /// When the active key was created (Unix seconds), for key-age metrics
    /// and rotation alerts.
    pub fn active_created_at(&self) -> u64 {
        self.entries
            .iter()
            .find(|e| e.meta.retired_at.is_none())
            .map_or(0, |e| e.meta.created_at)
    }

    /// The key with this `kid`, active or retired (published or not).
    pub fn get(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.entries
            .iter()
            .find(|e| e.meta.kid == kid)
            .map(|e| e.key.clone())
    }

    /// Make a new active key; the previous one is retired at `now` and stays
    /// published for the overlap. Retired keys past their overlap are removed
    /// from the store. Picks up changes made by another process first.
    pub fn rotate(&mut self, now: u64) -> Result<Arc<SigningKey>, KeyError> {
        // Held until the manifest is written: a second rotator waits, then
        // reloads and retires the key this one made.
        let _lock = lock_store(&self.dir)?;
        self.reload()?;
        let key = Arc::new(SigningKey::generate_with(
            &self.common_name,
            now,
            self.extensions.as_deref(),
        )?);
        write_key_files(&self.dir, &key)?;
        for e in &mut self.entries {
            if e.meta.retired_at.is_none() {
                e.meta.retired_at = Some(now);
            }
        }
        let overlap = self.overlap_secs;
        let (keep, drop): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| match e.meta.retired_at {
                Some(r) => r.saturating_add(overlap) > now,
                None => true,
            });
        self.entries = keep;
        self.entries.push(Entry {
            meta: ManifestKey {
                kid: key.kid().to_string(),
                created_at: now,
                retired_at: None,
            },
            key: key.clone(),
        });
        self.active = key.clone();
        self.write_manifest()?;
        // Only after the manifest no longer names them. A failure here leaves
        // unreferenced files, which is harmless.
        for e in drop {
            let _ = fs::remove_file(key_path(&self.dir, &e.meta.kid));
            let _ = fs::remove_file(cert_path(&self.dir, &e.meta.kid));
        }
        Ok(key)
    }

    /// Keys to publish at `now`: the active key first, then retired keys
    /// still inside their overlap window, most recently retired first.
    pub fn published(&self, now: u64) -> Vec<Arc<SigningKey>> {
        let mut retired: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| {
                e.meta
                    .retired_at
                    .is_some_and(|r| r.saturating_add(self.overlap_secs) > now)
            })
            .collect();
        retired.sort_by_key(|e| std::cmp::Reverse(e.meta.retired_at));
        let mut out = vec![self.active()];
        out.extend(retired.into_iter().map(|e| e.key.clone()));
        out
    }

    /// [`Self::published`] with each key's creation and retirement times.
    pub fn published_entries(&self, now: u64) -> Vec<PublishedEntry> {
        let kids: Vec<String> = self
            .published(now)
            .iter()
            .map(|k| k.kid().to_string())
            .collect();
        kids.iter()
            .filter_map(|kid| self.entries.iter().find(|e| &e.meta.kid == kid))
            .map(|e| PublishedEntry {
                key: e.key.clone(),
                created_at: e.meta.created_at,
                retired_at: e.meta.retired_at,
            })
            .collect()
    }

    /// The `/certs` document at `now`.
    pub fn jwks(&self, now: u64) -> Jwks {
        Jwks {
            keys: self.published(now).iter().map(|k| k.jwk()).collect(),
        }
    }

    /// Re-read the store (another process may have rotated). Keys already
    /// loaded are kept, not re-parsed. On error the ring is unchanged.
    pub fn reload(&mut self) -> Result<(), KeyError> {
        let (entries, active) = read_store(&self.dir, &self.entries)?;
        self.entries = entries;
        self.active = active;
        Ok(())
    }

    fn write_manifest(&self) -> Result<(), KeyError> {
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            keys: self.entries.iter().map(|e| e.meta.clone()).collect(),
        };
        let mut text = serde_json::to_vec_pretty(&manifest).map_err(|e| KeyError::Manifest {
            path: self.dir.join(MANIFEST),
            reason: format!("could not serialise: {e}"),
        })?;
        text.push(b'\n');
        write_atomic(&self.dir.join(MANIFEST), &text)
    }
}

/// Read the manifest and the keys it lists; keys already in `loaded` are
/// reused rather than re-parsed. Returns the entries and the active key.
fn read_store(dir: &Path, loaded: &[Entry]) -> Result<(Vec<Entry>, Arc<SigningKey>), KeyError> {
    let path = dir.join(MANIFEST);
    let bad = |reason: String| KeyError::Manifest {
        path: path.clone(),
        reason,
    };
    let text = fs::read(&path).map_err(io_err("read", &path))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| bad(format!("not the manifest JSON: {e}")))?;
    if manifest.version != MANIFEST_VERSION {
        return Err(bad(format!(
            "version {} (this build reads version {MANIFEST_VERSION})",
            manifest.version
        )));
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(manifest.keys.len());
    let mut active = None;
    for meta in manifest.keys {
        if !is_kid_safe(&meta.kid) {
            return Err(bad(format!("kid {:?} is not base64url", meta.kid)));
        }
        if entries.iter().any(|e| e.meta.kid == meta.kid) {
            return Err(bad(format!("kid {} is listed twice", meta.kid)));
        }
        let key = match loaded.iter().find(|e| e.meta.kid == meta.kid) {
            Some(e) => e.key.clone(),
            None => Arc::new(read_key(dir, &meta.kid)?),
        };
        if key.kid() != meta.kid {
            return Err(bad(format!(
                "files for kid {} hold the certificate of kid {}",
                meta.kid,
                key.kid()
            )));
        }
        if meta.retired_at.is_none() {
            if active.is_some() {
                return Err(bad("more than one key has retired_at null".into()));
            }
            active = Some(key.clone());
        }
        entries.push(Entry { meta, key });
    }
    let active =
        active.ok_or_else(|| bad("no active key (one must have retired_at null)".into()))?;
    Ok((entries, active))
}

fn key_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.key.pem"))
}

fn cert_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.cert.pem"))
}

fn read_key(dir: &Path, kid: &str) -> Result<SigningKey, KeyError> {
    let kp = key_path(dir, kid);
    check_private_mode(&kp)?;
    let read = |p: &Path| fs::read_to_string(p).map_err(io_err("read", p));
    SigningKey::from_pem(&read(&kp)?, &read(&cert_path(dir, kid))?)
}

fn write_key_files(dir: &Path, key: &SigningKey) -> Result<(), KeyError> {
    write_atomic(&key_path(dir, key.kid()), key.key_pem().as_bytes())?;
    write_atomic(&cert_path(dir, key.kid()), key.cert_pem().as_bytes())
}

fn is_kid_safe(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 128
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> KeyError + 'a {
    move |source| KeyError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The store's exclusive lock (released when the returned file is dropped).
fn lock_store(dir: &Path) -> Result<fs::File, KeyError> {
    let path = dir.join(LOCK_FILE);
    let mut options = fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path).map_err(io_err("open lock", &path))?;
    file.lock().map_err(io_err("lock", &path))?;
    Ok(file)
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_err("create directory", dir))
}

fn check_private_mode(path: &Path) -> Result<(), KeyError> {
    let meta = fs::metadata(path).map_err(io_err("stat", path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::InsecurePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

/// Write `data` to `path` through a synced temporary file (mode 0600) renamed
/// over it, then sync the directory so the rename itself is durable.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), KeyError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut nonce = [0u8; 8];
    let _ = SystemRandom::new().fill(&mut nonce);
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(nonce)));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts.open(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(data).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("sync", &tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io_err("rename into place", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod jwk_tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// Another node's certificate yields the very JWK its owner publishes.
    #[test]
    fn a_published_certificate_gives_the_owners_jwk() {
        let key = SigningKey::generate("https://node-a.example").unwrap();
        assert_eq!(jwk_for_certificate(key.cert_der()).unwrap(), key.jwk());
        let mut long = key.cert_der().to_vec();
        long.push(0);
        assert!(matches!(
            jwk_for_certificate(&long),
            Err(KeyError::Certificate(m)) if m.contains("trailing")
        ));
        assert!(jwk_for_certificate(b"not a certificate").is_err());
    }

    /// The raw key in `n`/`e` is the certificate's key, so a library that
    /// reads only `n`/`e` and one that reads only `x5c` verify alike.
    #[test]
    fn published_jwk_carries_the_certificates_rsa_key() {
        let key = SigningKey::generate("https://jwk.example").unwrap();
        let jwk = key.jwk();
        assert_eq!(jwk.kty, "RSA");
        assert_eq!(jwk.alg.as_deref(), Some("RS256"));
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        let (_, cert) = x509_parser::parse_x509_certificate(key.cert_der()).unwrap();
        let x509_parser::public_key::PublicKey::RSA(rsa) = cert.public_key().parsed().unwrap()
        else {
            panic!("not an RSA certificate")
        };
        let strip = |b: &[u8]| -> Vec<u8> {
            let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
            b[i..].to_vec()
        };
        let n = URL_SAFE_NO_PAD.decode(jwk.n.unwrap()).unwrap();
        let e = URL_SAFE_NO_PAD.decode(jwk.e.unwrap()).unwrap();
        assert_eq!(n.len(), 256, "RSA-2048 modulus without a leading zero");
        assert_eq!(n, strip(rsa.modulus));
        assert_eq!(e, strip(rsa.exponent));
        assert_eq!(e, vec![1, 0, 1]);
    }
}
