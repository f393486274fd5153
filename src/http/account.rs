//! The pages behind the links in account emails: confirm an address, choose a
//! new password. Plain HTML forms, no script; the token in the URL is the only
//! credential, so the pages are never cached and never leak it as a referrer.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::AppState;
use crate::chat::protocol::CloseReason;
use crate::db::models::{Site, TokenProblem};
use crate::identity::accounts::AccountError;
use crate::identity::budget::wait_text;
use crate::input::strict;
use crate::lang::Lang;
use crate::mail::MailError;

#[derive(Deserialize)]
struct LinkQuery {
    token: String,
    #[serde(default)]
    lang: Option<String>,
}

pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    verify(state.clone())
        .or(reset_form(state.clone()))
        .unify()
        .or(reset_submit(state))
        .unify()
}

fn lang(query: Option<&str>, accept: Option<&str>) -> Lang {
    Lang::pick(query.or(accept))
}

/// GET /account/verify?token=...
fn verify(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    link_get(warp::path!("account" / "verify"), state).then(
        |query: LinkQuery, lang: Lang, state: AppState| async move {
            let result = state.chat.accounts.confirm_email(&query.token).await;
            match link_site(&state, lang, result) {
                Ok(site) => page(&state, "verified", lang, &site, json!({}), StatusCode::OK),
                Err(response) => *response,
            }
        },
    )
}

/// GET /account/reset?token=... — the form, if the link is still good.
fn reset_form(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    link_get(warp::path!("account" / "reset"), state).then(
        |query: LinkQuery, lang: Lang, state: AppState| async move {
            let result = state.chat.accounts.reset_link_site(&query.token).await;
            match link_site(&state, lang, result) {
                Ok(site) => {
                    let data = json!({"token": query.token, "error": null});
                    page(&state, "reset_form", lang, &site, data, StatusCode::OK)
                }
                Err(response) => *response,
            }
        },
    )
}

/// A GET of a mail link at `path`: its query and the page's language.
fn link_get(
    path: impl Filter<Extract = (), Error = Rejection> + Clone,
    state: AppState,
) -> impl Filter<Extract = (LinkQuery, Lang, AppState), Error = Rejection> + Clone {
    path.and(warp::get())
        .and(warp::query::<LinkQuery>())
        .and(warp::header::optional::<String>("accept-language"))
        .and(state.with())
        .map(
            |query: LinkQuery, accept: Option<String>, state: AppState| {
                let lang = lang(query.lang.as_deref(), accept.as_deref());
                (query, lang, state)
            },
        )
        .untuple_one()
}

/// The site of a link that is still good, or the page that says why not.
fn link_site(
    state: &AppState,
    lang: Lang,
    result: Result<Result<Site, TokenProblem>, AccountError>,
) -> Result<Site, Box<warp::reply::Response>> {
    match result {
        Ok(Ok(site)) => Ok(site),
        Ok(Err(problem)) => Err(Box::new(link_problem(state, lang, problem))),
        Err(err) => Err(Box::new(unavailable(err))),
    }
}

/// POST /account/reset — token, password, password2 (form-encoded).
fn reset_submit(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("account" / "reset")
        .and(warp::post())
        .and(warp::body::content_length_limit(4096))
        .and(warp::body::bytes())
        .and(warp::header::optional::<String>("accept-language"))
        .and(state.client_ip())
        .and(state.with())
        .then(reset)
}

/// A form-encoded body as fields; a field given twice is refused (400):
/// which one counts would be a guess.
fn read_form(body: &[u8]) -> Result<HashMap<String, String>, Box<warp::reply::Response>> {
    strict::pairs(body)
        .map(|pairs| pairs.into_iter().collect())
        .map_err(|repeated| {
            let message = format!("This form could not be read: {repeated}.");
            Box::new(super::error::json_error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                message,
            ))
        })
}

/// Sets the new password of a reset link, and ends the account's sessions.
async fn reset(
    body: bytes::Bytes,
    accept: Option<String>,
    ip: IpAddr,
    state: AppState,
) -> warp::reply::Response {
    let form = match read_form(&body) {
        Ok(form) => form,
        Err(response) => return *response,
    };
    let lang = lang(form.get("lang").map(String::as_str), accept.as_deref());
    // Each try may hash a password: bounded per address.
    if let Err(wait) = state.chat.accounts.budget().action(ip) {
        return too_many(wait);
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let token = field("token");
    let again = |state: &AppState, site: &Site, error: String| {
        let data = json!({"token": token, "error": error});
        page(
            state,
            "reset_form",
            lang,
            site,
            data,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let site = match link_site(
        &state,
        lang,
        state.chat.accounts.reset_link_site(token).await,
    ) {
        Ok(site) => site,
        Err(response) => return *response,
    };
    if field("password") != field("password2") {
        let message =
            state
                .chat
                .accounts
                .mailer()
                .templates
                .string(lang, "pages", "passwords_differ");
        return again(&state, &site, message);
    }
    match state
        .chat
        .accounts
        .reset_password(token, field("password"))
        .await
    {
        Ok(Ok((site, participant))) => {
            // Connections opened with the old sessions end too.
            if let Some(id) = participant {
                state.chat.hub.close_where(
                    |c| c.participant == Some(id),
                    CloseReason::SignedOut,
                    "you were signed out: the password of your account was changed",
                    None,
                );
            }
            page(&state, "reset_done", lang, &site, json!({}), StatusCode::OK)
        }
        Ok(Err(problem)) => link_problem(&state, lang, problem),
        Err(AccountError::WeakPassword(message)) => again(&state, &site, message),
        Err(err) => unavailable(err),
    }
}

fn page(
    state: &AppState,
    name: &'static str,
    lang: Lang,
    site: &Site,
    data: serde_json::Value,
    status: StatusCode,
) -> warp::reply::Response {
    let templates = &state.chat.accounts.mailer().templates;
    rendered(
        templates.page(name, lang, &[("site", &site.name)], data),
        status,
    )
}

/// A rendered page as a response with `status`; a template that fails is logged.
fn rendered(html: Result<String, MailError>, status: StatusCode) -> warp::reply::Response {
    match html {
        Ok(html) => {
            secure(warp::reply::with_status(warp::reply::html(html), status).into_response())
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot render account page");
            super::error::json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong.".into(),
            )
        }
    }
}

fn link_problem(state: &AppState, lang: Lang, problem: TokenProblem) -> warp::reply::Response {
    let problem = match problem {
        TokenProblem::Expired => "expired",
        TokenProblem::Used => "used",
        TokenProblem::Unknown => "unknown",
    };
    let templates = &state.chat.accounts.mailer().templates;
    let data = json!({ "problem": problem });
    rendered(
        templates.page("link_problem", lang, &[("site", "")], data),
        StatusCode::GONE,
    )
}

fn too_many(wait: std::time::Duration) -> warp::reply::Response {
    let html = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Too many attempts</title>\
         <p>Too many attempts from your address. Try again in {}.</p>",
        wait_text(wait)
    );
    let mut response = secure(
        warp::reply::with_status(warp::reply::html(html), StatusCode::TOO_MANY_REQUESTS)
            .into_response(),
    );
    if let Ok(value) = warp::http::HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

fn unavailable(err: AccountError) -> warp::reply::Response {
    tracing::error!(error = %err, "account page failed");
    super::error::json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "The chat is temporarily unavailable.".into(),
    )
}

fn secure(mut response: warp::reply::Response) -> warp::reply::Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
    ] {
        headers.insert(name, warp::http::HeaderValue::from_static(value));
    }
    response
}
