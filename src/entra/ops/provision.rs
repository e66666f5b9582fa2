//! `ProvisionAzureADSyncObjects` and `ProvisionAzureADSyncObjects2`:
//! create, update and delete objects, several per call if the caller wants.

use super::objects::SyncObject;
use super::{Operation, member, member_text, member_token, operation_element};
use crate::entra::nbfx::{Element, ElementRef, ns};
use crate::entra::soap::{ResponseError, SYNC_OBJECTS_NS};

/// Which of the two provision operations. `V2` is what Azure AD Connect 2.x uses and the only
/// one known to accept reference deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProvisionVersion {
    V1,
    #[default]
    V2,
}

/// Provisions `objects` in one call.
#[derive(Debug, Clone, Copy)]
pub struct ProvisionObjects<'a> {
    pub objects: &'a [SyncObject],
    pub version: ProvisionVersion,
}

/// `ResultCode` of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    Success,
    Failure,
}

/// The outcome for one object (the service answers in request order [I]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncObjectResult {
    pub source_anchor: Option<String>,
    /// `User_<objectId>` and the like.
    pub cloud_anchor: Option<String>,
    pub code: ResultCode,
    /// With `Success` a warning (duplicate-attribute resiliency: the object exists, some
    /// attribute was not applied); with `Failure` the reason.
    pub error_description: Option<String>,
}

impl SyncObjectResult {
    pub fn is_success(&self) -> bool {
        self.code == ResultCode::Success
    }

    /// The warning of a successful result.
    pub fn warning(&self) -> Option<&str> {
        self.error_description.as_deref().filter(|_| self.is_success())
    }

    /// Why the object was rejected.
    pub fn error(&self) -> Option<&str> {
        match self.code {
            ResultCode::Success => None,
            ResultCode::Failure => Some(self.error_description.as_deref().unwrap_or("no description given")),
        }
    }
}

/// Splits `objects` into consecutive batches of at most `max_objects` objects and at most
/// `max_links` link values each (`MaxLinksSupportedAcrossBatchInProvision2` bounds the links
/// of one call). An object that alone has more links than `max_links` gets a batch of its own.
pub fn batches(objects: &[SyncObject], max_objects: usize, max_links: usize) -> Vec<&[SyncObject]> {
    let max_objects = max_objects.max(1);
    let mut out = Vec::new();
    let (mut start, mut links) = (0, 0);
    for (index, object) in objects.iter().enumerate() {
        let object_links = object.link_count();
        let full = index - start == max_objects || (index > start && links + object_links > max_links);
        if full {
            out.push(&objects[start..index]);
            (start, links) = (index, 0);
        }
        links += object_links;
    }
    if start < objects.len() {
        out.push(&objects[start..]);
    }
    out
}

impl Operation for ProvisionObjects<'_> {
    type Output = Vec<SyncObjectResult>;

    fn name(&self) -> &'static str {
        match self.version {
            ProvisionVersion::V1 => "ProvisionAzureADSyncObjects",
            ProvisionVersion::V2 => "ProvisionAzureADSyncObjects2",
        }
    }

    fn api_action(&self) -> &'static str {
        match self.version {
            ProvisionVersion::V1 => "ProvisionAzureADSyncObjects",
            ProvisionVersion::V2 => "Provision2",
        }
    }

    fn body(&self) -> Element {
        let objects = Element::new("b", "SyncObjects").children(self.objects.iter().map(SyncObject::to_element));
        operation_element(self.name()).child(
            Element::new("", "syncRequest")
                .xmlns("b", SYNC_OBJECTS_NS)
                .xmlns("i", ns::XML_SCHEMA_INSTANCE)
                .child(objects),
        )
    }

    fn parse(&self, result: Option<ElementRef<'_>>) -> Result<Self::Output, ResponseError> {
        let operation = self.name();
        let result = result.ok_or_else(|| ResponseError::invalid(operation, "the result is missing"))?;
        let Some(list) = member(&result, "SyncObjectResults") else {
            return Ok(Vec::new());
        };
        list.children().map(|item| read_result(&item, operation)).collect()
    }
}

fn read_result(item: &ElementRef<'_>, operation: &str) -> Result<SyncObjectResult, ResponseError> {
    let code_text = member_token(item, "ResultCode").unwrap_or_default();
    let mut error_description = member_text(item, "ResultErrorDescription").filter(|d| !d.trim().is_empty());
    let code = if code_text.eq_ignore_ascii_case("Success") {
        ResultCode::Success
    } else if code_text.is_empty() {
        return Err(ResponseError::invalid(operation, "an object result has no ResultCode"));
    } else {
        // Codes other than Success and Failure are not documented; anything else failed, and the
        // code itself is the best description there is.
        if !code_text.eq_ignore_ascii_case("Failure") && error_description.is_none() {
            error_description = Some(format!("result code {code_text}"));
        }
        ResultCode::Failure
    };
    Ok(SyncObjectResult {
        source_anchor: member_token(item, "SourceAnchor"),
        cloud_anchor: member_token(item, "CloudAnchor"),
        code,
        error_description,
    })
}
