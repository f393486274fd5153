//! The message log: filters, keyset pagination, deletion, and streamed CSV /
//! JSON export of the filtered log.

use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::{sites, Admin};
use crate::db::models::audit::AuditAction;
use crate::db::models::message_log::{self, Cursor, LogEntry, LogFilter};
use crate::db::models::{Message, MessageId, Participant, ParticipantId, Room, RoomId, SiteId};
use crate::moderation;
use crate::timefmt;

const PAGE: i64 = 50;
/// Rows read per query while exporting.
const EXPORT_CHUNK: i64 = 500;

pub enum Format {
    Csv,
    Json,
}

/// The filter in the query string, checked against what the viewer may see.
async fn filter(admin: &Admin, req: &Request, auth: &Auth) -> Result<LogFilter> {
    let site: Option<SiteId> = req.query_as::<i64>("site")?.map(SiteId);
    if let Some(site) = site {
        auth.require_site(site)?;
    }
    let room: Option<RoomId> = req.query_as::<i64>("room")?.map(RoomId);
    if let Some(room) = room {
        let found = admin.run(move |conn| Room::find(conn, room)).await?;
        auth.require_site(found.site_id)?;
    }
    let participant: Option<ParticipantId> = req.query_as::<i64>("participant")?.map(ParticipantId);
    if let Some(p) = participant {
        let found = admin.find(move |conn| Participant::find(conn, p)).await?;
        auth.require_site(found.site_id)?;
    }
    let date = |name: &str| -> Result<Option<i64>> {
        req.query(name)
            .map(|raw| {
                timefmt::parse(raw).ok_or_else(|| {
                    AdminError::BadRequest(format!("{raw:?} is not a date (use YYYY-MM-DD)."))
                })
            })
            .transpose()
    };
    // A bare end date means "through that day".
    let to = date("to")?.map(|t| match req.query("to") {
        Some(raw) if !raw.contains(['T', ' ']) => t + 86_400_000,
        _ => t,
    });
    Ok(LogFilter {
        visible_sites: auth.sites.clone(),
        site,
        room,
        participant,
        text: req.query("q").map(str::to_owned),
        from: date("from")?,
        to,
    })
}

fn row((message, author, room): &LogEntry) -> serde_json::Value {
    json!({
        "id": message.id,
        "site_id": message.site_id,
        "room": room,
        "room_id": message.room_id,
        "seq": message.seq,
        "text": message.body,
        "ip": message.ip,
        "created_at": message.created_at,
        "deleted": message.deleted_at.is_some(),
        "author": {"id": author.id, "nick": author.nick, "kind": author.kind},
    })
}

/// The current query string with `after` replaced (or removed).
fn link(req: &Request, after: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for name in ["site", "room", "participant", "q", "from", "to"] {
        if let Some(v) = req.query(name) {
            query.append_pair(name, v);
        }
    }
    if let Some(after) = after {
        query.append_pair("after", after);
    }
    query.finish()
}

/// GET /admin/messages
pub async fn log(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let filter = filter(admin, req, auth).await?;
    let after = match req.query("after") {
        Some(raw) => Some(
            Cursor::decode(raw).ok_or_else(|| AdminError::BadRequest("Bad page link.".into()))?,
        ),
        None => None,
    };
    let f = filter.clone();
    let mut rows = admin
        .run(move |conn| message_log::page(conn, &f, after, PAGE + 1))
        .await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next = more
        .then(|| rows.last().map(|(m, _, _)| Cursor::of(m).encode()))
        .flatten()
        .map(|c| format!("/admin/messages?{}", link(req, Some(&c))));
    let sites = sites::visible(admin, auth).await?;
    let rooms = match filter.site {
        Some(site) => {
            admin
                .run(move |conn| Room::list_for_site(conn, site))
                .await?
        }
        None => Vec::new(),
    };
    let room_options: Vec<_> = rooms
        .iter()
        .map(|r| json!({"id": r.id, "name": r.name, "selected": Some(r.id) == filter.room}))
        .collect();
    let query = link(req, None);
    admin.page(
        req,
        auth,
        "messages",
        json!({
            "title": "Message log",
            "messages": rows.iter().map(row).collect::<Vec<_>>(),
            "sites": sites::options(&sites, filter.site),
            "rooms": room_options,
            "q": req.query("q").unwrap_or_default(),
            "from": req.query("from").unwrap_or_default(),
            "to": req.query("to").unwrap_or_default(),
            "participant": req.query("participant").unwrap_or_default(),
            "first_page": after.is_none(),
            "first_link": format!("/admin/messages?{query}"),
            "next": next,
            "export_csv": format!("/admin/messages/export.csv?{query}"),
            "export_json": format!("/admin/messages/export.json?{query}"),
        }),
    )
}

