//! The OpenAPI document at `/openapi.json` against the router: it is served
//! (anonymously, cacheably) as OpenAPI 3.1; its operations are exactly the
//! routes and methods the router registers (read from the route modules'
//! `.route(...)` calls, so a route added without documentation, or
//! documentation left for a removed route, fails here); every documented
//! operation is routed by the live server; and what each operation declares
//! about authentication holds. The contract stage (`tests/contract/run.sh`)
//! then checks the live server's answers against the document's schemas.
//! Last, regressions of the server bugs that stage found: answers that left
//! a request body unread closed the connection without `Connection: close`,
//! and malformed admin input got 422 or 500 without saying what was wrong.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The fallback's message: a request no route matched.
const NO_ROUTE: &str = "no such route";

/// A route as the router registers it: (method, path pattern).
type Route = (String, String);

/// The `.route("path", get(..).post(..))` calls of one source file, with the
/// byte offset of each.
fn route_calls(source: &str) -> Vec<(usize, String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(at) = source[rest..].find(".route(") {
        let start = rest + at;
        let open = start + ".route(".len();
        // The call's argument text, up to its closing parenthesis.
        let mut depth = 1;
        let mut end = open;
        for (i, c) in source[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = open + i;
                break;
            }
        }
        let args = &source[open..end];
        let path = args
            .trim_start()
            .strip_prefix('"')
            .and_then(|p| p.split('"').next())
            .unwrap_or_else(|| panic!("a .route( call without a literal path: {args}"));
        let handlers = &args[args.find(',').expect("a handler argument") + 1..];
        assert!(
            !handlers.contains("any("),
            "route {path} uses any(): list its methods so they can be documented"
        );
        let methods: Vec<String> = METHODS
            .iter()
            .filter(|m| {
                handlers.match_indices(&format!("{m}(")).any(|(i, _)| {
                    handlers[..i]
                        .chars()
                        .next_back()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
                })
            })
            .map(|m| m.to_string())
            .collect();
        assert!(!methods.is_empty(), "no method found for route {path}");
        out.push((start, path.to_string(), methods));
        rest = end;
    }
    out
}

/// Every route the router registers, from the route modules' sources: the
/// routes of `maa_routes` twice (at the root and under
/// `/providers/{provider}`), every other `.route` call once.
fn router_routes() -> BTreeSet<Route> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
    let mut routes = BTreeSet::new();
    let mut files = 0;
    // Route modules, and those of their submodules (routes/admin/…).
    let mut paths = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                paths.push(path);
            }
        }
    }
    for path in paths {
        files += 1;
        let source = std::fs::read_to_string(&path).unwrap();
        // The MAA routes: the body of `fn maa_routes`, nested under the
        // provider prefix by `router`.
        let maa = source.find("fn maa_routes").map(|start| {
            let end = start + source[start..].find("\n}\n").expect("end of maa_routes");
            assert!(
                source.contains(".nest(\"/providers/{provider}\", maa)"),
                "routes/mod.rs no longer nests the MAA routes under /providers/{{provider}}; update this test"
            );
            start..end
        });
        for (at, p, methods) in route_calls(&source) {
            let scoped = maa.as_ref().is_some_and(|r| r.contains(&at));
            for m in methods {
                routes.insert((m.clone(), p.clone()));
                if scoped {
                    routes.insert((m, format!("/providers/{{provider}}{p}")));
                }
            }
        }
    }
    assert!(files >= 5, "read only {files} route modules from {dir}");
    routes
}

/// Every documented operation: (method, path) → operation object.
fn documented(doc: &Value) -> BTreeMap<Route, Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                let mut op = op.clone();
                // Path-level parameters apply to every operation.
                if let Some(params) = item.get("parameters").and_then(Value::as_array) {
                    let mut all = params.clone();
                    all.extend(op["parameters"].as_array().cloned().unwrap_or_default());
                    op["parameters"] = Value::Array(all);
                }
                ops.insert((m.to_string(), path.clone()), op);
            }
        }
    }
    ops
}

