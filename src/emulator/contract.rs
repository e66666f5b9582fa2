//! Reading DataContract-serialised elements the way WCF's DataContractSerializer does:
//! members in their declared order, `i:nil`, XmlConvert's primitive formats, and the typed
//! `c:Value`s of `Dictionary<string, object>`.
//!
//! Every error is the inner message of the formatter fault.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::model::{PropertyValue, ReferenceChange, Value};
use super::soap::{ARRAYS_NS, SYNC_NS, XSD, XSI};
use crate::entra::nbfx::ElementRef;

pub(super) type ContractResult<T> = Result<T, String>;

/// The members of a data contract element, found in declaration order.
///
/// Unknown elements are skipped (DataContractSerializer ignores them), but a known member that
/// comes out of order, twice, or in the wrong namespace is an error: the real serializer would
/// silently drop it, so the client's bug would show up somewhere less obvious.
pub(super) fn members<'a, const N: usize>(
    parent: &ElementRef<'a>,
    ns: &str,
    names: [&str; N],
) -> ContractResult<[Option<ElementRef<'a>>; N]> {
    let mut found: [Option<ElementRef<'a>>; N] = std::array::from_fn(|_| None);
    let mut next = 0;
    if !parent.text().trim().is_empty() {
        return Err(format!("Element '{}' contains text; only member elements are expected.", parent.local_name()));
    }
    for child in parent.children() {
        let Some(index) = names.iter().position(|n| *n == child.local_name()) else { continue };
        let child_ns = child.namespace().unwrap_or("");
        if child_ns != ns {
            return Err(format!(
                "Element '{}' is in namespace '{child_ns}', but the member is expected in namespace '{ns}'.",
                child.local_name()
            ));
        }
        if index < next {
            return Err(format!(
                "Element '{}' is out of order or repeated: the members of '{}' must come in this order: {}.",
                child.local_name(),
                parent.local_name(),
                names.join(", ")
            ));
        }
        found[index] = Some(child);
        next = index + 1;
    }
    Ok(found)
}

pub(super) fn is_nil(element: &ElementRef<'_>) -> bool {
    element.attribute(XSI, "nil").is_some_and(|v| matches!(v.trim(), "true" | "1"))
}

/// The text of a simple member; `None` for `i:nil="true"`.
pub(super) fn simple_text(element: &ElementRef<'_>) -> ContractResult<Option<String>> {
    if is_nil(element) {
        if element.children().next().is_some() || !element.text().is_empty() {
            return Err(format!("Element '{}' is nil but has content.", element.local_name()));
        }
        return Ok(None);
    }
    if element.children().next().is_some() {
        return Err(format!("Element '{}' must contain text, not elements.", element.local_name()));
    }
    Ok(Some(element.text()))
}

/// XmlConvert.ToBoolean: `true`, `false`, `1`, `0` after trimming whitespace; case-sensitive.
pub(super) fn parse_bool(text: &str, what: &str) -> ContractResult<bool> {
    match text.trim_matches([' ', '\t', '\r', '\n']) {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(format!("The value '{other}' cannot be parsed as the type 'Boolean' ({what}).")),
    }
}

pub(super) fn parse_long(text: &str, what: &str) -> ContractResult<i64> {
    text.trim_matches([' ', '\t', '\r', '\n'])
        .parse()
        .map_err(|_| format!("The value '{text}' cannot be parsed as the type 'Int64' ({what})."))
}

pub(super) fn parse_int(text: &str, what: &str) -> ContractResult<i32> {
    text.trim_matches([' ', '\t', '\r', '\n'])
        .parse()
        .map_err(|_| format!("The value '{text}' cannot be parsed as the type 'Int32' ({what})."))
}

fn parse_base64(text: &str, what: &str) -> ContractResult<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact).map_err(|_| format!("The value of {what} is not valid Base64."))
}

/// A required, non-nil simple member.
pub(super) fn required_text(member: Option<ElementRef<'_>>, name: &str) -> ContractResult<String> {
    let element = member.ok_or_else(|| format!("The member '{name}' is required but missing."))?;
    simple_text(&element)?.ok_or_else(|| format!("The member '{name}' cannot be nil."))
}

/// A nillable simple member: `None` when absent or nil.
pub(super) fn optional_text(member: Option<ElementRef<'_>>) -> ContractResult<Option<String>> {
    match member {
        Some(element) => simple_text(&element),
        None => Ok(None),
    }
}

