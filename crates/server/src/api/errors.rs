//! API errors: every failure is `{"code": ..., "message": ...}` with a stable code and an HTTP
//! status that fits. The codes are the engine's [`RejectCode`]s (a command the core refused)
//! plus the gateway's own ([`GATEWAY_CODES`]). docs/API.md lists them all; a test checks it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokex_engine::{Reject, RejectCode};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn invalid_field(message: impl Into<String>) -> ApiError {
        ApiError::bad(INVALID_FIELD, message)
    }
    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, FORBIDDEN, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL, message)
    }
    pub fn unknown_instrument(symbol: &str) -> ApiError {
        ApiError::not_found(
            RejectCode::UnknownInstrument.as_str(),
            format!("no instrument {symbol:?}"),
        )
    }
    pub fn unknown_order(what: impl std::fmt::Display) -> ApiError {
        ApiError::not_found(
            RejectCode::UnknownOrder.as_str(),
            format!("no order {what} in this account"),
        )
    }
}

impl From<&Reject> for ApiError {
    fn from(r: &Reject) -> ApiError {
        ApiError::new(reject_status(r.code), r.code.as_str(), r.message.clone())
    }
}

impl From<crate::SubmitError> for ApiError {
    fn from(e: crate::SubmitError) -> ApiError {
        match e {
            crate::SubmitError::Overloaded => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, OVERLOADED, e.to_string())
            }
            crate::SubmitError::Stopped => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE, e.to_string())
            }
        }
    }
}

#[derive(serde::Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&Body {
            code: self.code,
            message: &self.message,
        })
        .unwrap_or_default();
        let mut resp = (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        resp
    }
}

// ----- gateway codes -----------------------------------------------------------------------

pub const MALFORMED_JSON: &str = "MALFORMED_JSON";
pub const MISSING_FIELD: &str = "MISSING_FIELD";
pub const INVALID_FIELD: &str = "INVALID_FIELD";
pub const INVALID_QUERY: &str = "INVALID_QUERY";
pub const BODY_TOO_LARGE: &str = "BODY_TOO_LARGE";
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const INVALID_API_KEY: &str = "INVALID_API_KEY";
pub const INVALID_SIGNATURE: &str = "INVALID_SIGNATURE";
pub const TIMESTAMP_OUTSIDE_WINDOW: &str = "TIMESTAMP_OUTSIDE_WINDOW";
pub const REPLAYED_REQUEST: &str = "REPLAYED_REQUEST";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const RATE_LIMITED: &str = "RATE_LIMITED";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
pub const UNKNOWN_INDEX: &str = "UNKNOWN_INDEX";
pub const UNKNOWN_PRODUCT: &str = "UNKNOWN_PRODUCT";
pub const UNKNOWN_KEY: &str = "UNKNOWN_KEY";
pub const OVERLOADED: &str = "OVERLOADED";
pub const UNAVAILABLE: &str = "UNAVAILABLE";
pub const INTERNAL: &str = "INTERNAL";

/// The gateway's own codes with their HTTP status, in the order docs/API.md lists them.
pub const GATEWAY_CODES: &[(&str, u16, &str)] = &[
    (MALFORMED_JSON, 400, "the body is not valid JSON"),
    (MISSING_FIELD, 400, "a required field is missing"),
    (
        INVALID_FIELD,
        400,
        "a field has the wrong type, an unknown name, or a value out of its domain",
    ),
    (
        INVALID_QUERY,
        400,
        "a query-string or path parameter is malformed",
    ),
    (BODY_TOO_LARGE, 413, "the body exceeds 64 KiB"),
    (UNAUTHENTICATED, 401, "the signing headers are missing"),
    (INVALID_API_KEY, 401, "no such API key, or it was revoked"),
    (
        INVALID_SIGNATURE,
        401,
        "the signature does not match the request",
    ),
    (
        TIMESTAMP_OUTSIDE_WINDOW,
        401,
        "the timestamp is outside the receive window",
    ),
    (REPLAYED_REQUEST, 401, "this signature was already used"),
    (FORBIDDEN, 403, "the key's role may not do this"),
    (
        RATE_LIMITED,
        429,
        "too many requests for this key: slow down (see Retry-After)",
    ),
    (NOT_FOUND, 404, "no such route"),
    (
        METHOD_NOT_ALLOWED,
        405,
        "the route exists but not with this method",
    ),
    (
        UNKNOWN_INDEX,
        404,
        "no such index, or no fixing on that date",
    ),
    (UNKNOWN_PRODUCT, 404, "no such product"),
    (
        UNKNOWN_KEY,
        404,
        "no such API key (operator key management)",
    ),
    (OVERLOADED, 503, "the sequencer queue is full: retry"),
    (UNAVAILABLE, 503, "the exchange has stopped"),
    (
        INTERNAL,
        500,
        "a bug: the request may or may not have been applied; query by client order id",
    ),
];

