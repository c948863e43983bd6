//! Relying-party verification against a real HTTPS server on loopback
//! (tokio-rustls, test CA), serving OpenID metadata and a key set.

mod common;

use attesta_token::encoding::pem_encode;
use attesta_token::jwks::{Jwks, openid_metadata};
use attesta_token::jwt::sign_jwt;
use attesta_token::keys::SigningKey;
use attesta_token::rp::verify_with_issuer;
use common::{NOW, ec_key, self_signed};
use rcgen::{CertificateParams, Issuer, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Routes = HashMap<String, (u16, String)>;

struct TestServer {
    issuer: String,
    ca_pem: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate_at("Attesta rp test", NOW).unwrap())
}

/// Start an HTTPS server on 127.0.0.1; `routes` maps a path to (status,
/// body) and is built from the issuer URL once the port is known.
async fn start(routes: impl FnOnce(&str) -> Routes) -> TestServer {
    let ca = self_signed("Attesta RP Test CA", ec_key(), true);
    let server_key = ec_key();
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))];
    // TLS checks validity against the wall clock, not NOW.
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    params.not_before = common::ts(wall - 3600);
    params.not_after = common::ts(wall + 3600);
    let mut ca_params = ca.params.clone();
    ca_params.not_before = common::ts(wall - 3600);
    ca_params.not_after = common::ts(wall + 3600);
    let ca_cert = ca_params.self_signed(&ca.key).unwrap();
    let cert = params
        .signed_by(&server_key, &Issuer::from_params(&ca_params, &ca.key))
        .unwrap();

    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let routes = Arc::new(routes(&issuer));
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let routes = routes.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16384 {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf);
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, body) = routes.get(&path).cloned().unwrap_or((
                    404,
                    r#"{"error":{"code":"NotFound","message":"no route"}}"#.into(),
                ));
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TestServer {
        issuer,
        ca_pem: pem_encode("CERTIFICATE", ca_cert.der()),
        task,
    }
}

fn maa_routes(issuer: &str) -> Routes {
    let jwks = Jwks {
        keys: vec![key().jwk()],
    };
    HashMap::from([
        (
            "/.well-known/openid-configuration".to_string(),
            (
                200,
                serde_json::to_string(&openid_metadata(issuer)).unwrap(),
            ),
        ),
        (
            "/certs".to_string(),
            (200, serde_json::to_string(&jwks).unwrap()),
        ),
    ])
}

fn token_for(iss: &str) -> String {
    let claims = serde_json::json!({"iss": iss, "iat": NOW, "nbf": NOW, "exp": NOW + 600, "x-ms-ver": "1.0", "x-ms-attestation-type": "sgx"});
    sign_jwt(
        key(),
        &format!("{iss}/certs"),
        claims.as_object().unwrap(),
        false,
    )
}

#[tokio::test]
async fn token_verifies_against_the_issuers_published_keys() {
    let srv = start(maa_routes).await;
    let token = token_for(&srv.issuer);
    let v = verify_with_issuer(&token, &srv.issuer, Some(srv.ca_pem.as_bytes()), NOW + 1, 0)
        .await
        .unwrap();
    assert_eq!(v.kid.as_deref(), Some(key().kid()));
    assert_eq!(v.claims["iss"], srv.issuer.as_str());

    // Expired at the given time: the token error comes through with its code.
    let e = verify_with_issuer(
        &token,
        &srv.issuer,
        Some(srv.ca_pem.as_bytes()),
        NOW + 600,
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "TokenExpired");
    // A token for another issuer, served by this one.
    let other = token_for("https://elsewhere.example");
    let e = verify_with_issuer(&other, &srv.issuer, Some(srv.ca_pem.as_bytes()), NOW, 0)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "TokenWrongIssuer");
}

