//! `Capabilities`: which client versions the service supports. The result
//! is a string holding an XML document (`ServiceCapability/MicrosoftOnline/Protocol/Application`);
//! its namespaces are unknown, so it is read by local names.

use super::{Operation, member, operation_element, parse_bool};
use crate::entra::nbfx::{Element, ElementRef, from_xml_ignoring_layout};
use crate::entra::soap::ResponseError;

#[derive(Debug, Clone, Copy, Default)]
pub struct Capabilities;

/// What the capabilities document says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceCapabilities {
    pub applications: Vec<ApplicationCapability>,
}

/// One `Application` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplicationCapability {
    /// A `Name` or `Id` attribute, if the entry has one.
    pub name: Option<String>,
    pub latest_product_version: Option<String>,
    pub minimum_product_version: Option<String>,
    pub black_lists: Vec<BlackList>,
}

/// A list of refused client versions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlackList {
    pub enabled: bool,
    pub client_versions: Vec<String>,
}

impl ServiceCapabilities {
    /// Whether an enabled black list names `build` (e.g. `2.4.21.0`).
    pub fn blacklists(&self, build: &str) -> bool {
        self.applications
            .iter()
            .flat_map(|a| &a.black_lists)
            .filter(|b| b.enabled)
            .any(|b| b.client_versions.iter().any(|v| v.trim() == build.trim()))
    }

    /// Reads the capabilities document.
    pub fn from_xml(text: &str) -> Result<ServiceCapabilities, String> {
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            return Ok(ServiceCapabilities::default());
        }
        let document = from_xml_ignoring_layout(text).map_err(|e| e.to_string())?;
        let root = document.view();
        let applications = descendants(&root, "Application").iter().map(application).collect();
        Ok(ServiceCapabilities { applications })
    }
}

fn application(element: &ElementRef<'_>) -> ApplicationCapability {
    ApplicationCapability {
        name: attribute_or_child(element, "Name").or_else(|| attribute_or_child(element, "Id")),
        latest_product_version: attribute_or_child(element, "LatestProductVersion"),
        minimum_product_version: attribute_or_child(element, "MinimumProductVersion"),
        black_lists: descendants(element, "BlackList")
            .iter()
            .map(|list| BlackList {
                // A list that does not say whether it is enabled is taken as enabled.
                enabled: attribute_or_child(list, "Enabled").and_then(|v| parse_bool(&v)).unwrap_or(true),
                client_versions: descendants(list, "ClientVersion")
                    .iter()
                    .map(|v| v.text().trim().to_owned())
                    .collect(),
            })
            .collect(),
    }
}

/// An unprefixed attribute or a child element's text.
fn attribute_or_child(element: &ElementRef<'_>, local: &str) -> Option<String> {
    element
        .attribute("", local)
        .map(str::to_owned)
        .or_else(|| member(element, local).map(|c| c.text()))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Every descendant (not the element itself) with this local name, in document order.
fn descendants<'a>(root: &ElementRef<'a>, local: &str) -> Vec<ElementRef<'a>> {
    let mut out = Vec::new();
    let mut stack: Vec<ElementRef<'a>> = root.children().collect::<Vec<_>>().into_iter().rev().collect();
    while let Some(element) = stack.pop() {
        if element.local_name() == local {
            out.push(element.clone());
        }
        let children: Vec<_> = element.children().collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

impl Operation for Capabilities {
    type Output = ServiceCapabilities;

    fn name(&self) -> &'static str {
        "Capabilities"
    }

    fn body(&self) -> Element {
        operation_element(self.name())
    }

    fn parse(&self, result: Option<ElementRef<'_>>) -> Result<Self::Output, ResponseError> {
        let text = result.map(|r| r.text()).unwrap_or_default();
        ServiceCapabilities::from_xml(&text)
            .map_err(|e| ResponseError::invalid(self.name(), format!("the capabilities document is not XML: {e}")))
    }
}
