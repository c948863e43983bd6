//! PcsClient against a real PCS v4-compatible HTTP(S) server on loopback
//! serving real Intel collateral from the shared vectors.

mod common;

use attesta_collateral::TcbUpdate;
use attesta_collateral::{
    CollateralError, CollateralSource, DcapTee, PckCa, PcsClient, PcsClientOptions, import_dir,
};
use common::{
    Fixture, FixtureOptions, Mode, PCK_CRL_PATH, ROOT_CRL_DP_PATH, ROOT_CRL_PATH, vector_dir,
};

fn client(f: &Fixture) -> PcsClient {
    PcsClient::new(PcsClientOptions::new(&f.base_url)).unwrap()
}

async fn assert_fetch_exact(rel: &str, want_tee: DcapTee, want_fmspc: &str, want_ca: PckCa) {
    let f = Fixture::start(rel).await;
    assert_eq!(
        (f.tee, f.fmspc.as_str(), f.ca),
        (want_tee, want_fmspc, want_ca)
    );
    let got = client(&f).fetch(f.tee, &f.fmspc, f.ca).await.unwrap();
    let text = |n: &str| String::from_utf8(f.file(n)).unwrap();
    assert_eq!(got.tcb_info_json, text("tcb_info.json"));
    assert_eq!(got.tcb_info_issuer_chain, text("tcb_info_issuer_chain.pem"));
    assert_eq!(got.qe_identity_json, text("qe_identity.json"));
    assert_eq!(
        got.qe_identity_issuer_chain,
        text("qe_identity_issuer_chain.pem")
    );
    assert_eq!(got.pck_crl, f.file("pck_crl.der"));
    assert_eq!(got.pck_crl_issuer_chain, text("pck_crl_issuer_chain.pem"));
    assert_eq!(got.root_ca_crl, f.file("root_ca_crl.der"));
    assert_eq!(got, import_dir(&vector_dir(rel)).unwrap());
    for path in [
        f.tcb_path(),
        f.qe_path(),
        PCK_CRL_PATH.into(),
        ROOT_CRL_PATH.into(),
    ] {
        assert_eq!(f.count(&path), 1, "{path}");
    }
    assert_eq!(f.total(), 4);
    f.stop().await;
}

#[tokio::test]
async fn fetch_assembles_exactly_the_files_bytes_sgx() {
    assert_fetch_exact(
        "sgx/dcap-qvl-sgx-v3",
        DcapTee::Sgx,
        "00A067110000",
        PckCa::Processor,
    )
    .await;
}

#[tokio::test]
async fn fetch_assembles_exactly_the_files_bytes_tdx() {
    assert_fetch_exact(
        "tdx/automata-tdx-v4",
        DcapTee::Tdx,
        "00806F050000",
        PckCa::Platform,
    )
    .await;
}

#[tokio::test]
async fn lowercase_fmspc_is_requested_uppercase_and_accepted() {
    let f = Fixture::start("tdx/dcap-qvl-tdx-v4").await;
    let got = client(&f)
        .fetch(f.tee, &f.fmspc.to_ascii_lowercase(), f.ca)
        .await
        .unwrap();
    assert_eq!(got.pck_crl, f.file("pck_crl.der"));
    f.stop().await;
}

#[tokio::test]
async fn pccs_hex_root_ca_crl_is_decoded_to_der() {
    let f = Fixture::start_with(
        "sgx/mobilecoin-attestation-sgx-v3",
        FixtureOptions {
            root_crl_hex: true,
            ..Default::default()
        },
    )
    .await;
    let der = client(&f).fetch_root_ca_crl().await.unwrap();
    assert_eq!(der, f.file("root_ca_crl.der"));
    f.stop().await;
}

#[tokio::test]
async fn unknown_fmspc_is_not_found() {
    let f = Fixture::start("sgx/dcap-qvl-sgx-v3").await;
    let err = client(&f)
        .fetch_tcb_info(DcapTee::Sgx, "112233445566")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NotFound");
    match &err {
        CollateralError::NotFound { url } => {
            assert!(
                url.ends_with("/sgx/certification/v4/tcb?fmspc=112233445566"),
                "{url}"
            )
        }
        other => panic!("unexpected {other:?}"),
    }
    // The whole fetch fails with the same typed error.
    let err = client(&f)
        .fetch(DcapTee::Sgx, "112233445566", PckCa::Processor)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NotFound");
    f.stop().await;
}

