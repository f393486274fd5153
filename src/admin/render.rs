//! Handlebars templates (strict mode: a typo in a field name is an error, not
//! an empty string) and the panel's static files. Both are embedded in the
//! binary; `--templates-dir` loads same-named files from disk instead, re-read
//! on every request so that a designer sees changes on reload.

use std::path::{Path, PathBuf};

use handlebars::{Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderError};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "admin-templates/"]
#[include = "*.hbs"]
struct Embedded;

#[derive(RustEmbed)]
#[folder = "admin-templates/static/"]
struct Static;

pub struct Templates {
    hb: Handlebars<'static>,
    dir: Option<PathBuf>,
}

/// `{{time ts}}`: Unix ms as `<time datetime="ISO 8601">… UTC</time>`;
/// nothing for null. `admin.js` shows it in the viewer's time zone.
fn time_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    if let Some(ms) = h.param(0).and_then(|p| p.value().as_i64()) {
        out.write(&format!(
            r#"<time datetime="{}">{}</time>"#,
            crate::timefmt::iso(ms),
            crate::timefmt::utc(ms)
        ))?;
    }
    Ok(())
}

impl Templates {
    pub fn load(dir: Option<&Path>) -> Result<Templates, String> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_helper("time", Box::new(time_helper));
        if dir.is_some() {
            hb.set_dev_mode(true);
        }
        hb.register_embed_templates_with_extension::<Embedded>(".hbs")
            .map_err(|e| format!("built-in admin templates: {e}"))?;
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| format!("templates directory {}: {e}", dir.display()))?;
            for entry in entries.flatten() {
                let path = entry.path();
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".hbs"))
                else {
                    continue;
                };
                hb.register_template_file(name, &path)
                    .map_err(|e| format!("template {}: {e}", path.display()))?;
                tracing::info!(template = name, "admin template loaded from disk");
            }
        }
        Ok(Templates {
            hb,
            dir: dir.map(Path::to_path_buf),
        })
    }

    pub fn render(&self, name: &str, data: &serde_json::Value) -> Result<String, RenderError> {
        self.hb.render(name, data)
    }

    /// A static file (`admin.css`, `admin.js`): from the templates directory
    /// when it has one, else built in.
    pub fn static_file(&self, name: &str) -> Option<(Vec<u8>, String)> {
        if name.contains('/') || name.contains("..") {
            return None;
        }
        let mime = match name.rsplit('.').next() {
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("svg") => "image/svg+xml",
            Some("png") => "image/png",
            _ => "application/octet-stream",
        }
        .to_owned();
        if let Some(dir) = &self.dir {
            if let Ok(data) = std::fs::read(dir.join("static").join(name)) {
                return Some((data, mime));
            }
        }
        Static::get(name).map(|f| (f.data.into_owned(), mime))
    }
}
