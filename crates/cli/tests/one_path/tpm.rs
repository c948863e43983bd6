//! TPM: `attesta verify tpm` on the GCE captures against the server's
//! one-round-trip protocol, `POST /attest/Tpm:quote`, with the same quotes
//! (SHA-1, SHA-256 and SHA-384 banks), AK, AK certificate and
//! intermediate, PCR values and event log, the GCE root as the provider's
//! TPM root and the same pinned time.
//!
//! The protocol's quote is over a challenge the server issued, sealed in
//! the `service_context` under the node's context key; a capture is over
//! its own nonce (0x9009, or none). The test is a second node sharing that
//! key — nodes share it to finish each other's exchanges: the key is in
//! the data directory before the server's first start (`tpm-context.key`,
//! which a new node takes as its key), and the test seals the capture's
//! nonce as the challenge.
//!
//! A TPM token carries what the policy issues. The draft policy issues
//! every claim the CLI printed (the service's own `x-` claims are in the
//! token anyway), tests `pcrs` — which a policy may read but never issue —
//! for exactly the value the CLI printed, and issues `unexpected-claim`
//! naming any incoming claim the CLI did not print.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::common::*;

/// Inside the validity of the AK certificates (2021–2051) and their CAs.
const AT: &str = "2025-01-01T00:00:00Z";
const BANKS: [&str; 3] = ["sha1", "sha256", "sha384"];

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `s` as the body of a policy string literal.
fn literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The draft policy of the module doc for `cli`'s claims.
fn issue_every_claim(cli: &Map<String, Value>) -> String {
    let others: Vec<String> = cli
        .keys()
        .map(|k| format!("type!=\"{}\"", literal(k)))
        .collect();
    let mut rules = vec![format!(
        "c:[{}, issuer==\"AttestationService\"] => issue(type=\"unexpected-claim\", value=c.type);",
        others.join(", ")
    )];
    for (k, v) in cli {
        if k == "pcrs" {
            rules.push(format!(
                "[type==\"pcrs\", value==\"{}\"] => issue(type=\"pcrs-as-printed\", value=true);",
                literal(&v.to_string())
            ));
        } else if !attesta_policy::is_reserved_output_claim(k) {
            rules.push(format!(
                "c:[type==\"{}\", issuer==\"AttestationService\"] => issue(claim=c);",
                literal(k)
            ));
        }
    }
    format!(
        "version=1.0; authorizationrules {{ => permit(); }}; issuancerules {{ {} }};",
        rules.join("\n")
    )
}

/// The token's claims against the CLI's, as the module doc says: a claim
/// with a JSON object or array value reaches a policy as its JSON text.
fn assert_token_holds(what: &str, cli: &Map<String, Value>, token: &Map<String, Value>) {
    for (k, v) in cli {
        if k == "pcrs" {
            assert_eq!(token.get("pcrs-as-printed"), Some(&json!(true)), "{what}");
            continue;
        }
        let got = token
            .get(k)
            .unwrap_or_else(|| panic!("{what}: the token has no {k}"));
        if v.is_object() || v.is_array() {
            let text = got.as_str().unwrap_or_else(|| panic!("{what}: {k}: {got}"));
            assert_eq!(&json(text), v, "{what}: claim {k} differs");
        } else {
            assert_eq!(got, v, "{what}: claim {k} differs");
        }
    }
    let extra: Vec<&String> = token
        .keys()
        .filter(|k| {
            !cli.contains_key(*k)
                && !TOKEN_ONLY.contains(&k.as_str())
                && k.as_str() != "pcrs-as-printed"
        })
        .collect();
    assert!(
        extra.is_empty(),
        "{what}: the token has claims the CLI does not print: {extra:?}"
    );
}