#[tokio::test]
async fn http_404_and_500_are_typed() {
    let f = Fixture::start("sgx/dcap-qvl-sgx-v3").await;
    f.set_mode(Mode::Status(404));
    let err = client(&f)
        .fetch_qe_identity(DcapTee::Sgx)
        .await
        .unwrap_err();
    assert!(matches!(err, CollateralError::NotFound { .. }), "{err:?}");

    f.set_mode(Mode::Status(500));
    let err = client(&f).fetch(f.tee, &f.fmspc, f.ca).await.unwrap_err();
    match &err {
        CollateralError::UpstreamStatus { status, detail, .. } => {
            assert_eq!(*status, 500);
            assert_eq!(detail.as_deref(), Some("Request-ID: fixture-req-1"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.code(), "UpstreamStatus");
    assert!(err.to_string().contains("HTTP 500"), "{err}");

    f.set_mode(Mode::Status(503));
    let err = client(&f).fetch_root_ca_crl().await.unwrap_err();
    assert!(
        matches!(err, CollateralError::UpstreamStatus { status: 503, .. }),
        "{err:?}"
    );
    f.stop().await;
}

#[tokio::test]
async fn missing_issuer_chain_headers_are_named() {
    let f = Fixture::start("tdx/automata-tdx-v4").await;
    f.set_mode(Mode::NoChainHeaders);
    let c = client(&f);
    let cases = [
        (
            c.fetch_tcb_info(f.tee, &f.fmspc).await.map(|_| ()),
            "TCB-Info-Issuer-Chain",
        ),
        (
            c.fetch_qe_identity(f.tee).await.map(|_| ()),
            "SGX-Enclave-Identity-Issuer-Chain",
        ),
        (
            c.fetch_pck_crl(f.ca).await.map(|_| ()),
            "SGX-PCK-CRL-Issuer-Chain",
        ),
    ];
    for (res, want) in cases {
        match res {
            Err(CollateralError::MissingIssuerChainHeader { header, .. }) => {
                assert_eq!(header, want)
            }
            other => panic!("expected missing {want}, got {other:?}"),
        }
    }
    f.stop().await;
}

#[tokio::test]
async fn stopped_server_is_upstream_unavailable() {
    let f = Fixture::start("sgx/dcap-qvl-sgx-v3").await;
    let c = client(&f);
    let (tee, fmspc, ca) = (f.tee, f.fmspc.clone(), f.ca);
    f.stop().await;
    let err = c.fetch(tee, &fmspc, ca).await.unwrap_err();
    assert_eq!(err.code(), "UpstreamUnavailable", "{err}");
}

#[tokio::test]
async fn invalid_fmspc_makes_no_request() {
    let f = Fixture::start("sgx/dcap-qvl-sgx-v3").await;
    for bad in ["", "00A06711000", "00A06711000G", "00A067110000/../x"] {
        let err = client(&f)
            .fetch(DcapTee::Sgx, bad, PckCa::Processor)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "InvalidFmspc", "{bad:?}");
    }
    assert_eq!(f.count(&f.tcb_path()), 0);
    f.stop().await;
}

#[tokio::test]
async fn bad_client_configuration_is_reported() {
    let err = PcsClient::new(PcsClientOptions::new("ftp://pcs.example")).unwrap_err();
    assert_eq!(err.code(), "ClientSetup");
    let mut opts = PcsClientOptions::new("https://pcs.example");
    opts.extra_root_ca_pem = Some("not a certificate".into());
    assert_eq!(PcsClient::new(opts).unwrap_err().code(), "ClientSetup");
    let mut opts = PcsClientOptions::new("https://pcs.example");
    opts.only_extra_roots = true;
    assert_eq!(PcsClient::new(opts).unwrap_err().code(), "ClientSetup");
}

#[tokio::test]
async fn https_with_extra_root_ca() {
    let f = Fixture::start_with(
        "tdx/dcap-qvl-tdx-v4",
        FixtureOptions {
            https: true,
            ..Default::default()
        },
    )
    .await;
    assert!(f.base_url.starts_with("https://localhost:"));
    let ca_pem = f.ca_pem.clone().unwrap();

    // Without the test CA the server certificate is not trusted.
    let plain = PcsClient::new(PcsClientOptions::new(&f.base_url)).unwrap();
    let err = plain.fetch_root_ca_crl().await.unwrap_err();
    assert_eq!(err.code(), "UpstreamUnavailable", "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");

    for only in [false, true] {
        let mut opts = PcsClientOptions::new(&f.base_url);
        opts.extra_root_ca_pem = Some(ca_pem.clone());
        opts.only_extra_roots = only;
        let c = PcsClient::new(opts).unwrap();
        let got = c.fetch(f.tee, &f.fmspc, f.ca).await.unwrap();
        assert_eq!(got, import_dir(&vector_dir("tdx/dcap-qvl-tdx-v4")).unwrap());
    }
    f.stop().await;
}

#[tokio::test]
async fn update_stream_and_root_crl_location_are_configurable() {
    let f = Fixture::start("sgx/dcap-qvl-sgx-v3").await;
    let mut opts = PcsClientOptions::new(format!("{}/", f.base_url));
    opts.tcb_update = Some(TcbUpdate::Early);
    opts.root_ca_crl_url = Some(format!("{}{ROOT_CRL_DP_PATH}", f.base_url));
    let got = PcsClient::new(opts)
        .unwrap()
        .fetch(f.tee, &f.fmspc, f.ca)
        .await
        .unwrap();
    assert_eq!(got.root_ca_crl, f.file("root_ca_crl.der"));
    let mut uris = f.uris();
    uris.sort();
    assert_eq!(
        uris,
        [
            "/IntelSGXRootCA.der",
            "/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
            "/sgx/certification/v4/qe/identity?update=early",
            "/sgx/certification/v4/tcb?fmspc=00A067110000&update=early",
        ]
    );
    assert_eq!(f.count(ROOT_CRL_PATH), 0);
    f.stop().await;
}

#[test]
fn pck_ca_from_issuer_common_name() {
    assert_eq!(
        PckCa::from_issuer_common_name("Intel SGX PCK Processor CA"),
        Some(PckCa::Processor)
    );
    assert_eq!(
        PckCa::from_issuer_common_name("Intel SGX PCK Platform CA"),
        Some(PckCa::Platform)
    );
    assert_eq!(PckCa::from_issuer_common_name("Intel SGX Root CA"), None);
}
