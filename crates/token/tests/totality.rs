//! Totality and tamper properties: any input gives a value or a typed error
//! (never a panic), and no single-character change to a valid token or
//! policy JWS still verifies.

mod common;

use attesta_token::jwks::Jwks;
use attesta_token::jws::{parse_jws, sign_jws};
use attesta_token::jwt::{VerifyOptions, decode_unverified, sign_jwt, verify_jwt};
use attesta_token::keys::SigningKey;
use common::NOW;
use proptest::prelude::*;
use std::sync::OnceLock;

struct Fixture {
    jwks: Jwks,
    token: String,
    policy: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = SigningKey::generate_at("totality", NOW).unwrap();
        let claims =
            serde_json::json!({"exp": NOW + 600, "iss": "https://a.example", "n": [1, {"b": "c"}]});
        let token = sign_jwt(
            &key,
            "https://a.example/certs",
            claims.as_object().unwrap(),
            true,
        );
        let signer = common::self_signed("policy signer", common::ec_key(), false);
        let policy = sign_jws(
            br#"{"AttestationPolicy":"dmVyc2lvbj0xLjA7"}"#,
            &signer.jws_key(),
        )
        .unwrap();
        Fixture {
            jwks: Jwks {
                keys: vec![key.jwk()],
            },
            token,
            policy,
        }
    })
}

fn opts() -> VerifyOptions {
    VerifyOptions {
        issuer: Some("https://a.example".into()),
        now: NOW,
        leeway_secs: 0,
    }
}

const B64ISH: &str = "[A-Za-z0-9_+/=.-]{0,200}";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>(), t in B64ISH) {
        for text in [&s, &t] {
            let _ = parse_jws(text).map(|j| j.verify_signer());
            let _ = verify_jwt(text, &fixture().jwks, &opts());
            let _ = decode_unverified(text);
        }
    }

    #[test]
    fn a_changed_character_never_verifies(pos in any::<prop::sample::Index>(), c in "[A-Za-z0-9_.+/=-]") {
        let f = fixture();
        let c = c.chars().next().unwrap();
        for (text, is_token) in [(&f.token, true), (&f.policy, false)] {
            let i = pos.index(text.len());
            let mut bytes = text.clone().into_bytes();
            prop_assume!(bytes[i] != c as u8);
            bytes[i] = c as u8;
            let changed = String::from_utf8(bytes).unwrap();
            if is_token {
                prop_assert!(verify_jwt(&changed, &f.jwks, &opts()).is_err());
            } else {
                let verified = parse_jws(&changed).ok().and_then(|j| j.verify_signer().ok());
                prop_assert!(verified.is_none(), "changed JWS verified: {}", changed);
            }
        }
    }
}

#[test]
fn fixtures_verify_unchanged() {
    let f = fixture();
    assert!(verify_jwt(&f.token, &f.jwks, &opts()).is_ok());
    assert!(
        parse_jws(&f.policy)
            .unwrap()
            .verify_signer()
            .unwrap()
            .is_some()
    );
}