/// Every engine reject code (the core's `RejectCode::as_str`), for the docs test.
pub const REJECT_CODES: &[RejectCode] = &[
    RejectCode::UnknownAccount,
    RejectCode::AccountExists,
    RejectCode::UnknownInstrument,
    RejectCode::InstrumentIdMismatch,
    RejectCode::UnknownOrder,
    RejectCode::NotYourOrder,
    RejectCode::MarketClosed,
    RejectCode::NotAllowedInAuction,
    RejectCode::InvalidQuantity,
    RejectCode::OrderTooLarge,
    RejectCode::InvalidPrice,
    RejectCode::PriceOutsideLimits,
    RejectCode::InvalidTimeInForce,
    RejectCode::InvalidMinQty,
    RejectCode::InvalidDisplayQty,
    RejectCode::InvalidPostOnly,
    RejectCode::InvalidStopPrice,
    RejectCode::StopWouldTrigger,
    RejectCode::ExpiryInPast,
    RejectCode::DuplicateClientOrderId,
    RejectCode::PostOnlyWouldTrade,
    RejectCode::NothingToChange,
    RejectCode::TooManyOrders,
    RejectCode::InvalidPhaseChange,
    RejectCode::NotHalted,
    RejectCode::AccountRoleCannotTrade,
    RejectCode::InsufficientMargin,
    RejectCode::PositionLimit,
    RejectCode::InsufficientFunds,
    RejectCode::InvalidAmount,
    RejectCode::InvalidFixing,
    RejectCode::UnknownProduct,
    RejectCode::InvalidMargin,
    RejectCode::InvalidPriceLimit,
    RejectCode::InvalidOrderQtyMax,
    RejectCode::InvalidPositionLimit,
    RejectCode::InvalidFee,
    RejectCode::InvalidProtection,
    RejectCode::Internal,
];

/// The HTTP status of a command the core refused. Exhaustive on purpose: a new reject code
/// does not compile until it has a status here (and a row in docs/API.md).
pub fn reject_status(code: RejectCode) -> StatusCode {
    use RejectCode::*;
    match code {
        UnknownAccount | UnknownInstrument | UnknownOrder | UnknownProduct => StatusCode::NOT_FOUND,
        NotYourOrder | AccountRoleCannotTrade => StatusCode::FORBIDDEN,
        InstrumentIdMismatch | InvalidQuantity | OrderTooLarge | InvalidPrice
        | PriceOutsideLimits | InvalidTimeInForce | InvalidMinQty | InvalidDisplayQty
        | InvalidPostOnly | InvalidStopPrice | StopWouldTrigger | ExpiryInPast | InvalidAmount
        | InvalidFixing | InvalidMargin | InvalidPriceLimit | InvalidOrderQtyMax
        | InvalidPositionLimit | InvalidFee | InvalidProtection => StatusCode::BAD_REQUEST,
        AccountExists
        | MarketClosed
        | NotAllowedInAuction
        | DuplicateClientOrderId
        | PostOnlyWouldTrade
        | NothingToChange
        | TooManyOrders
        | InvalidPhaseChange
        | NotHalted
        | InsufficientMargin
        | PositionLimit
        | InsufficientFunds => StatusCode::CONFLICT,
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Maps a serde_json error on a request body to MALFORMED_JSON / MISSING_FIELD / INVALID_FIELD.
pub fn from_json_error(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad(MALFORMED_JSON, format!("the body is not valid JSON: {e}"))
        }
        Category::Data => {
            let msg = e.to_string();
            if msg.starts_with("missing field") {
                ApiError::bad(MISSING_FIELD, msg)
            } else {
                ApiError::invalid_field(msg)
            }
        }
    }
}
