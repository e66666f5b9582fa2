//! Typed messages of every sync API operation: each builds its body element
//! and reads its result element.
//!
//! Result members are found by local name: the ports and the doc disagree or are unsure about
//! some of their namespaces, and a stricter reader would only fail on the real
//! service. Unknown members are ignored.

mod capabilities;
mod company;
mod credentials;
mod objects;
mod provision;
mod readback;
mod values;

pub use capabilities::{ApplicationCapability, BlackList, Capabilities, ServiceCapabilities};
pub use company::{
    CompanyConfiguration, FinalizeExport, GetCompanyConfiguration, SetCompanyDirsyncFeatures, Writeback, features,
};
pub use credentials::{CredentialChange, CredentialOutcome, CredentialResult, CredentialTarget, ProvisionCredentials};
pub use objects::{ObjectType, SyncObject, SyncOperation};
pub use provision::{ProvisionObjects, ProvisionVersion, ResultCode, SyncObjectResult, batches};
pub use readback::{ReadBack, ReadBackEach, ReadBackResult, ReadBackTally};
pub use values::{AnchorKind, PropertyValue, ReferenceChange, ReferenceOperation};

use std::str::FromStr;

use crate::entra::nbfx::{self, Element, ElementRef, Limits, NbfxError};
use crate::entra::soap::{ResponseError, SYNC_NS};

/// One operation of the sync API.
pub trait Operation: Sync {
    /// The typed result.
    type Output;

    /// Operation name: body element, action suffix, `{name}Response/{name}Result`.
    fn name(&self) -> &'static str;

    /// The `x-ms-aadmsods-apiaction` header; the real client sends `Provision2` for
    /// `ProvisionAzureADSyncObjects2`.
    fn api_action(&self) -> &'static str {
        self.name()
    }

    /// The body element, `<{name} xmlns="…/2010/01">…`.
    fn body(&self) -> Element;

    /// Whether the body carries secrets besides the bearer token (never captured raw).
    fn carries_secret(&self) -> bool {
        false
    }

    /// Whether [`Operation::decode`] hands the result's items out as they are decoded, so that
    /// a larger response is acceptable.
    fn streams_result(&self) -> bool {
        false
    }

    /// The local name of the element whose children are the result's items, for an operation
    /// that takes them one at a time ([`Operation::take_item`]): the client then hands them out
    /// while the response is still arriving, and holds a few hundred KB of it, not all of it.
    fn split_container(&self) -> Option<&'static str> {
        None
    }

    /// One item of the result, handed out while the response arrives (see
    /// [`Operation::split_container`]); [`Operation::decode`] then meets only the items after it.
    fn take_item(&self, _item: Element) {}

    /// Called before each attempt's response is read: a retried call starts its items over.
    fn start_response(&self) {}

    /// msbin1 → tree. An operation whose result can be very large overrides this to handle
    /// its items while they are decoded ([`nbfx::decode_split`]).
    fn decode(&self, body: &[u8], limits: &Limits) -> Result<Element, NbfxError> {
        nbfx::decode_with_limits(body, limits)
    }

    /// Reads the `{name}Result` element (`None` when the response has none).
    fn parse(&self, result: Option<ElementRef<'_>>) -> Result<Self::Output, ResponseError>;
}

/// `<{name} xmlns="…/2010/01">`.
fn operation_element(name: &str) -> Element {
    Element::new("", name).xmlns("", SYNC_NS)
}

/// An element with text, without an empty text node when `text` is empty (so trees built here
/// compare equal to decoded ones).
fn text_element(prefix: &str, name: &str, text: impl Into<String>) -> Element {
    let text = text.into();
    let element = Element::new(prefix, name);
    if text.is_empty() { element } else { element.text(text) }
}

/// `<prefix:name i:nil="true"/>`.
fn nil_element(prefix: &str, name: &str) -> Element {
    Element::new(prefix, name).attr("i", "nil", "true")
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// The first child with this local name.
fn member<'a>(element: &ElementRef<'a>, local: &str) -> Option<ElementRef<'a>> {
    element.children().find(|c| c.local_name() == local)
}

/// Text of a member; `None` when it is missing or nil.
fn member_text(element: &ElementRef<'_>, local: &str) -> Option<String> {
    member(element, local).filter(|m| !crate::entra::soap::is_nil(m)).map(|m| m.text())
}

/// A member's text, trimmed, `None` when missing, nil or empty.
fn member_token(element: &ElementRef<'_>, local: &str) -> Option<String> {
    member_text(element, local).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// `true`/`false` (any case) or `1`/`0`, as .NET's reader accepts.
fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") || text == "1" {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") || text == "0" {
        Some(false)
    } else {
        None
    }
}

/// An optional boolean member; a value that is not a boolean is an error.
fn member_bool(element: &ElementRef<'_>, local: &str, operation: &str) -> Result<Option<bool>, ResponseError> {
    member_token(element, local)
        .map(|t| parse_bool(&t).ok_or_else(|| ResponseError::invalid(operation, format!("{local} is not a boolean"))))
        .transpose()
}

/// An optional numeric member; a value that does not parse is an error.
fn member_number<T: FromStr>(
    element: &ElementRef<'_>,
    local: &str,
    operation: &str,
) -> Result<Option<T>, ResponseError> {
    member_token(element, local)
        .map(|t| t.parse().map_err(|_| ResponseError::invalid(operation, format!("{local} is not a number: {t:?}"))))
        .transpose()
}

#[cfg(test)]
mod tests;
