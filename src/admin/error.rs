//! Errors of the admin panel and the one place they become HTTP answers.
//! Internal errors are logged with their detail and shown as a generic page.

use thiserror::Error;
use warp::http::StatusCode;

use crate::db::DbError;
use crate::manage::ManageError;
use crate::moderation::ModerationError;

#[derive(Debug, Error)]
pub enum AdminError {
    /// 404: no such page, or an object on a site the viewer may not see (the
    /// two look the same so that ids on other sites cannot be probed).
    #[error("This page does not exist, or you do not have access to it.")]
    NotFound,
    /// 403: the viewer's role does not allow this action.
    #[error("Your role does not allow this.")]
    Forbidden,
    /// 403: the form's CSRF token is missing or wrong.
    #[error("This form has expired. Go back, reload the page and try again.")]
    Csrf,
    /// 400: the input is wrong; the text says how.
    #[error("{0}")]
    BadRequest(String),
    /// 429: too many costly requests (mails, password hashes) from this
    /// address; the text says when to try again.
    #[error("{0}")]
    TooManyRequests(String),
    /// 303 to the login page.
    #[error("Please log in.")]
    Unauthenticated,
    /// 500: logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdminError {
    pub fn status(&self) -> StatusCode {
        match self {
            AdminError::NotFound => StatusCode::NOT_FOUND,
            AdminError::Forbidden | AdminError::Csrf => StatusCode::FORBIDDEN,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AdminError::Unauthenticated => StatusCode::SEE_OTHER,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the page says; internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            AdminError::Internal(detail) => {
                tracing::error!(error = %detail, "admin panel: internal error");
                "Something went wrong on the server. The error was logged; try again later.".into()
            }
            other => other.to_string(),
        }
    }
}

impl AdminError {
    /// The address's budget of mails and password hashes ran out.
    pub fn spent(wait: std::time::Duration) -> AdminError {
        AdminError::TooManyRequests(format!(
            "Too many requests from your address. Try again in {}.",
            crate::identity::budget::wait_text(wait)
        ))
    }
}

impl From<DbError> for AdminError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => AdminError::NotFound,
            other => AdminError::Internal(other.to_string()),
        }
    }
}

impl From<ModerationError> for AdminError {
    fn from(err: ModerationError) -> Self {
        match err {
            ModerationError::NotFound => AdminError::NotFound,
            ModerationError::Invalid(text) => AdminError::BadRequest(text),
            // Admins are not bound by the quota (`moderation::rooms::Quota`).
            err @ (ModerationError::TooManyRooms | ModerationError::RoomExists(_)) => {
                AdminError::BadRequest(err.to_string())
            }
            ModerationError::Db(db) => db.into(),
        }
    }
}

impl From<ManageError> for AdminError {
    fn from(err: ManageError) -> Self {
        match err {
            ManageError::NotFound => AdminError::NotFound,
            ManageError::Invalid(text) => AdminError::BadRequest(text),
            ManageError::Db(db) => db.into(),
        }
    }
}

impl From<handlebars::RenderError> for AdminError {
    fn from(err: handlebars::RenderError) -> Self {
        AdminError::Internal(format!("template: {err}"))
    }
}

pub type Result<T> = std::result::Result<T, AdminError>;
