//! Registered accounts (seed 000): register with name, email and password,
//! confirm the address through a one-time link, log in and out, resend the
//! confirmation, reset a forgotten password. Accounts belong to one site.

use std::net::IpAddr;
use std::time::Duration;

use thiserror::Error;

use super::budget::Budget;
use super::login_throttle::LoginThrottle;
use super::password;
use crate::db::models::{
    name_key, Account, ParticipantId, Site, SiteId, TokenProblem, TokenPurpose,
};
use crate::db::{now_ms, Db, DbError};
use crate::input::names::reserved::reserved;
use crate::input::{check_password, Email, Nickname};
use crate::lang::Lang;
use crate::mail::{Email as Mail, Mailer};
use crate::webhooks::outbox::{enqueue, Event};
use crate::webhooks::EventType;

const VERIFY_TTL_MS: i64 = 24 * 3600 * 1000;
const RESET_TTL_MS: i64 = 3600 * 1000;
const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
/// Minimum time between two mails of the same kind to one account.
const RESEND_INTERVAL_MS: i64 = 60 * 1000;

/// The links a participant can ask to be mailed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailedLink {
    /// A new confirmation link for an account not yet confirmed.
    Verification,
    /// A password-reset link.
    PasswordReset,
}

#[derive(Debug, Error)]
pub enum AccountError {
    #[error("registration is closed on this site")]
    RegistrationClosed,
    #[error("{0}")]
    InvalidEmail(String),
    #[error("{0}")]
    InvalidName(String),
    #[error(
        "this name is taken on this site (or looks too much like one that is); choose another"
    )]
    NameTaken,
    /// The name looks like, or holds, one kept for the site's staff or the
    /// site itself (`input::names::reserved`); the message says which.
    #[error("{0}")]
    NameReserved(String),
    #[error("{0}")]
    WeakPassword(String),
    #[error("an account with this email already exists; log in or reset the password")]
    EmailTaken,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("confirm your email first: follow the link we sent (or ask for a new one)")]
    EmailNotVerified,
    #[error("too many attempts; try again in {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    #[error("the session has expired or was logged out; log in again")]
    SessionExpired,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("password hashing failed")]
    Hashing,
}

/// The site of a link's account, or why the link no longer works.
pub type LinkSite = Result<Site, TokenProblem>;

pub struct Accounts {
    db: Db,
    mailer: Mailer,
    public_url: String,
    /// Failed logins per account and address, per address, per account
    /// (as the admin panel's: a stranger cannot lock an owner out).
    logins: LoginThrottle,
    /// Mails and password hashes per address, mails per mailbox.
    budget: Budget,
}

impl Accounts {
    pub fn new(db: Db, mailer: Mailer, public_url: String, budget: Budget) -> Self {
        Accounts {
            db,
            mailer,
            public_url,
            logins: LoginThrottle::default(),
            budget,
        }
    }

