//! What the CLI uses to talk to a running daemon.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};
use zbus::OwnedVariant;
use zbus::zvariant::Variant;

pub use super::service::ServiceProxy as DaemonProxy;
use crate::config::BusConfig;

/// Connects to the configured bus and returns a proxy for the daemon.
pub async fn connect(bus: &BusConfig) -> Result<DaemonProxy<'static>, zbus::Error> {
    let conn = super::builder(bus).build().await?;
    DaemonProxy::new(&conn).await
}

/// a{sv} (as `service::to_dict` builds it) back to a JSON object; dotted keys become nesting.
pub fn to_json(dict: &HashMap<String, OwnedVariant>) -> Json {
    let mut root = Json::Object(Map::new());
    let mut keys: Vec<&String> = dict.keys().collect();
    keys.sort();
    for key in keys {
        // "a.b.c" → root["a"]["b"]["c"], with a JSON pointer (keys here hold no '/' or '~').
        let mut node = &mut root;
        for part in key.split('.') {
            if !node.is_object() {
                *node = Json::Object(Map::new());
            }
            node = &mut node[part];
        }
        *node = variant_json(&dict[key]);
    }
    root
}

fn variant_json(v: &Variant<'_>) -> Json {
    match v {
        Variant::Bool(b) => Json::Bool(*b),
        Variant::U8(n) => Json::from(*n),
        Variant::I16(n) => Json::from(*n),
        Variant::U16(n) => Json::from(*n),
        Variant::I32(n) => Json::from(*n),
        Variant::U32(n) => Json::from(*n),
        Variant::I64(n) => Json::from(*n),
        Variant::U64(n) => Json::from(*n),
        Variant::F64(f) => serde_json::Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
        Variant::Str(s) => Json::String(s.to_string()),
        Variant::Variant(inner) => variant_json(inner),
        Variant::Array(a) => Json::Array(a.iter().map(variant_json).collect()),
        other => Json::String(format!("{other:?}")),
    }
}
