//! Who is saying hello: a host-verified user (JWT), a registered member (login
//! session), a returning guest (guest token) or a new guest (nickname). A bad
//! token is an error, never a silent downgrade to guest.

use std::net::IpAddr;

use super::cluster::control::{self, Control};
use super::guest_names::{self, Wanted};
use super::hub::Hub;
use super::protocol::ErrorCode;
use super::refusal::Refusal;
use super::Chat;
use crate::db::models::{Ban, Participant, ParticipantId, ParticipantKind, Site, SiteId};
use crate::db::DbConn;
use crate::identity::accounts::AccountError;
use crate::identity::host::HostUser;
use crate::identity::TokenError;
use crate::input::{NameKey, Nickname, RoomName};

/// The identity fields of a `hello`.
pub struct Credentials {
    pub nick: Option<String>,
    pub guest_token: Option<String>,
    pub token: Option<String>,
    pub account_token: Option<String>,
}

pub struct Identified {
    pub participant: Participant,
    /// Rooms a host-verified token limits the user to.
    pub rooms: Option<Vec<RoomName>>,
    pub ban: Option<Ban>,
}

enum Claim {
    Host(HostUser),
    Member {
        account: i64,
        name: String,
    },
    ReturningGuest {
        id: ParticipantId,
        rename: Option<Wanted>,
    },
    NewGuest(Wanted),
}

/// Checks the credentials of a `hello`, then finds or creates the participant
/// they name and looks up any ban on them or on `ip`.
pub async fn identify(
    chat: &Chat,
    site: &Site,
    ip: IpAddr,
    credentials: Credentials,
) -> Result<Identified, Refusal> {
    let claim = claim(chat, site, ip, credentials).await?;
    let (site_id, ip_text, hub) = (site.id, ip.to_string(), chat.hub.clone());
    let site_name = site.name.clone();
    let instance = chat.instance;
    // One transaction for the participant, its address and a rename's
    // event (the name check and the new guest's row are atomic), committed
    // with the other hellos waiting: a room reconnecting after a restart is
    // thousands of hellos at once.
    let settled = chat
        .db
        .run_grouped(move |conn| {
            let (participant, rooms, renamed) =
                settle(conn, &hub, (site_id, &site_name), &ip_text, claim)?;
            Participant::record_ip(conn, participant.id, &ip_text)?;
            if renamed {
                let change = Control::ParticipantChanged {
                    participant: participant.id,
                };
                control::record(conn, Some(instance), &change)?;
            }
            Ok::<_, Refusal>((participant, rooms, renamed))
        })
        .await?;
    let (participant, rooms, renamed) = settled;
    let ban = chat
        .admission
        .ban(site_id, Some(participant.id), Some(ip))
        .await?;
    let identified = Identified {
        participant,
        rooms,
        ban,
    };
    if renamed {
        renamed_here(chat, &identified.participant);
    }
    Ok(identified)
}

/// Someone is shown under a new name or picture: the rooms they are present
/// in here list them so, and the history kept in memory that shows the old
/// one is read again, here and on the other instances (told by the event
/// recorded with the change).
pub(super) fn renamed_here(chat: &Chat, participant: &Participant) {
    chat.hub
        .participant_changed(&super::rooms::who(participant));
    chat.hub.recent_author_changed(participant.id);
    chat.tell_others();
}

/// Who the credentials say this is, checked without the database: a host's
/// JWT first, then a member's session, then a guest token or a nickname.
async fn claim(
    chat: &Chat,
    site: &Site,
    ip: IpAddr,
    credentials: Credentials,
) -> Result<Claim, Refusal> {
    let nick = credentials
        .nick
        .map(|n| Nickname::parse(&n))
        .transpose()
        .map_err(|e| Refusal::new(ErrorCode::InvalidNick, e.to_string()))?;
    if let Some(token) = credentials.token {
        let user = HostUser::verify(&token, &site.secret, &site.public_key)
            .map_err(|e| Refusal::new(ErrorCode::InvalidToken, capitalized(&e.to_string())))?;
        return Ok(Claim::Host(user));
    }
    if let Some(token) = credentials.account_token {
        let account = chat
            .accounts
            .session(site.id, &token)
            .await
            .map_err(account_refusal)?;
        return Ok(Claim::Member {
            account: account.id,
            name: account.name,
        });
    }
    if site.verified_required {
        return Err(Refusal::new(
            ErrorCode::VerificationRequired,
            "This chat is only open to signed-in users.",
        ));
    }
    match credentials.guest_token {
        Some(token) => {
            let id = chat.guest_tokens.verify(&token, site.id).map_err(|e| {
                let message = match e {
                    TokenError::Invalid => {
                        "The guest token is invalid or expired. Choose a nickname again."
                    }
                    TokenError::WrongSite => {
                        "The guest token belongs to another site. Choose a nickname again."
                    }
                };
                Refusal::new(ErrorCode::InvalidToken, message)
            })?;
            let rename = nick.map(|nick| Wanted::new(nick, &site.name)).transpose()?;
            Ok(Claim::ReturningGuest { id, rename })
        }
        None if !site.guests_allowed => Err(Refusal::new(
            ErrorCode::GuestsNotAllowed,
            "This site does not allow guests.",
        )),
        None => {
            let nick =
                nick.ok_or_else(|| Refusal::new(ErrorCode::InvalidNick, "Choose a nickname."))?;
            if let Some(wait) = super::limits::wait_for(&chat.new_guest_limiter, &ip) {
                return Err(Refusal {
                    code: ErrorCode::RateLimited,
                    message: format!(
                        "Too many new guests from your address. Try again in {} s.",
                        wait.as_secs().max(1)
                    ),
                    retry_after_ms: Some(wait.as_millis().max(1) as u64),
                    suggestion: None,
                    reason: None,
                });
            }
            Ok(Claim::NewGuest(Wanted::new(nick, &site.name)?))
        }
    }
}

