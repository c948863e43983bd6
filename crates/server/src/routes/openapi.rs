//! `GET /openapi.json`: the OpenAPI 3.1 description of every route, served
//! anonymously and cacheably (`Cache-Control`, `ETag`, 304 on a matching
//! `If-None-Match`).
//!
//! The document is the hand-written `openapi.json` beside this crate's
//! sources. Path items marked `"x-attesta-provider-scoped": true` are the MAA
//! routes, which the router serves both at the root and under
//! `/providers/{provider}`; [`document`] adds the second form of each (with
//! the `provider` path parameter and `_Provider`-suffixed operation ids), so
//! the two can never describe different operations. The test
//! `tests/openapi.rs` checks that the document's operations are exactly the
//! router's, and the contract stage (`tests/contract/run.sh`) checks a live
//! server against it.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The hand-written document (before the provider-scoped copies are added).
pub const SOURCE: &str = include_str!("../openapi.json");

/// The marker of a path item that is also served under `/providers/{provider}`.
pub const PROVIDER_SCOPED: &str = "x-attesta-provider-scoped";

/// The prefix under which every MAA route is served again.
pub const PROVIDER_PREFIX: &str = "/providers/{provider}";

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The document as served.
pub fn document() -> &'static Value {
    &SERVED.0
}

/// The served document: JSON bytes and their ETag, built once.
static SERVED: LazyLock<(Value, Vec<u8>, String)> = LazyLock::new(|| {
    let doc = build(SOURCE);
    let bytes = serde_json::to_vec(&doc).expect("a JSON value serialises");
    let digest = attesta_evidence::crypto::sha256(&bytes);
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    (doc, bytes, etag)
});

/// Expand the source document (see the module docs). Panics only on a
/// malformed source, which the crate's tests rule out before a build ships.
fn build(source: &str) -> Value {
    let mut doc: Value = serde_json::from_str(source).expect("openapi.json is JSON");
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"]
        .as_object_mut()
        .expect("openapi.json has a paths object");
    let mut scoped = Vec::new();
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        if item.remove(PROVIDER_SCOPED) != Some(Value::Bool(true)) {
            continue;
        }
        let mut copy = item.clone();
        let params = copy
            .entry("parameters")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("path-item parameters are an array");
        params.insert(0, json!({ "$ref": "#/components/parameters/Provider" }));
        for method in METHODS {
            if let Some(op) = copy.get_mut(method).and_then(Value::as_object_mut)
                && let Some(id) = op.get("operationId").and_then(Value::as_str)
            {
                let id = format!("{id}_Provider");
                op.insert("operationId".into(), json!(id));
            }
        }
        scoped.push((format!("{PROVIDER_PREFIX}{path}"), Value::Object(copy)));
    }
    paths.extend(scoped);
    doc
}

/// The api-version values the document declares (the tests compare them
/// with [`crate::routes::API_VERSIONS`]).
pub fn documented_api_versions() -> Vec<String> {
    document()["components"]["parameters"]["ApiVersion"]["schema"]["enum"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /openapi.json`.
pub async fn serve(headers: HeaderMap) -> Response {
    let (_, bytes, etag) = &*SERVED;
    let etag_value = HeaderValue::from_str(etag).expect("a hex ETag is a header value");
    let cache = HeaderValue::from_static("public, max-age=3600");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*");
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, cache),
        ],
        bytes.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::API_VERSIONS;

    #[test]
    fn the_source_parses_and_every_maa_route_gets_its_provider_form() {
        let source: Value = serde_json::from_str(SOURCE).unwrap();
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let scoped: Vec<&String> = source["paths"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, item)| item[PROVIDER_SCOPED] == true)
            .map(|(p, _)| p)
            .collect();
        assert!(scoped.iter().any(|p| p.as_str() == "/certs"), "{scoped:?}");
        let paths = doc["paths"].as_object().unwrap();
        for p in scoped {
            let root = &paths[p.as_str()];
            let under = &paths[&format!("{PROVIDER_PREFIX}{p}")];
            assert!(root.get(PROVIDER_SCOPED).is_none(), "marker left on {p}");
            assert_eq!(
                under["parameters"][0]["$ref"],
                "#/components/parameters/Provider"
            );
            let id = root["get"]["operationId"]
                .as_str()
                .or(root["post"]["operationId"].as_str())
                .unwrap();
            let under_id = under["get"]["operationId"]
                .as_str()
                .or(under["post"]["operationId"].as_str())
                .unwrap();
            assert_eq!(under_id, format!("{id}_Provider"));
        }
    }

    #[test]
    fn the_documented_api_versions_are_the_accepted_ones() {
        assert_eq!(documented_api_versions(), API_VERSIONS);
        let optional =
            &document()["components"]["parameters"]["ApiVersionOptional"]["schema"]["enum"];
        assert_eq!(optional, &json!(API_VERSIONS));
    }
}