#[tokio::test]
async fn control_plane_reply_tokens_are_not_attestation_results() {
    let srv = start(maa_routes).await;
    let sign = |extra: serde_json::Value| {
        let mut claims =
            serde_json::json!({"iss": srv.issuer, "iat": NOW, "nbf": NOW, "exp": NOW + 600});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        sign_jwt(
            key(),
            &format!("{}/certs", srv.issuer),
            claims.as_object().unwrap(),
            false,
        )
    };
    let ca = Some(srv.ca_pem.as_bytes());
    // A policy GET reply: same issuer, same key, but a management token.
    let reply = sign(serde_json::json!({"x-ms-policy": "e30..", "x-attesta-management": true}));
    let e = verify_with_issuer(&reply, &srv.issuer, ca, NOW, 0)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "TokenNotAnAttestationToken", "{e}");
    // Even with an attestation type forged in, the marker wins.
    let forged =
        sign(serde_json::json!({"x-ms-attestation-type": "sgx", "x-attesta-management": true}));
    let e = verify_with_issuer(&forged, &srv.issuer, ca, NOW, 0)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "TokenNotAnAttestationToken", "{e}");
    // No attestation type at all.
    let bare = sign(serde_json::json!({}));
    let e = verify_with_issuer(&bare, &srv.issuer, ca, NOW, 0)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "TokenNotAnAttestationToken", "{e}");
}

#[tokio::test]
async fn untrusted_tls_certificate_is_refused() {
    let srv = start(maa_routes).await;
    let token = token_for(&srv.issuer);
    let e = verify_with_issuer(&token, &srv.issuer, None, NOW, 0)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "RpHttpFailed", "{e}");
    assert!(
        e.to_string().contains("UnknownIssuer"),
        "a TLS trust failure: {e}"
    );
    let e = verify_with_issuer(&token, &srv.issuer, Some(b"junk"), NOW, 0)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "RpExtraCaInvalid", "{e}");
}

#[tokio::test]
async fn metadata_for_another_issuer_or_foreign_keys_is_refused() {
    let srv = start(|issuer| {
        let mut r = maa_routes(issuer);
        let mut m = openid_metadata(issuer);
        m.issuer = format!("{issuer}/other");
        r.insert(
            "/.well-known/openid-configuration".into(),
            (200, serde_json::to_string(&m).unwrap()),
        );
        r
    })
    .await;
    let e = verify_with_issuer(
        &token_for(&srv.issuer),
        &srv.issuer,
        Some(srv.ca_pem.as_bytes()),
        NOW,
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "RpIssuerMismatch");

    let srv = start(|issuer| {
        let mut r = maa_routes(issuer);
        let mut m = openid_metadata(issuer);
        m.jwks_uri = "https://keys.elsewhere.example/certs".into();
        r.insert(
            "/.well-known/openid-configuration".into(),
            (200, serde_json::to_string(&m).unwrap()),
        );
        r
    })
    .await;
    let e = verify_with_issuer(
        &token_for(&srv.issuer),
        &srv.issuer,
        Some(srv.ca_pem.as_bytes()),
        NOW,
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "RpJwksUriOutsideIssuer");
}

#[tokio::test]
async fn missing_or_garbled_documents_are_reported() {
    let srv = start(|issuer| {
        let mut r = maa_routes(issuer);
        r.remove("/certs");
        r
    })
    .await;
    let e = verify_with_issuer(
        &token_for(&srv.issuer),
        &srv.issuer,
        Some(srv.ca_pem.as_bytes()),
        NOW,
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "RpHttpStatus");

    let srv = start(|issuer| {
        let mut r = maa_routes(issuer);
        r.insert("/certs".into(), (200, "[1,2".into()));
        r
    })
    .await;
    let e = verify_with_issuer(
        &token_for(&srv.issuer),
        &srv.issuer,
        Some(srv.ca_pem.as_bytes()),
        NOW,
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "RpBadDocument");
    // Keys served, but not the one that signed the token.
    let srv = start(|issuer| {
        let mut r = maa_routes(issuer);
        r.insert("/certs".into(), (200, r#"{"keys":[]}"#.into()));
        r
    })
    .await;
    let e = verify_with_issuer(
        &token_for(&srv.issuer),
        &srv.issuer,
        Some(srv.ca_pem.as_bytes()),
        NOW,
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "TokenUnknownKey");
}