/// The participant a claim names on the site `site` (id and name), created
/// or updated (name, last address), with the rooms a host's token limits
/// them to, and whether the name or picture others see changed.
fn settle(
    conn: &mut DbConn,
    hub: &Hub,
    site: (SiteId, &str),
    ip_text: &str,
    claim: Claim,
) -> Result<(Participant, Option<Vec<RoomName>>, bool), Refusal> {
    let site_id = site.0;
    Ok(match claim {
        Claim::Host(user) => {
            let (p, renamed) = Participant::upsert_external(
                conn,
                site_id,
                ParticipantKind::Verified,
                &user.subject,
                user.name.as_str(),
                user.avatar.as_deref(),
                Some(ip_text),
            )?;
            (p, user.rooms, renamed)
        }
        Claim::Member { account, name } => {
            let (p, renamed) = Participant::upsert_external(
                conn,
                site_id,
                ParticipantKind::Member,
                &account.to_string(),
                &name,
                None,
                Some(ip_text),
            )?;
            crate::db::models::Account::link(conn, account, p.id)?;
            (p, None, renamed)
        }
        Claim::ReturningGuest { id, rename } => match Participant::find(conn, id)? {
            // Guest tokens only ever name guests; anything else is a forgery or stale.
            Some(mut p) if p.site_id == site_id && p.kind == ParticipantKind::Guest => {
                // A kept name is checked again: a member or verified user
                // may have taken it since, or another guest while they were
                // away, or it may hold a character refused since.
                let (nick, key) = match rename {
                    Some(Wanted { nick, key }) => {
                        guest_names::check_free(conn, hub, site, nick.as_str(), &key, Some(p.id))?;
                        (nick.into_inner(), key)
                    }
                    None => {
                        Nickname::parse(&p.nick).map_err(|e| {
                            Refusal::new(
                                ErrorCode::InvalidNick,
                                format!("Your nickname is no longer allowed: {e}. Choose another nickname."),
                            )
                        })?;
                        guest_names::check(conn, hub, site, &p.nick, Some(p.id))?;
                        (p.nick.clone(), NameKey::of(&p.nick))
                    }
                };
                let renamed = p.nick != nick;
                p.touch(conn, (&nick, &key), Some(ip_text))?;
                (p, None, renamed)
            }
            _ => {
                return Err(Refusal::new(
                    ErrorCode::InvalidToken,
                    "This guest identity no longer exists. Choose a nickname again.",
                ))
            }
        },
        Claim::NewGuest(Wanted { nick, key }) => {
            guest_names::check_free(conn, hub, site, nick.as_str(), &key, None)?;
            let p = Participant::create_guest_keyed(
                conn,
                site_id,
                (nick.as_str(), &key),
                Some(ip_text),
            )?;
            (p, None, false)
        }
    })
}

/// The error frame for an account operation that failed.
pub fn account_refusal(err: AccountError) -> Refusal {
    let code = match &err {
        AccountError::RegistrationClosed => ErrorCode::RegistrationClosed,
        AccountError::InvalidEmail(_) => ErrorCode::InvalidEmail,
        AccountError::InvalidName(_) => ErrorCode::InvalidNick,
        AccountError::NameTaken => ErrorCode::NickTaken,
        AccountError::NameReserved(_) => ErrorCode::NickReserved,
        AccountError::WeakPassword(_) => ErrorCode::WeakPassword,
        AccountError::EmailTaken => ErrorCode::EmailTaken,
        AccountError::InvalidCredentials => ErrorCode::InvalidCredentials,
        AccountError::EmailNotVerified => ErrorCode::EmailNotVerified,
        AccountError::SessionExpired => ErrorCode::SessionExpired,
        AccountError::RateLimited(wait) => {
            return Refusal {
                code: ErrorCode::RateLimited,
                message: capitalized(&err.to_string()),
                retry_after_ms: Some(wait.as_millis().max(1) as u64),
                suggestion: None,
                reason: None,
            }
        }
        AccountError::Db(db) => {
            tracing::error!(error = %db, "database error in an account operation");
            return Refusal::new(
                ErrorCode::StorageUnavailable,
                "The chat is temporarily unavailable. Try again shortly.",
            );
        }
        AccountError::Hashing => {
            tracing::error!("password hashing failed");
            return Refusal::new(
                ErrorCode::StorageUnavailable,
                "The chat is temporarily unavailable. Try again shortly.",
            );
        }
    };
    Refusal::new(code, capitalized(&err.to_string()))
}

pub fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    let mut out: String = chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}
