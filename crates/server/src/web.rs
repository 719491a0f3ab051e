//! The web trading screen, served by `tokex serve` from assets compiled into the binary.
//!
//! The screen is plain HTML, CSS and ES modules in `web/` at the repository root (no build
//! step); `lightweight-charts` is vendored in `web/vendor/` with its licence. Every asset is
//! embedded here with `include_bytes!`, so a user runs `tokex demo`, opens the printed address
//! and trades: nothing else to install or start.
//!
//! Caching: the page and its modules are served with `Cache-Control: no-cache` and a strong
//! `ETag` (the SHA-256 of the bytes), so a browser revalidates with a cheap 304 and never runs
//! a stale screen against a newer server; the vendored library has its version in its file
//! name and is cached for a year as immutable.
//!
//! For work on the screen itself, `TOKEX_WEB_DIR=web` serves the same files from that directory
//! instead (read on every request, not cached), so an edit shows on reload without a rebuild.
//!
//! Only the listed paths are routed (no catch-all), so unknown paths still reach the API's
//! JSON `NOT_FOUND` fallback.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The version of `lightweight-charts` vendored in `web/vendor/`.
pub const LIGHTWEIGHT_CHARTS_VERSION: &str = "5.3.0";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";
const TEXT: &str = "text/plain; charset=utf-8";

/// One embedded file: URL path, content type, long-lived (versioned) or revalidated, bytes.
pub struct Asset {
    pub path: &'static str,
    /// The file under `web/`.
    pub file: &'static str,
    pub content_type: &'static str,
    pub immutable: bool,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $ct:expr, $imm:expr) => {
        Asset {
            path: $path,
            file: $file,
            content_type: $ct,
            immutable: $imm,
            bytes: include_bytes!(concat!("../../../web/", $file)),
        }
    };
}

/// Every file of the screen.
pub const ASSETS: &[Asset] = &[
    asset!("/", "index.html", HTML, false),
    asset!("/app.js", "app.js", JS, false),
    asset!("/style.css", "style.css", CSS, false),
    asset!("/favicon.svg", "favicon.svg", SVG, false),
    asset!("/js/api.js", "js/api.js", JS, false),
    asset!("/js/ui.js", "js/ui.js", JS, false),
    asset!("/js/market.js", "js/market.js", JS, false),
    asset!("/js/trading.js", "js/trading.js", JS, false),
    asset!("/js/indexes.js", "js/indexes.js", JS, false),
    asset!("/js/hedge.js", "js/hedge.js", JS, false),
    asset!("/js/operator.js", "js/operator.js", JS, false),
    asset!(
        "/vendor/lightweight-charts-5.3.0.standalone.production.mjs",
        "vendor/lightweight-charts-5.3.0.standalone.production.mjs",
        JS,
        true
    ),
    asset!(
        "/vendor/LICENSE-lightweight-charts.txt",
        "vendor/LICENSE-lightweight-charts.txt",
        TEXT,
        false
    ),
];

/// The page's content security policy: everything from this server, nothing inline but
/// styles (the chart library sets style attributes), no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", hex::encode(&Sha256::digest(a.bytes)[..16])))
            .collect()
    })
}

fn from_dir(a: &Asset) -> Option<Response> {
    let dir = std::env::var_os("TOKEX_WEB_DIR")?;
    let bytes = std::fs::read(std::path::Path::new(&dir).join(a.file)).ok()?;
    Some(
        (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response(),
    )
}

fn serve(index: usize, req: &HeaderMap) -> Response {
    let a = &ASSETS[index];
    if let Some(r) = (!a.immutable).then(|| from_dir(a)).flatten() {
        return r;
    }
    let etag = &etags()[index];
    let cache = if a.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if a.content_type == HTML {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    let fresh = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    (StatusCode::OK, h, a.bytes).into_response()
}

/// The screen's routes: `GET` (and `HEAD`) of each embedded file. Generic over the state so
/// it merges into the API router at any point.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS.iter().enumerate().fold(Router::new(), |r, (i, a)| {
        r.route(a.path, get(move |h: HeaderMap| async move { serve(i, &h) }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        let served: Vec<&str> = ASSETS.iter().map(|a| a.path).collect();
        for a in ASSETS
            .iter()
            .filter(|a| a.content_type == JS && !a.immutable)
        {
            let text = std::str::from_utf8(a.bytes).expect("utf-8");
            for line in text.lines() {
                let Some(rest) = line.trim().strip_prefix("import ") else {
                    continue;
                };
                let Some(spec) = rest.split(['\'', '"']).nth(1) else {
                    continue;
                };
                let abs = if let Some(s) = spec.strip_prefix("./") {
                    let dir = a.path.rsplit_once('/').map(|x| x.0).unwrap_or("");
                    format!("{dir}/{s}")
                } else if let Some(s) = spec.strip_prefix("../") {
                    format!("/{s}")
                } else {
                    spec.to_string()
                };
                assert!(
                    served.contains(&abs.as_str()),
                    "{} imports {spec} ({abs}), which is not embedded",
                    a.path
                );
            }
        }
        assert!(served
            .iter()
            .any(|p| p.contains(LIGHTWEIGHT_CHARTS_VERSION)));
    }

    #[test]
    fn etag_revalidation_answers_304() {
        let mut h = HeaderMap::new();
        let r = serve(0, &h);
        assert_eq!(r.status(), StatusCode::OK);
        let tag = r.headers()[header::ETAG].clone();
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        h.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(serve(0, &h).status(), StatusCode::NOT_MODIFIED);
    }
}
