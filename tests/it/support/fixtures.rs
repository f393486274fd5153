//! Rows a test starts from, made directly in the database: sites (allowed
//! for [`ORIGIN`] unless told otherwise) and admin accounts.
//!
//! ```ignore
//! let site = app.site(&[ORIGIN]).await;
//! let open = app.new_site().registration().create().await;
//! let shop = app.new_site().origins(&[&host.origin()]).settings(settings).create().await;
//! let owner = app.admin("owner@example.com", Role::Owner, &[]).await;
//! ```

use chatctl::db::models::audit::Actor;
use chatctl::db::models::participant::ParticipantQuery;
use chatctl::db::models::site::SiteSettings;
use chatctl::db::models::{
    Account, AdminUser, Participant, Report, Role, Room, RoomScope, Site, SiteId,
};
use chatctl::db::DbError;
use chatctl::input::Origin;
use chatctl::moderation::bans::{self, BanRequest, Banned};

use super::app::{TestApp, ORIGIN};

/// The password of every admin account [`TestApp::admin`] makes.
pub const ADMIN_PASSWORD: &str = "Correct horse 9 battery";
/// A password members register with (strong enough for the server's check).
pub const MEMBER_PASSWORD: &str = "correct Horse 42";

/// A site to create; see [`TestApp::new_site`]. Unlike a site made with
/// `chatctl site create`, it gives each page its own room
/// ([`RoomScope::Page`], what the widget tests were written for) unless
/// [`SiteBuilder::one_room`] says otherwise.
#[must_use = "nothing is created until .create().await"]
pub struct SiteBuilder<'a> {
    app: &'a TestApp,
    origins: Vec<String>,
    settings: SiteSettings,
}

impl SiteBuilder<'_> {
    /// The origins allowed to embed the site (instead of [`ORIGIN`]).
    pub fn origins(mut self, origins: &[&str]) -> Self {
        self.origins = origins.iter().map(|o| o.to_string()).collect();
        self
    }

    /// Visitors may register accounts.
    pub fn registration(mut self) -> Self {
        self.settings.registration_allowed = Some(true);
        self
    }

    /// Every page without `data-room` joins the site's one room (the
    /// default of `chatctl site create`).
    pub fn one_room(mut self) -> Self {
        self.settings.room_scope = Some(RoomScope::Site);
        self
    }

    /// Settings to apply after creation, as `chatctl site set` would.
    pub fn settings(mut self, settings: SiteSettings) -> Self {
        let (registration, scope) = (self.settings.registration_allowed, self.settings.room_scope);
        self.settings = settings;
        self.settings.registration_allowed = self.settings.registration_allowed.or(registration);
        self.settings.room_scope = self.settings.room_scope.or(scope);
        self
    }

    pub async fn create(mut self) -> Site {
        self.settings.room_scope = self.settings.room_scope.or(Some(RoomScope::Page));
        let origins: Vec<Origin> = self
            .origins
            .iter()
            .map(|o| Origin::parse(o).unwrap())
            .collect();
        let site = self
            .app
            .db
            .run(move |conn| Site::create(conn, "Test site", &origins, false))
            .await
            .unwrap();
        self.app.configure_site(&site, self.settings).await;
        site
    }
}

impl TestApp {
    /// A site allowed for [`ORIGIN`], to shape before `.create().await`.
    pub fn new_site(&self) -> SiteBuilder<'_> {
        SiteBuilder {
            app: self,
            origins: vec![ORIGIN.to_owned()],
            settings: SiteSettings::default(),
        }
    }

    /// Creates a site allowed for `origins`.
    pub async fn site(&self, origins: &[&str]) -> Site {
        self.new_site().origins(origins).create().await
    }

    /// Changes a site's settings (no audit line), followed at once by this
    /// server's connections and admission checks, as after the panel's change.
    pub async fn configure_site(&self, site: &Site, settings: SiteSettings) {
        let (id, chat) = (site.id, self.state.chat.clone());
        self.db
            .run(move |conn| settings.apply(conn, id))
            .await
            .unwrap();
        chat.rules.invalidate_site(id);
        chatctl::moderation::rooms::announce_site_rules(&chat, id).await;
    }

    /// Creates an admin account with [`ADMIN_PASSWORD`] (bcrypt cost 4: fast,
    /// same format).
    pub async fn admin(&self, email: &str, role: Role, sites: &[SiteId]) -> AdminUser {
        let (email, sites) = (email.to_owned(), sites.to_vec());
        let hash = bcrypt::hash(ADMIN_PASSWORD, 4).unwrap();
        self.db
            .run(move |conn| AdminUser::create(conn, &email, "Test Admin", &hash, role, &sites))
            .await
            .unwrap()
    }

    /// The id of the first open report (the newest), as the reports page lists it.
    pub async fn first_open_report(&self) -> i64 {
        let open = self
            .db
            .run(|conn| Report::list(conn, None, true, 10))
            .await
            .unwrap();
        open.first().expect("an open report").0.id.0
    }

    /// The room of this name on the site (it must exist).
    pub async fn room(&self, site: &Site, name: &str) -> Room {
        let (id, name) = (site.id, name.to_owned());
        self.db
            .run(move |conn| Room::find_by_name(conn, id, &name))
            .await
            .unwrap()
            .expect("the room exists")
    }

    /// A confirmed member account of `site` whose password has the bcrypt
    /// `hash` (e.g. of [`MEMBER_PASSWORD`], cost 4).
    pub async fn member(&self, site: &Site, email: &str, name: &str, hash: String) -> Account {
        let (id, email, name) = (site.id, email.to_owned(), name.to_owned());
        self.db
            .run(move |conn| -> Result<Account, DbError> {
                let mut account = Account::create(conn, id, &email, &name, &hash)?;
                account.mark_verified(conn)?;
                Ok(account)
            })
            .await
            .unwrap()
    }

    /// Bans the participant named `nick` from `site` for good, from the
    /// command line, with its live effects (their connections close).
    pub async fn ban_named(&self, site: &Site, nick: &str, reason: &str) -> Banned {
        let participant = self.participant_named(nick).await.id;
        let request = BanRequest {
            site: Some(site.id),
            participant: Some(participant),
            cidr: None,
            reason: reason.into(),
            minutes: None,
        };
        bans::ban(&self.state.chat, Actor::CommandLine, request)
            .await
            .unwrap()
    }

    /// The participant with this nickname (the first one found).
    pub async fn participant_named(&self, nick: &str) -> Participant {
        let query = ParticipantQuery::Nick(nick.to_owned());
        self.db
            .run(move |conn| Participant::search(conn, None, &query, 1))
            .await
            .unwrap()
            .remove(0)
    }
}
