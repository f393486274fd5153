//! Who is on the connection: `hello` identifies the participant (guest,
//! host-verified user or member), and the account frames (register, log in and
//! out, confirmation and reset mails) that work before and after it.

use super::*;
use crate::chat::identify::{account_refusal, identify, Identified};
use crate::db::models::{ParticipantKind, RoomScope, SITE_ROOM};
use crate::identity::accounts::MailedLink;
use crate::lang::Lang;

impl Session {
    pub(super) async fn hello(
        &mut self,
        v: u32,
        credentials: Credentials,
    ) -> Result<Flow, Refusal> {
        if self.me.is_some() {
            return Err(Refusal::new(
                ErrorCode::AlreadyReady,
                "This connection already said hello.",
            ));
        }
        if v != PROTOCOL_VERSION {
            return Err(Refusal::new(
                ErrorCode::UnsupportedVersion,
                format!(
                    "Protocol version {v} is not supported; this server speaks {PROTOCOL_VERSION}."
                ),
            ));
        }
        self.refresh_site().await?;
        let Identified {
            participant,
            rooms,
            ban,
        } = identify(&self.chat, &self.site, self.ip, credentials).await?;
        if let Some(ban) = ban {
            return Ok(Flow::Close {
                reason: CloseReason::Banned,
                // The reason alone: the notice says the rest (CloseRequest).
                message: ban.reason,
                until: ban.expires_at,
            });
        }
        let who = who(&participant);
        self.chat.hub.identify(self.handle.id, participant.id);
        // Only guests get a guest token: it must never stand in for a verified identity.
        let guest_token = (participant.kind == ParticipantKind::Guest)
            .then(|| self.chat.guest_tokens.issue(participant.id, self.site.id));
        let limits = &self.chat.limits;
        self.reply(ServerFrame::Ready {
            v: PROTOCOL_VERSION,
            me: who.clone(),
            guest_token,
            limits: AnnouncedLimits {
                max_message_chars: self.max_message_chars(),
                max_frame_bytes: limits.max_frame_bytes,
                messages_per_second: limits.messages_per_second,
                burst: limits.message_burst,
            },
            heartbeat_ms: limits.heartbeat_secs * 1000,
            default_room: (self.site.room_scope == RoomScope::Site).then_some(SITE_ROOM),
        });
        self.me = Some(Me {
            participant: participant.id,
            who,
            rooms,
        });
        Ok(Flow::Continue)
    }

    /// Account frames work before and after `hello`: a guest can register or log
    /// in, then reconnect with the session.
    pub(super) async fn account(&mut self, frame: ClientFrame) -> Result<(), Refusal> {
        let accounts = &self.chat.accounts;
        let reply = match frame {
            ClientFrame::Register {
                name,
                email,
                password,
                lang,
            } => {
                let email = accounts
                    .register(
                        &self.site,
                        (&name, &email, &password),
                        Lang::pick(lang.as_deref()),
                        self.ip,
                    )
                    .await;
                ServerFrame::Registered {
                    email: email.map_err(account_refusal)?.into_inner(),
                }
            }
            ClientFrame::Login { email, password } => {
                let (account_token, account) = accounts
                    .login(&self.site, &email, &password, self.ip)
                    .await
                    .map_err(account_refusal)?;
                ServerFrame::LoggedIn {
                    account_token,
                    name: account.name,
                    email: account.email,
                }
            }
            ClientFrame::Logout { account_token } => {
                accounts
                    .logout(&account_token)
                    .await
                    .map_err(account_refusal)?;
                ServerFrame::LoggedOut {}
            }
            ClientFrame::ResendVerification { email, lang } => ServerFrame::VerificationSent {
                email: self
                    .mail_again(MailedLink::Verification, &email, lang)
                    .await?,
            },
            ClientFrame::ForgotPassword { email, lang } => ServerFrame::ResetSent {
                email: self
                    .mail_again(MailedLink::PasswordReset, &email, lang)
                    .await?,
            },
            _ => return Ok(()),
        };
        self.reply(reply);
        Ok(())
    }

    /// Mails `link` again to `email`, in the language the widget asked for.
    async fn mail_again(
        &self,
        link: MailedLink,
        email: &str,
        lang: Option<String>,
    ) -> Result<String, Refusal> {
        let lang = Lang::pick(lang.as_deref());
        let email = self
            .chat
            .accounts
            .mail_again(link, &self.site, email, lang, self.ip);
        Ok(email.await.map_err(account_refusal)?.into_inner())
    }
}
