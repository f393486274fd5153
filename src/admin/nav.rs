//! The panel's main navigation, from one list: each page's link, its label, and
//! who sees it. `base.hbs` renders what [`items`] returns.

use serde_json::{json, Value};

use super::auth::Auth;
use crate::db::models::Role;

/// (the template of the page, its link, its label), in the order shown.
const NAV: [(&str, &str, &str); 8] = [
    ("dashboard", "/admin", "Dashboard"),
    ("sites", "/admin/sites", "Sites"),
    ("messages", "/admin/messages", "Messages"),
    ("participants", "/admin/participants", "Participants"),
    ("bans", "/admin/bans", "Bans"),
    ("reports", "/admin/reports", "Reports"),
    ("audit", "/admin/audit", "Audit"),
    ("accounts", "/admin/accounts", "Accounts"),
];

/// Pages only owners see (and may open).
const OWNERS_ONLY: [&str; 1] = ["accounts"];

/// The links `auth` sees, `{href, label, current}`, on a page rendered from `template`.
pub fn items(template: &str, auth: &Auth) -> Value {
    let owner = auth.role == Role::Owner;
    NAV.iter()
        .filter(|(page, _, _)| owner || !OWNERS_ONLY.contains(page))
        .map(|&(page, href, label)| json!({"href": href, "label": label, "current": page == template}))
        .collect()
}