/// The router route that serves a documented path, as axum matches it: a
/// literal segment matches itself, a `{param}` segment matches any one
/// segment (so `/policies/{attestation_type}` serves
/// `/policies/{attestation_type}:reset`); literal matches win.
fn serving_route<'a>(
    method: &str,
    doc_path: &str,
    routes: &'a BTreeSet<Route>,
) -> Option<&'a Route> {
    let doc: Vec<&str> = doc_path.split('/').collect();
    routes
        .iter()
        .filter(|(m, _)| m == method)
        .filter_map(|route| {
            let segs: Vec<&str> = route.1.split('/').collect();
            if segs.len() != doc.len() {
                return None;
            }
            let mut literal = 0;
            for (r, d) in segs.iter().zip(&doc) {
                if r == d {
                    literal += 1;
                } else if !(r.starts_with('{') && r.ends_with('}')) {
                    return None;
                }
            }
            Some((literal, route))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, route)| route)
}

#[test]
fn the_document_describes_exactly_the_routes_the_router_registers() {
    let doc = attesta_server::routes::openapi::document();
    let routes = router_routes();
    let ops = documented(doc);
    assert!(
        routes.contains(&("post".into(), "/attest/{attestation_type}".into()))
            && routes.contains(&("get".into(), "/providers/{provider}/certificates".into()))
            && routes.contains(&("patch".into(), "/admin/providers/{name}".into()))
            && routes.contains(&("get".into(), "/openapi.json".into())),
        "the route parser missed routes: {routes:?}"
    );
    let mut served = BTreeSet::new();
    let mut unrouted = Vec::new();
    for (method, path) in ops.keys() {
        match serving_route(method, path, &routes) {
            Some(route) => {
                served.insert(route.clone());
            }
            None => unrouted.push(format!("{} {path}", method.to_uppercase())),
        }
    }
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
    let undocumented: Vec<String> = routes
        .difference(&served)
        .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "routed but not in crates/server/src/openapi.json: {undocumented:?}"
    );
}

#[test]
fn every_operation_documents_its_errors_with_the_maa_error_body() {
    let doc = attesta_server::routes::openapi::document();
    let error = "#/components/schemas/Error";
    for ((method, path), op) in documented(doc) {
        let label = format!("{} {path}", method.to_uppercase());
        let id = op["operationId"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{label} has no operationId");
        let responses = op["responses"].as_object().unwrap();
        for must in ["400", "500"] {
            assert!(
                responses.contains_key(must),
                "{label} does not document {must}"
            );
        }
        if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
            assert!(
                responses.contains_key("401"),
                "{label} does not document 401"
            );
        }
        for (status, resp) in responses {
            let resp = match resp.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    let name = r.rsplit('/').next().unwrap();
                    &doc["components"]["responses"][name]
                }
                None => resp,
            };
            assert!(
                resp["headers"].get("x-ms-request-id").is_some(),
                "{label} {status} does not document x-ms-request-id"
            );
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &resp["content"]["application/json"]["schema"];
                let refs_error = schema["$ref"] == error
                    || schema["oneOf"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|s| s["$ref"] == error));
                assert!(refs_error, "{label} {status} is not the MAA error body");
                assert!(
                    resp["headers"].get("x-ms-error-code").is_some()
                        || path == "/readyz" && status == "503",
                    "{label} {status} does not document x-ms-error-code"
                );
            }
        }
    }
}

/// A concrete URL for a documented path: the default provider, SgxEnclave,
/// an api-version every route accepts.
fn concrete(path: &str) -> String {
    let p = path
        .replace("{provider}", "default")
        .replace("{name}", "default")
        .replace("{attestation_type}", "SgxEnclave");
    format!("{p}?api-version=2022-08-01")
}

