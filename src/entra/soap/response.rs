//! Reading a response envelope: `s:Body/{Op}Response/{Op}Result`, or a fault.

use super::SYNC_NS;
use super::fault::{RawFault, find_local};
use crate::entra::nbfx::{Element, ElementRef, NbfxError, ns};

/// What the body of a response holds.
#[derive(Debug)]
pub enum Reply<'a> {
    /// The `{Op}Result` element; `None` when the response element is empty or the result is nil
    /// (`SetCompanyDirsyncFeatures`, `FinalizeExport`).
    Result(Option<ElementRef<'a>>),
    /// A SOAP fault, or a response without the expected element but with an `ErrorDescription`.
    Fault(RawFault),
}

/// Why a response could not be read. Any of these from a healthy service means the API no longer
/// looks the way this client expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("the response body is empty")]
    Empty,
    #[error("the response is not valid msbin1: {0}")]
    Decode(#[from] NbfxError),
    #[error("the response is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the response is not a SOAP 1.2 envelope (its root element is <{root}>)")]
    NotSoap { root: String },
    #[error("the response envelope has no s:Body")]
    MissingBody,
    #[error("the response has no {operation}Response element (the body holds {})", found.as_deref().map_or("nothing".to_owned(), |f| format!("<{f}>")))]
    MissingResponse { operation: String, found: Option<String> },
    #[error("the {operation} result is malformed: {detail}")]
    Invalid { operation: String, detail: String },
}

impl ResponseError {
    /// A malformed result member.
    pub fn invalid(operation: &str, detail: impl Into<String>) -> ResponseError {
        ResponseError::Invalid { operation: operation.to_owned(), detail: detail.into() }
    }
}

/// Finds the result of `operation` (or the fault) in a decoded response envelope.
pub fn read_response<'a>(envelope: &'a Element, operation: &str) -> Result<Reply<'a>, ResponseError> {
    let root = envelope.view();
    if !root.is(ns::SOAP_ENVELOPE, "Envelope") {
        return Err(ResponseError::NotSoap { root: envelope.qualified_name() });
    }
    let body = root.child(ns::SOAP_ENVELOPE, "Body").ok_or(ResponseError::MissingBody)?;
    if let Some(fault) = body.children().find(|c| c.local_name() == "Fault") {
        return Ok(Reply::Fault(RawFault::read(&fault, &root)));
    }
    let response_name = format!("{operation}Response");
    let Some(response) = body.child(SYNC_NS, &response_name) else {
        if let Some(description) = find_local(&root, "ErrorDescription") {
            let text = description.text().trim().to_owned();
            return Ok(Reply::Fault(RawFault { error_description: Some(text), ..RawFault::default() }));
        }
        let found = body.children().next().map(|c| c.element().qualified_name());
        return Err(ResponseError::MissingResponse { operation: operation.to_owned(), found });
    };
    let result = response.child(SYNC_NS, &format!("{operation}Result")).filter(|r| !is_nil(r));
    Ok(Reply::Result(result))
}