/// A CSV cell: quoted when needed, and defused when a spreadsheet would
/// read it as a formula.
fn csv_cell(raw: &str) -> String {
    let mut value = raw.to_owned();
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        value.insert(0, '\'');
    }
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn csv_line(entry: &LogEntry) -> String {
    let (m, author, room) = entry;
    let cells = [
        m.id.to_string(),
        timefmt::iso(m.created_at),
        m.site_id.to_string(),
        csv_cell(room),
        m.seq.to_string(),
        author.id.to_string(),
        csv_cell(&author.nick),
        csv_cell(m.ip.as_deref().unwrap_or_default()),
        m.deleted_at.map(timefmt::iso).unwrap_or_default(),
        csv_cell(&m.body),
    ];
    let mut line = cells.join(",");
    line.push_str("\r\n");
    line
}

fn json_line(entry: &LogEntry) -> String {
    let (m, author, room) = entry;
    json!({
        "id": m.id,
        "created_at": timefmt::iso(m.created_at),
        "site_id": m.site_id,
        "room": room,
        "seq": m.seq,
        "author": {"id": author.id, "nick": author.nick, "kind": author.kind},
        "ip": m.ip,
        "deleted_at": m.deleted_at.map(timefmt::iso),
        "text": m.body,
    })
    .to_string()
}

/// GET /admin/messages/export.{csv,json} — the filtered log, streamed page by
/// page from a blocking task: memory stays flat whatever the size.
pub async fn export(admin: &Admin, req: &Request, auth: &Auth, format: Format) -> Result<Reply> {
    let filter = filter(admin, req, auth).await?;
    let (tx, mut rx) = mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(4);
    let db = admin.chat.db.clone();
    let csv = matches!(format, Format::Csv);
    let audit_filter = format!("{:?}", filter);
    let actor = auth.actor();
    tokio::task::spawn_blocking(move || {
        let head = if csv {
            "id,created_at,site_id,room,seq,participant_id,nick,ip,deleted_at,text\r\n"
        } else {
            "[\n"
        };
        if tx.blocking_send(Ok(Bytes::from(head))).is_err() {
            return;
        }
        let mut conn = match db.get() {
            Ok(conn) => conn,
            Err(err) => {
                tracing::error!(error = %err, "export: no database connection");
                let _ = tx.blocking_send(Err(std::io::Error::other("database unavailable")));
                return;
            }
        };
        let _ = crate::db::models::audit::AuditEntry {
            actor,
            site: filter.site,
            action: AuditAction::MessagesExport,
            target_type: "messages",
            target_id: if csv { "csv" } else { "json" }.into(),
            details: audit_filter,
        }
        .record(&mut conn);
        let mut after = None;
        let mut first = true;
        loop {
            let page = match message_log::page(&mut conn, &filter, after, EXPORT_CHUNK) {
                Ok(page) => page,
                Err(err) => {
                    tracing::error!(error = %err, "export failed midway");
                    let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
                    return;
                }
            };
            let mut chunk = String::new();
            for entry in &page {
                if csv {
                    chunk.push_str(&csv_line(entry));
                } else {
                    if !first {
                        chunk.push_str(",\n");
                    }
                    chunk.push_str(&json_line(entry));
                }
                first = false;
            }
            after = page.last().map(|(m, _, _)| Cursor::of(m));
            if !chunk.is_empty() && tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                return; // the client went away
            }
            if (page.len() as i64) < EXPORT_CHUNK {
                break;
            }
        }
        if !csv {
            let _ = tx.blocking_send(Ok(Bytes::from("\n]\n")));
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let response = warp::reply::Reply::into_response(warp::reply::stream(stream));
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "messages.csv"),
        Format::Json => ("application/json", "messages.json"),
    };
    Ok(Reply::download(response, content_type, name))
}

/// POST /admin/messages/{id}/delete
pub async fn delete(admin: &Admin, req: &Request, auth: &Auth, id: MessageId) -> Result<Reply> {
    let message = admin.find(move |conn| Message::find(conn, id)).await?;
    auth.require_site(message.site_id)?;
    moderation::messages::delete_message(&admin.chat, auth.actor(), id).await?;
    Ok(
        Reply::redirect(&req.back_or("/admin/messages")).flash(Flash::Ok(
            "Message deleted: it disappeared from every open chat.".into(),
        )),
    )
}
