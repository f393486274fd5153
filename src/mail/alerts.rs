//! Mails to moderators when a visitor reports a message.
//!
//! Only the first open report on a message mails anyone, and each site has a
//! small budget of alerts so a report flood cannot flood inboxes; every mail
//! says how many reports are open, so one that was held back is covered by
//! the next.

use serde_json::json;

use super::{Email, Mailer};
use crate::db::models::{AdminUser, Participant, Report, ReportId, Site, SiteId};
use crate::db::{Db, DbError};
use crate::rate_limit::{self, per_hour, with_burst, Keyed};

pub struct ReportAlerts {
    db: Db,
    mailer: Mailer,
    public_url: String,
    /// Five alerts at once per site, then one every two minutes.
    per_site: Keyed<SiteId>,
}

/// What one alert says, gathered in one database visit.
struct Facts {
    site: Site,
    room: String,
    author: String,
    text: String,
    reason: String,
    open: i64,
    recipients: Vec<AdminUser>,
}

impl ReportAlerts {
    pub fn new(db: Db, mailer: Mailer, public_url: &str) -> Self {
        ReportAlerts {
            db,
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
            per_site: rate_limit::keyed(with_burst(per_hour(30), 5)),
        }
    }

    /// Tells the site's moderators about a new report, in the background.
    pub fn reported(self: &std::sync::Arc<Self>, site: SiteId, report: ReportId) {
        if rate_limit::take(&self.per_site, &site).is_err() {
            tracing::info!(%site, %report, "report alert held back: this site had many just now");
            return;
        }
        let alerts = self.clone();
        tokio::spawn(async move {
            if let Err(err) = alerts.send(report).await {
                tracing::error!(%report, error = %err, "cannot prepare the report alert");
            }
        });
    }

    async fn send(&self, report: ReportId) -> Result<(), DbError> {
        let facts = self
            .db
            .run(move |conn| -> Result<_, DbError> {
                let Some((report, message, room)) = Report::find(conn, report)? else {
                    return Ok(None);
                };
                let author = Participant::find(conn, message.participant_id)?
                    .map_or_else(|| "someone".to_owned(), |p| p.nick);
                Ok(Some(Facts {
                    site: Site::find(conn, report.site_id)?,
                    open: Report::open_count(conn, report.site_id)?,
                    recipients: AdminUser::report_recipients(conn, report.site_id)?,
                    room,
                    author,
                    text: message.body,
                    reason: report.reason,
                }))
            })
            .await?;
        let Some(facts) = facts else {
            return Ok(());
        };
        let data = json!({
            "site": facts.site.name,
            "room": facts.room,
            "author": facts.author,
            "text": facts.text,
            "reason": facts.reason,
            "open": facts.open,
            "plural": facts.open != 1,
            "link": format!("{}/admin/reports", self.public_url),
            "account_link": format!("{}/admin/account", self.public_url),
        });
        let (text, html) = match self.mailer.templates.bodies("report", &data) {
            Ok(bodies) => bodies,
            Err(err) => {
                tracing::error!(error = %err, "cannot render the report alert");
                return Ok(());
            }
        };
        let subject = format!("Message reported on {}", facts.site.name);
        for user in facts.recipients {
            let to = match crate::input::Email::parse(&user.email) {
                Ok(address) => address.mailbox(&user.name),
                Err(err) => {
                    tracing::warn!(user = %user.id, error = %err, "admin account has an unusable email");
                    continue;
                }
            };
            self.mailer.send(Email {
                to,
                subject: subject.clone(),
                text: text.clone(),
                html: html.clone(),
                kind: "report alert",
            });
        }
        Ok(())
    }
}