/// Whether an element carries `i:nil="true"` (any case, or `1`).
pub(crate) fn is_nil(element: &ElementRef<'_>) -> bool {
    element
        .attribute(ns::XML_SCHEMA_INSTANCE, "nil")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entra::nbfx::from_xml_ignoring_layout;
    use crate::entra::soap::{Fault, FaultRules};

    const ENVELOPE_START: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Body>"#;
    const ENVELOPE_END: &str = "</s:Body></s:Envelope>";

    fn envelope(body: &str) -> Element {
        from_xml_ignoring_layout(&format!("{ENVELOPE_START}{body}{ENVELOPE_END}")).expect("xml")
    }

    fn fault_of(body: &str) -> Fault {
        let env = envelope(body);
        match read_response(&env, "FinalizeExport").expect("reads") {
            Reply::Fault(raw) => FaultRules::default().classify(&raw),
            Reply::Result(_) => panic!("expected a fault"),
        }
    }

    fn soap_fault(reason: &str, detail: &str) -> String {
        format!(
            r#"<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason><s:Detail>{detail}</s:Detail></s:Fault>"#
        )
    }

    #[test]
    fn finds_the_result_and_tolerates_an_empty_response() {
        let env = envelope(&format!(
            r#"<FinalizeExportResponse xmlns="{SYNC_NS}"><FinalizeExportResult>ok</FinalizeExportResult></FinalizeExportResponse>"#
        ));
        let Reply::Result(Some(result)) = read_response(&env, "FinalizeExport").expect("reads") else {
            panic!("expected a result");
        };
        assert_eq!(result.text(), "ok");
        let empty = envelope(&format!(r#"<FinalizeExportResponse xmlns="{SYNC_NS}"/>"#));
        assert!(matches!(read_response(&empty, "FinalizeExport"), Ok(Reply::Result(None))));
    }

    #[test]
    fn reports_what_is_missing() {
        let wrong = envelope(&format!(r#"<OtherResponse xmlns="{SYNC_NS}"/>"#));
        assert_eq!(
            read_response(&wrong, "FinalizeExport").expect_err("missing"),
            ResponseError::MissingResponse { operation: "FinalizeExport".into(), found: Some("OtherResponse".into()) }
        );
        let not_soap = from_xml_ignoring_layout("<html><body/></html>").expect("xml");
        assert!(matches!(read_response(&not_soap, "X"), Err(ResponseError::NotSoap { .. })));
        let no_body = from_xml_ignoring_layout(r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>"#)
            .expect("xml");
        assert_eq!(read_response(&no_body, "X").expect_err("no body"), ResponseError::MissingBody);
    }

    #[test]
    fn every_fault_kind_is_typed() {
        use crate::entra::soap::ACCESS_DENIED_TEXT;
        assert_eq!(
            fault_of(&soap_fault(ACCESS_DENIED_TEXT, "")),
            Fault::AccessDenied { message: ACCESS_DENIED_TEXT.into() }
        );
        let redirect = soap_fault(
            "redirect",
            &format!(
                r#"<BindingRedirectionFault xmlns="{SYNC_NS}"><Url>https://other.example/provisioningservice.svc</Url></BindingRedirectionFault>"#
            ),
        );
        assert_eq!(
            fault_of(&redirect),
            Fault::Redirect { url: "https://other.example/provisioningservice.svc".into() }
        );
        assert!(matches!(fault_of(&soap_fault("Server is throttling", "")), Fault::Throttled { .. }));
        assert!(matches!(
            fault_of(&soap_fault("Identity synchronization is not yet activated for this company.", "")),
            Fault::SyncNotActivated { .. }
        ));
        assert!(matches!(
            fault_of(&soap_fault("The DirSyncBuildNumber is no longer supported", "")),
            Fault::OutdatedClient { .. }
        ));
        assert!(matches!(
            fault_of(&soap_fault(
                "The formatter threw an exception while trying to deserialize the message: There was an error",
                ""
            )),
            Fault::Deserialization { .. }
        ));
        let described = soap_fault(
            "The creator of this fault did not specify a Reason.",
            &format!(
                r#"<AdministrativeServiceFault xmlns="{SYNC_NS}"><ErrorDescription>Object is invalid</ErrorDescription></AdministrativeServiceFault>"#
            ),
        );
        assert_eq!(
            fault_of(&described),
            Fault::Service {
                description: "Object is invalid".into(),
                reason: "The creator of this fault did not specify a Reason.".into()
            }
        );
        assert_eq!(
            fault_of(&soap_fault("Something broke", "")),
            Fault::Other { code: Some("s:Sender".into()), reason: "Something broke".into() }
        );
    }

    #[test]
    fn error_description_outside_a_fault_is_a_fault() {
        let body = format!(r#"<Odd xmlns="{SYNC_NS}"><ErrorDescription>bad thing</ErrorDescription></Odd>"#);
        assert_eq!(fault_of(&body), Fault::Service { description: "bad thing".into(), reason: String::new() });
    }

    #[test]
    fn soap_1_1_style_fault_text_is_read() {
        let body = "<s:Fault><faultcode>s:Client</faultcode><faultstring>old style</faultstring></s:Fault>";
        assert_eq!(fault_of(body), Fault::Other { code: Some("s:Client".into()), reason: "old style".into() });
    }
}
