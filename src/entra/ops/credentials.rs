//! `ProvisionCredentials`: password hash sync. The `CredentialData` string
//! is a password equivalent: it is held in wiped memory and never printed.

use std::fmt;
use std::time::SystemTime;

use zeroize::Zeroizing;

use super::{Operation, bool_text, member, member_number, member_token, nil_element, operation_element, text_element};
use crate::entra::nbfx::{Element, ElementRef, ns};
use crate::entra::soap::{COEXISTENCE_NS, ResponseError};
use crate::entra::timefmt::format_utc_ticks;

/// Which user the credential is for; the other anchor is sent nil.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialTarget {
    SourceAnchor(String),
    /// `User_<objectId>`.
    CloudAnchor(String),
}

/// One password change.
pub struct CredentialChange {
    pub target: CredentialTarget,
    /// `v1;PPH1_MD4,…;` from [`crate::entra::credential::credential_data`].
    pub credential_data: Zeroizing<String>,
    /// When the password changed; sent as UTC with 7 fractional digits.
    pub change_date: SystemTime,
    pub force_password_change_on_logon: bool,
}

impl fmt::Debug for CredentialChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialChange")
            .field("target", &self.target)
            .field("credential_data", &"[redacted]")
            .field("change_date", &self.change_date)
            .field("force_password_change_on_logon", &self.force_password_change_on_logon)
            .finish()
    }
}

/// Sends `items` in one call.
#[derive(Debug, Clone, Copy)]
pub struct ProvisionCredentials<'a> {
    pub items: &'a [CredentialChange],
}

/// What the service did with one credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialOutcome {
    /// `Result` 0.
    Synced,
    /// `Result` 2: the user is not (yet) known; typically sent too soon after its creation, so
    /// retry later.
    UnknownObject,
    /// Any other code (their meanings are not documented).
    Failed { code: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialResult {
    pub source_anchor: Option<String>,
    pub cloud_anchor: Option<String>,
    pub outcome: CredentialOutcome,
    pub extended_error_information: Option<String>,
}

impl Operation for ProvisionCredentials<'_> {
    type Output = Vec<CredentialResult>;

    fn name(&self) -> &'static str {
        "ProvisionCredentials"
    }

    fn carries_secret(&self) -> bool {
        true
    }

    fn body(&self) -> Element {
        let items = Element::new("b", "RequestItems").children(self.items.iter().map(item_element));
        operation_element(self.name()).child(
            Element::new("", "request").xmlns("b", COEXISTENCE_NS).xmlns("i", ns::XML_SCHEMA_INSTANCE).child(items),
        )
    }

    fn parse(&self, result: Option<ElementRef<'_>>) -> Result<Self::Output, ResponseError> {
        let operation = self.name();
        let result = result.ok_or_else(|| ResponseError::invalid(operation, "the result is missing"))?;
        let Some(list) = member(&result, "Results") else {
            return Ok(Vec::new());
        };
        list.children()
            .map(|item| {
                let code: i64 = member_number(&item, "Result", operation)?
                    .ok_or_else(|| ResponseError::invalid(operation, "a credential result has no Result code"))?;
                let outcome = match code {
                    0 => CredentialOutcome::Synced,
                    2 => CredentialOutcome::UnknownObject,
                    code => CredentialOutcome::Failed { code },
                };
                Ok(CredentialResult {
                    source_anchor: member_token(&item, "SourceAnchor"),
                    cloud_anchor: member_token(&item, "CloudAnchor"),
                    outcome,
                    extended_error_information: member_token(&item, "ExtendedErrorInformation"),
                })
            })
            .collect()
    }
}

/// `<b:SyncCredentialsChangeItem>` with its members in DataContract order.
fn item_element(item: &CredentialChange) -> Element {
    let anchor = |name: &str, value: Option<&String>| match value {
        Some(v) => text_element("b", name, v.as_str()),
        None => nil_element("b", name),
    };
    let (source, cloud) = match &item.target {
        CredentialTarget::SourceAnchor(a) => (Some(a), None),
        CredentialTarget::CloudAnchor(a) => (None, Some(a)),
    };
    Element::new("b", "SyncCredentialsChangeItem")
        .child(Element::new("b", "ChangeDate").text(format_utc_ticks(item.change_date)))
        .child(anchor("CloudAnchor", cloud))
        .child(text_element("b", "CredentialData", item.credential_data.as_str()))
        .child(Element::new("b", "ForcePasswordChangeOnLogon").text(bool_text(item.force_password_change_on_logon)))
        .child(anchor("SourceAnchor", source))
        .child(nil_element("b", "WindowsLegacyCredentials"))
        .child(nil_element("b", "WindowsSupplementalCredentials"))
}
