//! "Forgot your password?" from the login page: a one-time link by email.
//!
//! The answer to a request never says whether the address has an account.
//! Links last an hour, work once, and using one ends every session of the
//! account and voids its other links. Requests are limited per address, and
//! one account gets at most one mail a minute.

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;

use super::auth::login_csrf;
use super::csrf;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::Admin;
use crate::db::models::admin_password_reset::AdminPasswordReset;
use crate::db::models::audit::{AuditAction, AuditEntry};
use crate::db::models::{AdminUser, TokenProblem};
use crate::db::now_ms;
use crate::identity::password;
use crate::input::{check_password, AddressKey, Email};
use crate::lang::Lang;
use crate::mail;
use crate::rate_limit::{self, per_hour, Keyed};

const LINK_TTL_MS: i64 = 3_600_000;
/// One mail per account per minute, whoever asks.
const RESEND_SPACING_MS: i64 = 60_000;

const SENT: &str = "If an account uses that address, a link to choose a new password is on its way. It works once, for one hour.";

/// Ten requests at once per address, then one every six minutes.
pub fn per_ip_limiter() -> Keyed<AddressKey> {
    rate_limit::keyed(per_hour(10))
}

fn page(
    admin: &Admin,
    req: &Request,
    status: StatusCode,
    template: &str,
    data: serde_json::Value,
) -> Result<Reply> {
    let (token, cookie) = login_csrf(admin, req);
    let mut context = json!({ "csrf": token, "email": "", "error": null, "token": "" });
    if let (Some(ctx), serde_json::Value::Object(data)) = (context.as_object_mut(), data) {
        ctx.extend(data);
    }
    let html = admin.templates.render(template, &context)?;
    Ok(Reply::html(status, html).cookie(cookie))
}

/// GET /admin/forgot
pub async fn forgot_form(admin: &Admin, req: &Request) -> Result<Reply> {
    page(
        admin,
        req,
        StatusCode::OK,
        "forgot",
        json!({"title": "Forgot your password?"}),
    )
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// The new-password form; passwords as typed (they keep their spaces).
#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// POST /admin/forgot
pub async fn forgot(admin: &Admin, req: &Request) -> Result<Reply> {
    csrf::verify_login(req)?;
    let form: ForgotForm = req.form()?;
    let typed = form.email.trim();
    // The form again, with what was typed and why it was not taken.
    let again = |status: StatusCode, error: String| {
        let data = json!({"title": "Forgot your password?", "email": typed, "error": error});
        page(admin, req, status, "forgot", data)
    };
    let Ok(email) = Email::parse(&typed.to_lowercase()) else {
        let error = "Enter the email address of your admin account.";
        return again(StatusCode::BAD_REQUEST, error.into());
    };
    if let Err(wait) = rate_limit::take(&admin.forgot_by_ip, &AddressKey::of(req.ip)) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let plural = if minutes == 1 { "" } else { "s" };
        let error =
            format!("Too many requests from your address. Try again in {minutes} minute{plural}.");
        return again(StatusCode::TOO_MANY_REQUESTS, error);
    }
    let due = admin
        .run(move |conn| -> Result<_> {
            let Some(user) = AdminUser::find_by_email(conn, email.as_str())? else {
                return Ok(None);
            };
            if user.disabled {
                return Ok(None);
            }
            let last = AdminPasswordReset::last_issued_at(conn, user.id)?;
            if last.is_some_and(|at| now_ms() - at < RESEND_SPACING_MS) {
                return Ok(None);
            }
            Ok(Some(user))
        })
        .await?;
    // The mailbox's budget is spent only by a mail that would go; when it is
    // gone the answer stays the same, so it tells nothing about the account.
    let due = due.filter(|user| admin.chat.accounts.budget().mail_to(&user.email).is_ok());
    match due {
        Some(user) => {
            let id = user.id;
            let token = admin
                .run(move |conn| AdminPasswordReset::issue(conn, id, LINK_TTL_MS))
                .await?;
            send_link(admin, &user, &token);
        }
        None => {
            tracing::info!(ip = %req.ip, "admin password reset asked for no usable account, too soon, or too often")
        }
    }
    Ok(Reply::redirect("/admin/login").flash(Flash::Ok(SENT.into())))
}

