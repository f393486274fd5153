//! Visitor-facing text: email bodies (text and HTML) and the account pages,
//! from Handlebars templates embedded in the binary, in five languages.

use std::sync::Arc;

use handlebars::Handlebars;
use rust_embed::RustEmbed;
use serde_json::{json, Value};

use super::MailError;
use crate::lang::Lang;

#[derive(RustEmbed)]
#[folder = "src/templates/"]
struct Embedded;

/// Compiled templates; cheap to clone.
#[derive(Clone)]
pub struct Templates(Arc<Inner>);

struct Inner {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// Loads the embedded templates. They ship with the binary and are checked
    /// by tests, so a broken one is a build defect: it renders as an error later.
    pub fn new() -> Self {
        let mut html = Handlebars::new();
        let mut text = Handlebars::new();
        html.set_strict_mode(true);
        text.set_strict_mode(true);
        text.register_escape_fn(handlebars::no_escape);
        for path in Embedded::iter() {
            let Some(file) = Embedded::get(&path) else {
                continue;
            };
            let source = String::from_utf8_lossy(&file.data).into_owned();
            let result = if let Some(name) = path.strip_suffix(".txt.hbs") {
                text.register_template_string(name, source)
            } else if let Some(name) = path.strip_suffix(".html.hbs") {
                html.register_template_string(name, source)
            } else {
                continue;
            };
            if let Err(err) = result {
                tracing::error!(template = %path, error = %err, "broken embedded template");
            }
        }
        Templates(Arc::new(Inner { html, text }))
    }

    /// The strings of `section` in `lang`, with `{placeholders}` filled in (raw;
    /// the HTML templates escape them).
    /// Sections only staff read (admin mails) exist in English alone.
    fn strings(lang: Lang, section: &str, vars: &[(&str, &str)]) -> Value {
        let load = |lang: Lang| {
            Embedded::get(&format!("strings/{}.json", lang.code()))
                .and_then(|f| serde_json::from_slice::<Value>(&f.data).ok())
                .and_then(|all| all.get(section).cloned())
        };
        let mut section = load(lang).or_else(|| load(Lang::En)).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut section {
            for value in map.values_mut() {
                if let Value::String(s) = value {
                    for (key, var) in vars {
                        *s = s.replace(&format!("{{{key}}}"), var);
                    }
                }
            }
        }
        section
    }

    /// One translated string, e.g. an error message shown on a page.
    pub fn string(&self, lang: Lang, section: &str, key: &str) -> String {
        Self::strings(lang, section, &[])
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_owned()
    }

    /// Subject, text body and HTML body of mail `kind` (`verify`, `reset`).
    pub fn mail(
        &self,
        kind: &'static str,
        lang: Lang,
        vars: &[(&str, &str)],
        link: &str,
    ) -> Result<(String, String, String), MailError> {
        let t = Self::strings(lang, kind, vars);
        let data = json!({ "t": t, "link": link, "lang": lang.code(), "dir": lang.dir() });
        let failed = |e: handlebars::RenderError| MailError::Render(kind, e.to_string());
        let subject = t
            .get("subject")
            .and_then(Value::as_str)
            .unwrap_or(kind)
            .to_owned();
        let text = self.0.text.render("mail/action", &data).map_err(failed)?;
        let html = self.0.html.render("mail/action", &data).map_err(failed)?;
        Ok((subject, text, html))
    }

    /// Text and HTML bodies of a mail with its own template (`mail/{name}`)
    /// rather than the translated call-to-action layout.
    pub fn bodies(&self, name: &'static str, data: &Value) -> Result<(String, String), MailError> {
        let failed = |e: handlebars::RenderError| MailError::Render(name, e.to_string());
        let template = format!("mail/{name}");
        let text = self.0.text.render(&template, data).map_err(failed)?;
        let html = self.0.html.render(&template, data).map_err(failed)?;
        Ok((text, html))
    }

    /// An account page (`verified`, `reset`, ...) as HTML.
    pub fn page(
        &self,
        name: &'static str,
        lang: Lang,
        vars: &[(&str, &str)],
        extra: Value,
    ) -> Result<String, MailError> {
        let t = Self::strings(lang, "pages", vars);
        let mut data = json!({ "t": t, "lang": lang.code(), "dir": lang.dir() });
        if let (Value::Object(data), Value::Object(extra)) = (&mut data, extra) {
            data.extend(extra);
        }
        self.0
            .html
            .render(&format!("pages/{name}"), &data)
            .map_err(|e| MailError::Render(name, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_mails_escape_the_reported_text() {
        let data = json!({
            "site": "Blog", "room": "lobby", "author": "eve", "text": "<script>x()</script> {{y}}",
            "reason": "spam & abuse", "open": 2, "plural": true,
            "link": "https://x/admin/reports", "account_link": "https://x/admin/account",
        });
        let (text, html) = Templates::new().bodies("report", &data).unwrap();
        assert!(text.contains("<script>x()</script> {{y}}") && text.contains("2 open reports"));
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
        assert!(html.contains("spam &amp; abuse"));
    }

    #[test]
    fn mails_and_pages_take_the_direction_of_their_language() {
        let templates = Templates::new();
        for (lang, dir) in [(Lang::Ar, "rtl"), (Lang::En, "ltr"), (Lang::Ru, "ltr")] {
            let (_, _, html) = templates
                .mail(
                    "reset",
                    lang,
                    &[("name", "A"), ("site", "B")],
                    "https://x/y",
                )
                .unwrap();
            let expected = format!("<html lang=\"{}\" dir=\"{dir}\">", lang.code());
            assert!(html.contains(&expected), "{lang:?} mail: {html}");
            let page = templates
                .page("verified", lang, &[("site", "B")], json!({}))
                .unwrap();
            assert!(page.contains(&expected), "{lang:?} page: {page}");
        }
    }

    #[test]
    fn every_mail_renders_in_every_language_and_escapes_html() {
        let templates = Templates::new();
        for lang in Lang::ALL {
            for kind in ["verify", "reset"] {
                let vars = [("name", "<b>Ann</b>"), ("site", "Blog & co")];
                let (subject, text, html) = templates
                    .mail(kind, lang, &vars, "https://chat.example/x?token=abc")
                    .unwrap();
                assert!(
                    !subject.is_empty() && subject.contains("Blog & co"),
                    "{lang:?} {kind}: {subject}"
                );
                assert!(
                    text.contains("https://chat.example/x?token=abc")
                        && text.contains("<b>Ann</b>"),
                    "{text}"
                );
                assert!(
                    html.contains("&lt;b&gt;Ann&lt;/b&gt;") && !html.contains("<b>Ann</b>"),
                    "{html}"
                );
            }
            let (subject, _, html) = templates
                .mail(
                    "admin_reset",
                    lang,
                    &[("name", "<i>Mo</i>")],
                    "https://x/admin/reset?token=t",
                )
                .unwrap();
            assert!(
                subject.contains("admin password"),
                "staff mails fall back to English"
            );
            assert!(html.contains("&lt;i&gt;Mo&lt;/i&gt;"), "{html}");
            for page in ["verified", "reset_form", "reset_done", "link_problem"] {
                let html = templates
                    .page(
                        page,
                        lang,
                        &[("site", "Blog")],
                        json!({"token": "t", "error": null, "problem": "expired"}),
                    )
                    .unwrap();
                assert!(html.contains("<html"), "{page}");
            }
        }
    }
}