    /// What the admin panel's and the account pages' forms spend too.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    pub fn prune(&self) {
        self.budget.prune();
    }

    /// Creates an unverified account and mails the confirmation link. Costs
    /// `ip` one action (hash and mail) and the mailbox one mail.
    pub async fn register(
        &self,
        site: &Site,
        (name, email, password): (&str, &str, &str),
        lang: Lang,
        ip: IpAddr,
    ) -> Result<Email, AccountError> {
        if !site.registration_allowed {
            return Err(AccountError::RegistrationClosed);
        }
        let email = Email::parse(email).map_err(|e| AccountError::InvalidEmail(e.0))?;
        let name = Nickname::parse(name).map_err(|e| AccountError::InvalidName(e.0))?;
        if let Some(what) = reserved(name.as_str(), &site.name) {
            return Err(AccountError::NameReserved(what.message(name.as_str())));
        }
        check_password(password).map_err(|e| AccountError::WeakPassword(e.0))?;
        self.budget
            .action(ip)
            .and_then(|()| self.budget.mail_to(email.as_str()))
            .map_err(AccountError::RateLimited)?;
        let hash = hash_password(password).await?;
        let (site_id, address) = (site.id, email.clone());
        let (account, token) = self
            .db
            .run(move |conn| {
                conn.write_transaction(|conn| {
                    if name_key::taken(conn, site_id, &name.key())? {
                        return Err(AccountError::NameTaken);
                    }
                    let account = match Account::create(
                        conn,
                        site_id,
                        address.as_str(),
                        name.as_str(),
                        &hash,
                    ) {
                        Err(DbError::Conflict(_)) => return Err(AccountError::EmailTaken),
                        other => other?,
                    };
                    let token = account.issue_token(conn, TokenPurpose::Verify, VERIFY_TTL_MS)?;
                    let member = serde_json::json!({"member": {
                        "account_id": account.id,
                        "name": account.name,
                        "email": account.email,
                        "verified": false,
                        "created_at": account.created_at,
                    }});
                    let event = Event::new(EventType::MemberRegistered, member);
                    enqueue(conn, Some(site_id), &event)?;
                    Ok((account, token))
                })
            })
            .await?;
        self.mail_link("verify", &account, site, &token, lang);
        Ok(email)
    }

    /// Mails a fresh link of `link`, at most once a minute per account and
    /// within the address's and the mailbox's budgets. Unknown addresses (and,
    /// for confirmation, confirmed ones) get the same answer and no mail, so
    /// this cannot probe which emails have accounts.
    pub async fn mail_again(
        &self,
        link: MailedLink,
        site: &Site,
        email: &str,
        lang: Lang,
        ip: IpAddr,
    ) -> Result<Email, AccountError> {
        let email = Email::parse(email).map_err(|e| AccountError::InvalidEmail(e.0))?;
        self.budget.action(ip).map_err(AccountError::RateLimited)?;
        let (purpose, kind, ttl, wanted): (_, &'static str, i64, fn(&Account) -> bool) = match link
        {
            MailedLink::Verification => (TokenPurpose::Verify, "verify", VERIFY_TTL_MS, |a| {
                !a.is_verified()
            }),
            MailedLink::PasswordReset => (TokenPurpose::Reset, "reset", RESET_TTL_MS, |_| true),
        };
        let (site_id, address) = (site.id, email.as_str().to_owned());
        let due = self
            .db
            .run(move |conn| {
                let Some(account) = Account::find_by_email(conn, site_id, &address)? else {
                    return Ok(None);
                };
                if !wanted(&account) {
                    return Ok(None);
                }
                if let Some(last) = account.last_token_at(conn, purpose)? {
                    let wait = last + RESEND_INTERVAL_MS - now_ms();
                    if wait > 0 {
                        return Err(AccountError::RateLimited(Duration::from_millis(
                            wait as u64,
                        )));
                    }
                }
                Ok(Some(account))
            })
            .await?;
        let Some(account) = due else {
            return Ok(email);
        };
        // Only a mail that would really go counts against the mailbox.
        self.budget
            .mail_to(email.as_str())
            .map_err(AccountError::RateLimited)?;
        let issuing = account.clone();
        let token = self
            .db
            .run(move |conn| issuing.issue_token(conn, purpose, ttl))
            .await?;
        self.mail_link(kind, &account, site, &token, lang);
        Ok(email)
    }

    /// Checks credentials and opens a session; returns its token.
    pub async fn login(
        &self,
        site: &Site,
        email: &str,
        password: &str,
        ip: IpAddr,
    ) -> Result<(String, Account), AccountError> {
        let email = Email::parse(email).map_err(|_| AccountError::InvalidCredentials)?;
        // Counted before the slow check: parallel attempts cannot outrun the limit.
        let attempt = self
            .logins
            .reserve(&format!("{}:{}", site.id, email), ip)
            .map_err(AccountError::RateLimited)?;
        let (site_id, address) = (site.id, email.as_str().to_owned());
        let account = self
            .db
            .run(move |conn| Account::find_by_email(conn, site_id, &address))
            .await?;
        // Hash even for unknown emails so timing does not reveal which exist.
        let stored = account
            .as_ref()
            .map_or(DUMMY_HASH.to_owned(), |a| a.password_hash.clone());
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || password::verify(&password, &stored))
            .await
            .map_err(|_| AccountError::Hashing)?;
        let account = account
            .filter(|_| matches)
            .ok_or(AccountError::InvalidCredentials)?;
        attempt.succeeded();
        if !account.is_verified() {
            return Err(AccountError::EmailNotVerified);
        }
        let opened = account.clone();
        let token = self
            .db
            .run(move |conn| opened.issue_token(conn, TokenPurpose::Session, SESSION_TTL_MS))
            .await?;
        Ok((token, account))
    }

    pub async fn logout(&self, token: &str) -> Result<(), AccountError> {
        let token = token.to_owned();
        self.db
            .run(move |conn| Account::revoke_session(conn, &token))
            .await?;
        Ok(())
    }

    /// The verified account of a live session on this site.
    pub async fn session(&self, site: SiteId, token: &str) -> Result<Account, AccountError> {
        let token = token.to_owned();
        let account = self
            .db
            .run(move |conn| Account::redeem(conn, TokenPurpose::Session, &token))
            .await?;
        match account {
            Ok(account) if account.site_id == site && account.is_verified() => Ok(account),
            _ => Err(AccountError::SessionExpired),
        }
    }

    /// Follows a confirmation link.
    pub async fn confirm_email(&self, token: &str) -> Result<LinkSite, AccountError> {
        let token = token.to_owned();
        Ok(self
            .db
            .run(move |conn| -> Result<_, DbError> {
                let mut account = match Account::redeem(conn, TokenPurpose::Verify, &token)? {
                    Ok(account) => account,
                    Err(problem) => return Ok(Err(problem)),
                };
                if !account.is_verified() {
                    account.mark_verified(conn)?;
                }
                Ok(Ok(Site::find(conn, account.site_id)?))
            })
            .await?)
    }

    /// Whether a reset link is still usable, without using it (to show the form).
    pub async fn reset_link_site(&self, token: &str) -> Result<LinkSite, AccountError> {
        let token = token.to_owned();
        Ok(self
            .db
            .run(move |conn| Account::peek_token(conn, TokenPurpose::Reset, &token))
            .await?)
    }

    /// Sets a new password through a reset link: every session and every
    /// other link of the account ends. Returns the site and the participant the
    /// account chats as, whose open connections the caller closes.
    pub async fn reset_password(
        &self,
        token: &str,
        password: &str,
    ) -> Result<Result<(Site, Option<ParticipantId>), TokenProblem>, AccountError> {
        check_password(password).map_err(|e| AccountError::WeakPassword(e.0))?;
        let hash = hash_password(password).await?;
        let token = token.to_owned();
        Ok(self
            .db
            .run(move |conn| {
                conn.write_transaction(|conn| -> Result<_, DbError> {
                    let mut account = match Account::redeem(conn, TokenPurpose::Reset, &token)? {
                        Ok(account) => account,
                        Err(problem) => return Ok(Err(problem)),
                    };
                    account.replace_password(conn, &hash)?;
                    Ok(Ok((
                        Site::find(conn, account.site_id)?,
                        account.participant_id,
                    )))
                })
            })
            .await?)
    }

    fn mail_link(
        &self,
        kind: &'static str,
        account: &Account,
        site: &Site,
        token: &str,
        lang: Lang,
    ) {
        let path = if kind == "verify" { "verify" } else { "reset" };
        let link = format!(
            "{}/account/{path}?token={token}&lang={}",
            self.public_url,
            lang.code()
        );
        let vars = [
            ("name", account.name.as_str()),
            ("site", site.name.as_str()),
        ];
        let (subject, text, html) = match self.mailer.templates.mail(kind, lang, &vars, &link) {
            Ok(parts) => parts,
            Err(err) => return tracing::error!(error = %err, "cannot render mail"),
        };
        let Ok(address) = Email::parse(&account.email) else {
            return tracing::error!(
                account = account.id,
                "stored email is not sendable; mail not sent"
            );
        };
        self.mailer.send(Mail {
            to: address.mailbox(&account.name),
            subject,
            text,
            html,
            kind,
        });
    }
}

/// A valid bcrypt hash of a random string: verifying against it costs the same
/// as a real check and always fails.
const DUMMY_HASH: &str = "$2b$12$C6UzMDM.H6dfI/f/IKxGhuQJ9HmrKrB/aQdwz0Vj8hhoHd6qeZ5JO";

async fn hash_password(password: &str) -> Result<String, AccountError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|_| AccountError::Hashing)?
        .map_err(|_| AccountError::Hashing)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_dummy_hash_is_a_real_bcrypt_hash() {
        // A malformed hash would fail fast and let timing reveal unknown emails.
        assert_eq!(
            bcrypt::verify("anything", super::DUMMY_HASH).ok(),
            Some(false)
        );
    }
}
