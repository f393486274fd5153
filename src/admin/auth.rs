//! Logging in and out, server-side sessions, and who may do what.
//!
//! The session cookie holds a random token; the database keeps only its
//! SHA-256, the account and the session's CSRF token. Sessions end after
//! an idle period and after an absolute lifetime, on logout, on a password
//! change (the others), and when the account is disabled.

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use warp::http::StatusCode;

use super::csrf::{self, LOGIN_COOKIE};
use super::error::{AdminError, Result};
use super::reply::{self, Reply};
use super::request::Request;
use super::Admin;
use crate::db::models::admin_session::AdminSession;
use crate::db::models::audit::{Actor, AuditAction, AuditEntry};
use crate::db::models::{AdminUser, Role, SiteId};
use crate::db::now_ms;
use crate::identity::password;
use crate::input::{check_password, random_token, Email};

pub const SESSION_COOKIE: &str = "chatctl_session";

/// A real bcrypt hash to check unknown emails against, so that they take as
/// long as known ones and response times do not reveal which accounts exist.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| password::hash(&random_token(20)).unwrap_or_default())
        .clone()
}

/// The logged-in account behind a request.
pub struct Auth {
    pub user: AdminUser,
    pub role: Role,
    pub session_id: i64,
    pub csrf: String,
    /// Sites a moderator is assigned to; `None` for owners and admins (all sites).
    pub sites: Option<Vec<SiteId>>,
}

impl Auth {
    pub fn actor(&self) -> Actor {
        Actor::Admin(self.user.id)
    }

    pub fn visible(&self) -> Option<&[SiteId]> {
        self.sites.as_deref()
    }

    pub fn can_see(&self, site: SiteId) -> bool {
        self.sites.as_ref().is_none_or(|s| s.contains(&site))
    }

    /// Objects on sites the viewer cannot see do not exist for them.
    pub fn require_site(&self, site: SiteId) -> Result<()> {
        if self.can_see(site) {
            Ok(())
        } else {
            Err(AdminError::NotFound)
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.role, Role::Owner | Role::Admin)
    }

    /// Site configuration and global bans: owners and admins.
    pub fn require_admin(&self) -> Result<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }

    /// Admin accounts: owners only.
    pub fn require_owner(&self) -> Result<()> {
        if self.role == Role::Owner {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Loads the session named by the request's cookie, or fails with `Unauthenticated`.
pub async fn authenticate(admin: &Admin, req: &Request) -> Result<Auth> {
    let token = req
        .cookie(SESSION_COOKIE)
        .ok_or(AdminError::Unauthenticated)?;
    let hash = hash_token(token);
    let (idle_ms, max_ms) = admin.session_limits_ms();
    admin
        .run(move |conn| -> Result<_> {
            let Some((session, user)) = AdminSession::find_by_hash(conn, &hash)? else {
                return Ok(None);
            };
            let now = now_ms();
            if user.disabled
                || now - session.last_seen_at > idle_ms
                || now - session.created_at > max_ms
            {
                AdminSession::delete(conn, session.id)?;
                return Ok(None);
            }
            // One write a minute is enough to keep the idle clock honest.
            if now - session.last_seen_at > 60_000 {
                AdminSession::touch(conn, session.id)?;
            }
            let role = user.role;
            let sites = match role {
                Role::Moderator => Some(user.site_ids(conn)?),
                _ => None,
            };
            Ok(Some(Auth {
                role,
                session_id: session.id,
                csrf: session.csrf_token,
                sites,
                user,
            }))
        })
        .await?
        .ok_or(AdminError::Unauthenticated)
}

fn session_cookie(admin: &Admin, value: &str, max_age: Option<u64>) -> String {
    let mut cookie = format!("{SESSION_COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if admin.secure_cookies {
        cookie.push_str("; Secure");
    }
    cookie
}

/// Only local admin paths: never an open redirect.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/admin") && !n.contains("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/admin".to_owned(),
    }
}