fn send_link(admin: &Admin, user: &AdminUser, token: &str) {
    let mailer = admin.chat.accounts.mailer();
    let link = format!("{}/admin/reset?token={token}", admin.public_url);
    let vars = [
        ("name", user.name.as_str()),
        ("email", user.email.as_str()),
        ("server", admin.public_url.as_str()),
    ];
    let (subject, text, html) = match mailer.templates.mail("admin_reset", Lang::En, &vars, &link) {
        Ok(parts) => parts,
        Err(err) => return tracing::error!(error = %err, "cannot render the admin reset mail"),
    };
    let to = match Email::parse(&user.email) {
        Ok(address) => address.mailbox(&user.name),
        Err(err) => {
            return tracing::warn!(user = %user.id, error = %err, "admin account has an unusable email")
        }
    };
    mailer.send(mail::Email {
        to,
        subject,
        text,
        html,
        kind: "admin password reset",
    });
}

fn problem_text(problem: TokenProblem) -> (StatusCode, &'static str) {
    match problem {
        TokenProblem::Expired => (
            StatusCode::GONE,
            "This link has expired. Ask for a new one from the login page.",
        ),
        TokenProblem::Used => (
            StatusCode::GONE,
            "This link has already been used. Ask for a new one from the login page if you need to.",
        ),
        TokenProblem::Unknown => (
            StatusCode::NOT_FOUND,
            "This link is not valid. Check that you copied all of it, or ask for a new one.",
        ),
    }
}

fn link_problem(admin: &Admin, req: &Request, problem: TokenProblem) -> Result<Reply> {
    let (status, text) = problem_text(problem);
    page(
        admin,
        req,
        status,
        "forgot",
        json!({"title": "Forgot your password?", "error": text}),
    )
}

/// GET /admin/reset?token=...
pub async fn reset_form(admin: &Admin, req: &Request) -> Result<Reply> {
    let token = req.query("token").unwrap_or_default().to_owned();
    let lookup = token.clone();
    let found = admin
        .run(move |conn| AdminPasswordReset::peek(conn, &lookup))
        .await?;
    match found {
        Ok(user) => page(
            admin,
            req,
            StatusCode::OK,
            "reset",
            json!({"title": "Choose a new password", "token": token, "email": user.email}),
        ),
        Err(problem) => link_problem(admin, req, problem),
    }
}

/// POST /admin/reset
pub async fn reset(admin: &Admin, req: &Request) -> Result<Reply> {
    csrf::verify_login(req)?;
    let ResetForm { token, new, repeat } = req.form()?;
    let again = |message: String| {
        page(
            admin,
            req,
            StatusCode::BAD_REQUEST,
            "reset",
            json!({"title": "Choose a new password", "token": token, "error": message}),
        )
    };
    if repeat != new {
        return again("The two passwords are different.".into());
    }
    if let Err(e) = check_password(&new) {
        return again(format!("The new {e}."));
    }
    admin.spend_budget(req.ip)?;
    // Hashing is slow on purpose: only for a link that can still be used.
    let lookup = token.clone();
    let usable = admin
        .run(move |conn| AdminPasswordReset::peek(conn, &lookup))
        .await?;
    if let Err(problem) = usable {
        return link_problem(admin, req, problem);
    }
    let hash = tokio::task::spawn_blocking(move || password::hash(&new))
        .await
        .map_err(|e| AdminError::Internal(format!("password hashing: {e}")))?
        .map_err(|e| AdminError::Internal(format!("password hashing: {e}")))?;
    let (token, ip) = (token.clone(), req.ip.to_string());
    let outcome = admin
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let user = match AdminPasswordReset::redeem(conn, &token)? {
                    Ok(user) => user,
                    Err(problem) => return Ok(Err(problem)),
                };
                user.replace_password(conn, &hash, None)?;
                AuditEntry {
                    actor: crate::db::models::audit::Actor::Admin(user.id),
                    site: None,
                    action: AuditAction::AdminPasswordReset,
                    target_type: "admin_user",
                    target_id: user.id.to_string(),
                    details: format!(
                        "new password from an emailed link, from {ip}; all sessions ended"
                    ),
                }
                .record(conn)?;
                Ok(Ok(()))
            })
        })
        .await?;
    match outcome {
        Ok(()) => Ok(Reply::redirect("/admin/login").flash(Flash::Ok(
            "Your password has been changed and every session was logged out. Log in with the new password."
                .into(),
        ))),
        Err(problem) => link_problem(admin, req, problem),
    }
}