fn unknown_type(ns: &str, local: &str) -> String {
    format!(
        "Element '{ARRAYS_NS}:Value' contains data from a type that maps to the name '{ns}:{local}'. The deserializer \
         has no knowledge of any type that maps to this name. Consider using a DataContractResolver if you are using \
         DataContractSerializer or add the type corresponding to '{local}' to the list of known types - for example, \
         by using the KnownTypeAttribute attribute or by adding it to the list of known types passed to the \
         serializer."
    )
}

/// One `c:Value` of a `KeyValueOfstringanyType`.
pub(super) fn property_value(value: &ElementRef<'_>, key: &str) -> ContractResult<PropertyValue> {
    if is_nil(value) {
        simple_text(value)?;
        return Ok(PropertyValue::Value(Value::Null));
    }
    let type_name = value.attribute(XSI, "type").ok_or_else(|| {
        format!("The value of '{key}' has no i:type; every non-nil value of a Dictionary<string, object> needs one.")
    })?;
    let (ns, local) = value.resolve_qname(type_name.trim()).unwrap_or(("", type_name.trim()));
    let what = format!("attribute '{key}'");
    let scalar = |v: &ElementRef<'_>| -> ContractResult<String> { Ok(simple_text(v)?.unwrap_or_default()) };
    let parsed = match (ns, local) {
        (XSD, "string") => Value::String(scalar(value)?),
        (XSD, "boolean") => Value::Bool(parse_bool(&scalar(value)?, &what)?),
        (XSD, "long" | "int" | "short") => Value::Long(parse_long(&scalar(value)?, &what)?),
        (XSD, "base64Binary") => Value::Binary(parse_base64(&scalar(value)?, &what)?),
        (ARRAYS_NS, "ArrayOfstring") => Value::StringList(list_items(value, "string", key)?),
        (ARRAYS_NS, "ArrayOfbase64Binary") => Value::BinaryList(
            list_items(value, "base64Binary", key)?.iter().map(|t| parse_base64(t, &what)).collect::<Result<_, _>>()?,
        ),
        (SYNC_NS, "SyncReferenceChangeCollection") => return reference_changes(value, key),
        (ns, local) => return Err(unknown_type(ns, local)),
    };
    Ok(PropertyValue::Value(parsed))
}

fn list_items(list: &ElementRef<'_>, item: &str, key: &str) -> ContractResult<Vec<String>> {
    if !list.text().trim().is_empty() {
        return Err(format!("The list value of '{key}' contains text outside its c:{item} items."));
    }
    list.children()
        .map(|child| {
            if !child.is(ARRAYS_NS, item) {
                return Err(format!(
                    "The list value of '{key}' contains '{}'; only c:{item} items ({ARRAYS_NS}) are allowed.",
                    child.local_name()
                ));
            }
            simple_text(&child)?.ok_or_else(|| format!("An item of the list value of '{key}' is nil."))
        })
        .collect()
}

/// `SyncReferenceChangeCollection`: the delta form of a group's members.
fn reference_changes(value: &ElementRef<'_>, key: &str) -> ContractResult<PropertyValue> {
    let [changes] = members(value, SYNC_NS, ["referenceChanges"])?;
    let Some(changes) = changes else {
        return Err(format!("The SyncReferenceChangeCollection of '{key}' has no referenceChanges."));
    };
    let mut out = Vec::new();
    for change in changes.children() {
        if !change.is(SYNC_NS, "SyncReferenceChange") {
            return Err(format!(
                "referenceChanges may contain only SyncReferenceChange elements, not '{}'.",
                change.local_name()
            ));
        }
        let [reference, operation] = members(&change, SYNC_NS, ["Reference", "operationInt"])?;
        let reference = reference.ok_or("A SyncReferenceChange has no Reference.")?;
        let [anchor, kind] = members(&reference, SYNC_NS, ["Anchor", "referenceTypeInt"])?;
        let anchor = required_text(anchor, "Anchor")?;
        let kind = parse_int(&required_text(kind, "referenceTypeInt")?, "referenceTypeInt")?;
        let operation = parse_int(&required_text(operation, "operationInt")?, "operationInt")?;
        let by_cloud_anchor = match kind {
            1 => true,
            2 => false,
            other => return Err(format!("referenceTypeInt {other} is not 1 (CloudAnchor) or 2 (SourceAnchor).")),
        };
        let add = match operation {
            1 => true,
            2 => false,
            other => return Err(format!("operationInt {other} is not 1 (add) or 2 (remove).")),
        };
        out.push(ReferenceChange { anchor, by_cloud_anchor, add });
    }
    Ok(PropertyValue::ReferenceDelta(out))
}
