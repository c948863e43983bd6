//! TLS to PostgreSQL through rustls, against a real server that takes TCP
//! connections to the test database only over TLS (`pgtest::start_tls`):
//! the store connects and works with the database CA in `store.ca_file`
//! (libpq's `sslmode=verify-full` is accepted and means what it says);
//! without TLS the server refuses it; with another CA, or a host name the
//! certificate does not name, the store refuses the server.

use std::time::Duration;

use attesta_store::pgtest::TempPostgres;
use attesta_store::{OpenOptions, PgOptions, open_url};

/// A CA and a server certificate it issued for 127.0.0.1; PEM texts.
fn ca_and_server() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "database CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

async fn open(url: &str, ca_file: &std::path::Path) -> Result<(), String> {
    let store = open_url(&OpenOptions {
        url: url.to_string(),
        migrate: true,
        pg: PgOptions {
            ca_file: Some(ca_file.to_path_buf()),
            op_timeout: Duration::from_secs(5),
            ..PgOptions::default()
        },
    })
    .await
    .map_err(|e| e.to_string())?;
    store.list_providers().await.map_err(|e| e.to_string())?;
    Ok(())
}

#[tokio::test]
async fn the_store_talks_to_postgresql_over_verified_tls() {
    let (ca, cert, key) = ca_and_server();
    let pg = TempPostgres::start_tls(&cert, &key).expect("PostgreSQL with TLS");
    let url = pg.database().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("db-ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let (other_ca, _, _) = ca_and_server();
    let other_ca_file = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca_file, &other_ca).unwrap();

    // The server takes this database only over TLS, so a working store
    // proves the connection was encrypted (and verified).
    open(&format!("{url}?sslmode=verify-full"), &ca_file)
        .await
        .expect("verify-full with the database CA");
    open(&format!("{url}?sslmode=require"), &ca_file)
        .await
        .expect("require with the database CA");

    let e = open(&format!("{url}?sslmode=disable"), &ca_file)
        .await
        .unwrap_err();
    assert!(e.contains("no encryption") || e.contains("pg_hba"), "{e}");

    let e = open(&format!("{url}?sslmode=require"), &other_ca_file)
        .await
        .unwrap_err();
    assert!(e.to_lowercase().contains("certificate"), "{e}");

    // The certificate names 127.0.0.1, not localhost.
    let by_name = url.replace("127.0.0.1", "localhost");
    let e = open(&format!("{by_name}?sslmode=verify-full"), &ca_file)
        .await
        .unwrap_err();
    assert!(e.to_lowercase().contains("certificate"), "{e}");
}