#[tokio::test]
async fn the_live_server_serves_the_document_and_routes_every_operation() {
    let tmp = tempfile::tempdir().unwrap();
    let t = common::start(common::config(tmp.path())).await;

    // Served anonymously, as JSON, cacheably; identical to the built-in one.
    let resp = t.client.get(t.url("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "public, max-age=3600");
    let etag = headers["etag"].to_str().unwrap().to_string();
    let doc: Value = resp.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(&doc, attesta_server::routes::openapi::document());
    let resp = t
        .client
        .get(t.url("/openapi.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(resp.headers()["etag"], etag.as_str());
    assert!(resp.bytes().await.unwrap().is_empty());

    // The fallback is recognisable, so "routed" below means something.
    let (s, b) = common::json(t.client.get(t.url("/no/such/route")).send().await.unwrap()).await;
    assert_eq!(s, 404);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(NO_ROUTE),
        "{b}"
    );

    for ((method, path), op) in documented(&doc) {
        let label = format!("{} {path}", method.to_uppercase());
        let url = t.url(&concrete(&path));
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        // With the admin token: the route exists and takes this method.
        let resp = t
            .client
            .request(m.clone(), &url)
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_ne!(status, 405, "{label}: {text}");
        assert!(
            !(status == 404 && text.contains(NO_ROUTE)),
            "{label} is documented but the server has no such route: {text}"
        );
        assert!(
            op["responses"].get(status.to_string()).is_some(),
            "{label} answered {status}, which it does not document: {text}"
        );
        // Without a token: 401 exactly where the document asks for one
        // (checked on operations without a body, whose body checks would
        // otherwise come first).
        if op.get("requestBody").is_some() {
            continue;
        }
        let needs_auth = op["security"].as_array().is_some_and(|s| !s.is_empty());
        let status = t
            .client
            .request(m, &url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(
            status == 401,
            needs_auth,
            "{label} answered {status} without a token"
        );
    }
    t.stop().await;
}

// Regressions of what the contract stage found.

#[tokio::test]
async fn an_answer_that_leaves_the_body_unread_closes_the_http1_connection_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let t = common::start(common::config(tmp.path())).await;
    let post = |path: &str, body: &'static str| {
        t.client
            .post(t.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // 405, an unknown provider, a missing api-version: answered before the
    // body is read, so the connection cannot carry another request.
    for (path, status) in [
        ("/healthz", 405),
        (
            "/providers/nobody/attest/SgxEnclave?api-version=2022-08-01",
            404,
        ),
        ("/attest/SgxEnclave", 400),
    ] {
        let resp = post(path, r#"{"quote": "AAAA"}"#).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{path}");
        assert_eq!(
            resp.headers()
                .get("connection")
                .map(|v| v.to_str().unwrap()),
            Some("close"),
            "{path}"
        );
    }
    // A body the handler read: the connection stays open.
    let resp = post(
        "/attest/SgxEnclave?api-version=2022-08-01",
        r#"{"quote": "AAAA"}"#,
    )
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers().get("connection").is_none());
    // The next request on the same client is answered.
    let resp = t.client.get(t.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    t.stop().await;
}

#[tokio::test]
async fn malformed_admin_bodies_get_400_saying_what_is_wrong_never_500() {
    let tmp = tempfile::tempdir().unwrap();
    let t = common::start(common::config(tmp.path())).await;
    // A JSON body of the wrong shape: 400 (not 422), naming the field.
    let (s, b) = common::admin_post(&t, "/admin/providers", br#"{"name": 1}"#.to_vec()).await;
    common::assert_error(s, &b, 400, "InvalidParameter");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("name") && message.contains("expected a string"),
        "{b}"
    );
    // No JSON content type: 415 with the reason.
    let (s, b) = common::json(
        t.client
            .post(t.url("/admin/providers"))
            .bearer_auth(&t.admin)
            .body(r#"{"name": "x"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    common::assert_error(s, &b, 415, "UnsupportedMediaType");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("application/json"),
        "{b}"
    );
    // Endorsement file names the file system cannot take: 400, not 500.
    let long = "a".repeat(300);
    for name in ["a\u{0}b", long.as_str(), "../x", ".hidden", "a/b", ""] {
        let body = serde_json::json!({ "files": { name: "AAAA" } }).to_string();
        let (s, b) = common::admin_post(&t, "/admin/collateral/snp", body.into_bytes()).await;
        common::assert_error(s, &b, 400, "InvalidParameter");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not a plain file name"),
            "{name:?}: {b}"
        );
    }
    // A duplicated query parameter: 400 with the reason.
    let (s, b) = common::json(
        t.client
            .get(t.url("/admin/keys?provider=a&provider=b"))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    common::assert_error(s, &b, 400, "InvalidParameter");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate field"),
        "{b}"
    );
    t.stop().await;
}
