//! The OpenAPI document as the server serves it, against the router (every route documented,
//! nothing documented that is not routed), and docs/API.md against the error codes and routes.

mod api_support;
use api_support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use tokex_server::api::errors::{GATEWAY_CODES, REJECT_CODES};
use tokex_server::api::routes::{routes, Access};

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push(x.as_str().unwrap_or("").to_string());
                }
                refs(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn openapi_document_matches_the_router() {
    let s = Server::start();
    let r = s.get("/api/v1/openapi.json");
    assert_eq!(r.status, 200);
    let doc: Value = serde_json::from_str(&r.text).expect("the document parses as JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "OpenAPI 3"
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().expect("paths");

    // The API's own routes and the web screen's (hedge planner, schedule, methodology).
    let routed: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .chain(
            tokex_server::web_hedge::ROUTES
                .iter()
                .map(|(m, p)| (m.to_string(), p.to_string())),
        )
        .collect();
    assert_eq!(
        routed.len(),
        routes().len() + tokex_server::web_hedge::ROUTES.len(),
        "a route registered twice"
    );
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}: summary"
            );
            assert!(
                op["responses"]["200"].is_object(),
                "{method} {path}: 200 response"
            );
            // Every path parameter is declared.
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let in_path: BTreeSet<&str> = tokex_server::api::openapi::path_params(path)
                .into_iter()
                .collect();
            assert_eq!(declared, in_path, "{method} {path}: path parameters");
        }
    }
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );

    // Security matches the access each route really has.
    for (m, p, access) in routes() {
        let op = &paths[p][m];
        let public = op["security"].as_array().is_some_and(|a| a.is_empty());
        assert_eq!(public, access == Access::Public, "{m} {p}: security");
    }

    // Every reference resolves.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {r}"
        );
    }

    // The error schema lists every code.
    let codes: BTreeSet<&str> = doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for (c, _, _) in GATEWAY_CODES {
        assert!(codes.contains(c), "{c}");
    }
    for c in REJECT_CODES {
        assert!(codes.contains(c.as_str()), "{}", c.as_str());
    }
}

#[test]
fn api_guide_lists_every_error_code_and_route() {
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/API.md"),
    )
    .expect("docs/API.md");
    for (code, status, _) in GATEWAY_CODES {
        assert!(
            guide.contains(&format!("| `{code}` | {status} |")),
            "docs/API.md: gateway code {code} with HTTP {status}"
        );
    }
    for c in REJECT_CODES {
        let status = tokex_server::api::errors::reject_status(*c).as_u16();
        assert!(
            guide.contains(&format!("| `{}` | {status} |", c.as_str())),
            "docs/API.md: exchange code {} with HTTP {status}",
            c.as_str()
        );
    }
    for (m, p, _) in routes() {
        assert!(
            guide.contains(&format!("| {} | `{p}` |", m.to_uppercase())),
            "docs/API.md: route {m} {p}"
        );
    }
}
