//! `ReadBackAzureADSyncObjects` and `ReadBackAzureADSyncObjects2` (protocol doc §4.4): the
//! synced objects as the service holds them. Version 2 leaves out empty attributes.

use super::objects::SyncObject;
use super::provision::ProvisionVersion;
use super::{Operation, bool_text, member, operation_element};
use crate::entra::nbfx::{Element, ElementRef, ns};
use crate::entra::soap::ResponseError;

/// Reads every synced object back. There is no known paging (§4.4): `inputCookie` is sent nil.
#[derive(Debug, Clone, Copy)]
pub struct ReadBack {
    pub version: ProvisionVersion,
    pub include_license_information: bool,
    pub full_sync: bool,
}

impl Default for ReadBack {
    fn default() -> Self {
        ReadBack { version: ProvisionVersion::V2, include_license_information: true, full_sync: true }
    }
}

/// The objects read back, and what could not be read (objects of unknown types, values of
/// unknown types), described for the log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadBackResult {
    pub objects: Vec<SyncObject>,
    pub skipped: Vec<String>,
}

impl Operation for ReadBack {
    type Output = ReadBackResult;

    fn name(&self) -> &'static str {
        match self.version {
            ProvisionVersion::V1 => "ReadBackAzureADSyncObjects",
            ProvisionVersion::V2 => "ReadBackAzureADSyncObjects2",
        }
    }

    fn body(&self) -> Element {
        operation_element(self.name())
            .child(Element::new("", "includeLicenseInformation").text(bool_text(self.include_license_information)))
            .child(Element::new("", "inputCookie").attr("i", "nil", "true").xmlns("i", ns::XML_SCHEMA_INSTANCE))
            .child(Element::new("", "isFullSync").text(bool_text(self.full_sync)))
    }

    fn parse(&self, result: Option<ElementRef<'_>>) -> Result<Self::Output, ResponseError> {
        let mut out = ReadBackResult::default();
        // A missing result or an empty (or nil) ResultObjects means no objects (§4.4).
        let Some(list) = result.as_ref().and_then(|r| member(r, "ResultObjects")) else {
            return Ok(out);
        };
        for (index, item) in list.children().enumerate() {
            match SyncObject::from_element(&item) {
                Ok((object, skipped)) => {
                    let name = object.source_anchor().or(object.cloud_anchor()).unwrap_or("?").to_owned();
                    out.skipped.extend(skipped.into_iter().map(|s| format!("object {name}: {s}")));
                    out.objects.push(object);
                }
                Err(reason) => out.skipped.push(format!("object #{index}: {reason}")),
            }
        }
        Ok(out)
    }
}
