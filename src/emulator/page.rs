//! `GET /`: a small HTML page of the tenant's synced objects and when each password arrived.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;

use super::App;
use super::clock;

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub(super) async fn index(State(app): State<Arc<App>>) -> Html<String> {
    let tenant = app.tenant.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let info = &tenant.info;
    let mut html = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Entra sync emulator</title>\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#eee}</style></head><body>",
    );
    let _ = write!(
        html,
        "<h1>{}</h1><p>Tenant <code>{}</code> · domain {} · directory sync {} · password hash sync {} · last export {}</p>",
        escape(&info.display_name),
        info.tenant_id,
        escape(&info.initial_domain),
        if info.dirsync_enabled { "enabled" } else { "disabled" },
        if info.dirsync_features & 1 != 0 { "enabled" } else { "disabled" },
        info.last_export_ms.map_or_else(|| "never".to_owned(), clock::rfc3339_ms),
    );
    let objects = tenant.objects(None);
    let _ = write!(html, "<h2>{} synced objects</h2>", objects.len());
    html.push_str(
        "<table><tr><th>Type</th><th>Source anchor</th><th>Name</th><th>User principal name</th><th>Members</th>\
         <th>Password changed</th><th>Password received</th></tr>",
    );
    for o in objects {
        let (changed, received) =
            o.credential.as_ref().map_or(("", ""), |c| (c.change_date.as_str(), c.received_at.as_str()));
        let _ = write!(
            html,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            o.object_type,
            escape(o.source_anchor.as_deref().unwrap_or("")),
            escape(o.string("displayName").unwrap_or("")),
            escape(o.string("userPrincipalName").unwrap_or("")),
            if o.members.is_empty() { String::new() } else { o.members.len().to_string() },
            escape(changed),
            escape(received),
        );
    }
    html.push_str("</table></body></html>");
    Html(html)
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(super::escape("<b a=\"x\">&'"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;");
    }
}