#[test]
fn the_gce_captures() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = [0x5a_u8; 32];
    std::fs::write(data.join("tpm-context.key"), key).unwrap();
    let s = serve(&data);
    let context_key = attesta_server::tpm::ContextKey::from_bytes(&key).unwrap();

    for (i, capture) in [
        "go-tpm-tools-gce-cos85-nonce9009",
        "go-tpm-tools-gce-cos85-no-nonce",
    ]
    .into_iter()
    .enumerate()
    {
        let dir = vectors().join("tpm").join(capture);
        let e = expected(&dir);
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        let nonce = e["nonce_expected"].as_str().unwrap();

        // The CLI.
        let verify_with = |nonce: &str, log: &std::path::Path| {
            let mut verify = bin();
            verify.args(["verify", "tpm"]);
            for bank in BANKS {
                verify
                    .arg("--attest")
                    .arg(dir.join(format!("quote_{bank}_attest.bin")))
                    .arg("--signature")
                    .arg(dir.join(format!("quote_{bank}_sig.tpmt_signature.bin")))
                    .arg("--pcrs")
                    .arg(dir.join(format!("quote_{bank}_pcrs.json")));
            }
            verify
                .arg("--ak-pub")
                .arg(dir.join("ak_pub.tpmt_public.bin"))
                .arg("--ak-cert")
                .arg(dir.join("ak_cert.der"))
                .arg("--ca")
                .arg(dir.join("gce_ek_root_1.der"))
                .arg("--ca")
                .arg(dir.join("gce_ek_intermediate_2.der"))
                .arg("--event-log")
                .arg(log)
                .args(["--nonce", nonce, "--at", AT]);
            run(&mut verify)
        };
        let log_file = dir.join("event_log.bin");
        let cli = cli_claims(capture, &verify_with(nonce, &log_file));

        // The server: a provider trusting the GCE root at the same time.
        let provider = format!("tpm{i}");
        let root = pem_file(tmp.path(), "gce_root.pem", &read("gce_ek_root_1.der"));
        let (code, _, err) = run_on(
            &s,
            client(&s, &["provider", "create", &provider, "--test-root-tpm"])
                .arg(&root)
                .args(["--verification-time", AT]),
        );
        assert_eq!(code, 0, "{err}");
        let mut pcrs = Map::new();
        for bank in BANKS {
            pcrs.insert(
                bank.into(),
                serde_json::from_slice(&read(&format!("quote_{bank}_pcrs.json"))).unwrap(),
            );
        }
        let body_with = |challenge: &[u8], policy: &str, log: &[u8]| {
            json!({
                "service_context": attesta_server::tpm::seal_challenge(
                    &context_key,
                    &provider,
                    challenge,
                    attesta_evidence::UnixTime::now().0,
                )
                .unwrap(),
                "quotes": BANKS.iter().map(|bank| json!({
                    "attest": b64(&read(&format!("quote_{bank}_attest.bin"))),
                    "signature": b64(&read(&format!("quote_{bank}_sig.tpmt_signature.bin"))),
                })).collect::<Vec<_>>(),
                "ak_public": b64(&read("ak_pub.tpmt_public.bin")),
                "ak_certificate": b64(&read("ak_cert.der")),
                "ak_intermediates": [b64(&read("gce_ek_intermediate_2.der"))],
                "pcrs": pcrs,
                "event_log": b64(log),
                "draftPolicyForAttestation": policy,
            })
        };
        let path = format!("/providers/{provider}/attest/Tpm:quote?api-version=2022-08-01");
        let policy = issue_every_claim(&cli);
        let log = read("event_log.bin");
        let challenge = hex::decode(nonce).unwrap();
        let (status, b) = post_json(&s, &path, &body_with(&challenge, &policy, &log));
        assert_eq!(status, 200, "{capture}: {b}");
        let token = jwt_claims(b["token"].as_str().unwrap());
        assert_token_holds(capture, &cli, &token);

        // What the capture's expected.json states.
        let q = &e["quotes"]["sha256"];
        assert_eq!(cli["x-attesta-tpm-reset-count"], q["reset_count"]);
        assert_eq!(cli["x-attesta-tpm-restart-count"], q["restart_count"]);
        assert_eq!(cli["aikValidated"], true);
        assert_eq!(cli["x-attesta-tpm-ak-hierarchy"], "endorsement");
        let replayed = &e["event_log_replay"]["pcrs"]["sha256"];
        let printed = cli["pcrs"]["PCRs"].as_array().unwrap();
        for i in 0..10 {
            let pcr = printed.iter().find(|p| p["Index"] == i).unwrap();
            assert_eq!(
                pcr["Digests"]["SHA256"],
                replayed[i.to_string()],
                "{capture}: PCR {i}"
            );
        }

        // Another nonce than the quote's: refused alike.
        let other = b"not the capture's nonce";
        let cli_code = cli_rejection(capture, &verify_with(&hex::encode(other), &log_file));
        assert_eq!(cli_code, "NonceMismatch");
        let (status, b) = post_json(&s, &path, &body_with(other, &policy, &log));
        assert_eq!(status, 400, "{capture}: {b}");
        assert_eq!(inner_code(&b), cli_code, "{capture}: {b}");

        // The first PCR 7 driver-configuration event (the secure-boot
        // policy) relabelled with a type no TCG profile defines: the log
        // still replays (types are not measured), and both paths refuse it.
        let header = [7u8, 0, 0, 0, 0x01, 0, 0, 0x80];
        let at = log
            .windows(header.len())
            .position(|w| w == header)
            .expect("a PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG event");
        let mut relabelled = log.clone();
        relabelled[at + 7] = 0x90;
        let relabelled_file = tmp.path().join(format!("relabelled{i}.bin"));
        std::fs::write(&relabelled_file, &relabelled).unwrap();
        let cli_code = cli_rejection(capture, &verify_with(nonce, &relabelled_file));
        assert_eq!(cli_code, "EventTypeInvalid");
        let (status, b) = post_json(&s, &path, &body_with(&challenge, &policy, &relabelled));
        assert_eq!(status, 400, "{capture}: {b}");
        assert_eq!(inner_code(&b), cli_code, "{capture}: {b}");
    }
}