/// The login form. The page a session-less visitor asked for travels in
/// `next` (from the query on GET, a hidden field on POST).
#[derive(Deserialize, Default)]
struct LoginForm {
    #[serde(default)]
    email: String,
    /// As typed: passwords keep their spaces.
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// GET /admin/login
pub async fn login_form(admin: &Admin, req: &Request) -> Result<Reply> {
    if authenticate(admin, req).await.is_ok() {
        return Ok(Reply::redirect(&safe_next(req.query("next"))));
    }
    let form = LoginForm {
        next: req.query("next").map(str::to_owned),
        ..LoginForm::default()
    };
    login_page(admin, req, &form, StatusCode::OK, None)
}

/// The login page again, keeping the address typed and where to go next.
fn login_page(
    admin: &Admin,
    req: &Request,
    typed: &LoginForm,
    status: StatusCode,
    error: Option<String>,
) -> Result<Reply> {
    let (token, cookie) = login_csrf(admin, req);
    let flash = reply::read_flash(req);
    let html = admin.templates.render(
        "login",
        &json!({
            "title": "Log in",
            "csrf": token,
            "error": error,
            "flash": flash.as_ref().map(|(kind, text)| json!({"kind": kind, "text": text})),
            "email": typed.email.trim(),
            "next": safe_next(typed.next.as_deref()),
        }),
    )?;
    let mut reply = Reply::html(status, html).cookie(cookie);
    if flash.is_some() {
        reply = reply.cookie(format!("{}=; Path=/admin; Max-Age=0", reply::FLASH_COOKIE));
    }
    Ok(reply)
}

/// The double-submit CSRF token of forms shown before logging in, and the
/// cookie carrying it. One per browser, reused so that two open tabs do not
/// invalidate each other.
pub fn login_csrf(admin: &Admin, req: &Request) -> (String, String) {
    let token = req
        .cookie(LOGIN_COOKIE)
        .filter(|t| t.len() == 40 && t.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map_or_else(|| random_token(40), str::to_owned);
    let mut cookie = format!("{LOGIN_COOKIE}={token}; Path=/admin; HttpOnly; SameSite=Strict");
    if admin.secure_cookies {
        cookie.push_str("; Secure");
    }
    (token, cookie)
}

/// POST /admin/login
pub async fn login(admin: &Admin, req: &Request) -> Result<Reply> {
    csrf::verify_login(req)?;
    let form: LoginForm = req.form()?;
    let email = form.email.trim().to_lowercase();
    // Counted before the slow check: parallel attempts cannot outrun the limit.
    let attempt = match admin.throttle.reserve(&email, req.ip) {
        Ok(attempt) => attempt,
        Err(wait) => return throttled(admin, req, &form, wait),
    };
    let lookup = email.clone();
    let user = match Email::parse(&lookup) {
        Ok(e) => {
            admin
                .run(move |conn| AdminUser::find_by_email(conn, e.as_str()))
                .await?
        }
        Err(_) => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = form.password.clone();
    let ok = tokio::task::spawn_blocking(move || {
        password::verify(&password, &stored.unwrap_or_else(dummy_hash))
    })
    .await
    .map_err(|e| AdminError::Internal(format!("password check: {e}")))?;
    let user = match user {
        Some(user) if ok => user,
        _ => {
            tracing::info!(ip = %req.ip, "admin login failed");
            return login_page(
                admin,
                req,
                &form,
                StatusCode::UNAUTHORIZED,
                Some("Wrong email or password.".into()),
            );
        }
    };
    if user.disabled {
        return login_page(
            admin,
            req,
            &form,
            StatusCode::FORBIDDEN,
            Some("This account is disabled.".into()),
        );
    }
    attempt.succeeded();
    let token = random_token(43);
    let (hash, csrf_token, ip) = (hash_token(&token), random_token(40), req.ip.to_string());
    admin
        .run(move |conn| {
            AdminSession::create(conn, user.id, &hash, &csrf_token, Some(&ip))?;
            user.record_login(conn)?;
            AuditEntry {
                actor: Actor::Admin(user.id),
                site: None,
                action: AuditAction::AdminLogin,
                target_type: "admin_user",
                target_id: user.id.to_string(),
                details: format!("from {ip}"),
            }
            .record(conn)
        })
        .await?;
    Ok(Reply::redirect(&safe_next(form.next.as_deref()))
        .cookie(session_cookie(admin, &token, None))
        .cookie(format!("{LOGIN_COOKIE}=; Path=/admin; Max-Age=0")))
}

fn throttled(
    admin: &Admin,
    req: &Request,
    typed: &LoginForm,
    wait: std::time::Duration,
) -> Result<Reply> {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    let message = format!(
        "Too many failed attempts. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    );
    login_page(
        admin,
        req,
        typed,
        StatusCode::TOO_MANY_REQUESTS,
        Some(message),
    )
}

/// POST /admin/logout
pub async fn logout(admin: &Admin, auth: &Auth) -> Result<Reply> {
    let id = auth.session_id;
    admin
        .run(move |conn| AdminSession::delete(conn, id))
        .await?;
    Ok(Reply::redirect("/admin/login")
        .cookie(session_cookie(admin, "", Some(0)))
        .flash(reply::Flash::Ok("You are logged out.".into())))
}

/// GET /admin/account
pub async fn account_page(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    admin.page(
        req,
        auth,
        "account",
        json!({"title": "Your account", "notify_reports": auth.user.notify_reports}),
    )
}

/// The notifications form: a box left unticked is absent.
#[derive(Deserialize)]
struct NotificationsForm {
    notify_reports: Option<String>,
}

/// POST /admin/account/notifications
pub async fn set_notifications(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let on = req.form::<NotificationsForm>()?.notify_reports.is_some();
    let user = auth.user.clone();
    admin
        .run(move |conn| user.set_notify_reports(conn, on))
        .await?;
    let text = if on {
        "You will get an email when a message on your sites is reported."
    } else {
        "You will no longer get emails about reports."
    };
    Ok(Reply::redirect("/admin/account").flash(reply::Flash::Ok(text.into())))
}

/// The change-password form; every field as typed (passwords keep their spaces).
#[derive(Deserialize)]
struct ChangePasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// POST /admin/account/password
pub async fn change_password(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let ChangePasswordForm {
        current,
        new,
        repeat,
    } = req.form()?;
    if repeat != new {
        return Err(AdminError::BadRequest(
            "The new passwords do not match.".into(),
        ));
    }
    check_password(&new).map_err(|e| AdminError::BadRequest(format!("The new {e}.")))?;
    admin.spend_budget(req.ip)?;
    let stored = auth.user.password_hash.clone();
    let hash = tokio::task::spawn_blocking(move || {
        if !password::verify(&current, &stored) {
            return Ok(None);
        }
        password::hash(&new).map(Some)
    })
    .await
    .map_err(|e| AdminError::Internal(format!("password hashing: {e}")))?
    .map_err(|e| AdminError::Internal(format!("password hashing: {e}")))?
    .ok_or_else(|| AdminError::BadRequest("The current password is wrong.".into()))?;
    let (user, keep) = (auth.user.clone(), auth.session_id);
    admin
        .run(move |conn| {
            conn.write_transaction(|conn| {
                user.replace_password(conn, &hash, Some(keep))?;
                AuditEntry {
                    actor: Actor::Admin(user.id),
                    site: None,
                    action: AuditAction::AdminPassword,
                    target_type: "admin_user",
                    target_id: user.id.to_string(),
                    details: "changed own password; other sessions and reset links ended".into(),
                }
                .record(conn)
            })
        })
        .await?;
    Ok(Reply::redirect("/admin/account").flash(reply::Flash::Ok(
        "Password changed. Your other sessions were logged out.".into(),
    )))
}
