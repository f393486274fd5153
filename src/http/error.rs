//! Maps rejections to JSON error bodies: `{"error": code, "message": text}`.
//! Internal errors are logged here and never shown to clients.

use std::convert::Infallible;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reject::Reject;
use warp::{Rejection, Reply};

use crate::chat::UpgradeError;

#[derive(Debug)]
pub struct Refused(pub UpgradeError);

impl Reject for Refused {}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

pub fn status_of(err: &UpgradeError) -> StatusCode {
    match err {
        UpgradeError::UnknownSite => StatusCode::NOT_FOUND,
        UpgradeError::SiteDisabled
        | UpgradeError::OriginRequired
        | UpgradeError::OriginNotAllowed
        | UpgradeError::Banned { .. } => StatusCode::FORBIDDEN,
        UpgradeError::TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
        UpgradeError::ShuttingDown | UpgradeError::Db(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The JSON answer to a refused upgrade; database details stay in the log.
pub fn upgrade_error(err: &UpgradeError) -> warp::reply::Response {
    if let UpgradeError::Banned { reason, until } = err {
        // The reason and end apart too, for clients that show them in their own words.
        let body = serde_json::json!({
            "error": err.code(), "message": err.to_string(), "reason": reason, "until": until,
        });
        return warp::reply::with_status(warp::reply::json(&body), status_of(err)).into_response();
    }
    let message = match err {
        UpgradeError::Db(db) => {
            tracing::error!(error = %db, "database error while admitting a connection");
            "The chat is temporarily unavailable.".to_owned()
        }
        other => other.to_string(),
    };
    json_error(status_of(err), err.code(), message)
}

pub fn json_error(status: StatusCode, code: &str, message: String) -> warp::reply::Response {
    warp::reply::with_status(
        warp::reply::json(&ErrorBody {
            error: code,
            message,
        }),
        status,
    )
    .into_response()
}

pub async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    if let Some(Refused(err)) = rejection.find() {
        return Ok(upgrade_error(err));
    }
    if let Some(super::ws::upgrade::NotAnUpgrade(why)) = rejection.find() {
        return Ok(json_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("{why}."),
        ));
    }
    if rejection.is_not_found() {
        return Ok(json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such page.".into(),
        ));
    }
    if let Some(err) = rejection.find::<warp::reject::InvalidQuery>() {
        return Ok(json_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            err.to_string(),
        ));
    }
    if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        return Ok(json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed.".into(),
        ));
    }
    if let Some(err) = rejection.find::<warp::reject::MissingHeader>() {
        return Ok(json_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            err.to_string(),
        ));
    }
    if let Some(err) = rejection.find::<warp::reject::InvalidHeader>() {
        return Ok(json_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            err.to_string(),
        ));
    }
    tracing::debug!(?rejection, "unhandled rejection");
    Ok(json_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "The request could not be handled.".into(),
    ))
}
