//! The SOAP 1.2 envelope of the sync API: reading a request's headers and writing responses
//! and faults the way WCF writes them (docs/emulator.md, "Sync API").

use axum::http::StatusCode;

use crate::entra::nbfx::{Element, ElementRef};

pub(super) const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
pub(super) const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub(super) const ADDRESSING: &str = "http://www.w3.org/2005/08/addressing";
pub(super) const SYNC_NS: &str = "http://schemas.microsoft.com/online/aws/change/2010/01";
pub(super) const OBJECTS_NS: &str = "http://schemas.microsoft.com/online/aws/change/2014/06";
pub(super) const COEXISTENCE_NS: &str = "http://schemas.datacontract.org/2004/07/Microsoft.Online.Coexistence.Schema";
pub(super) const ARRAYS_NS: &str = "http://schemas.microsoft.com/2003/10/Serialization/Arrays";
pub(super) const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub(super) const XSD: &str = "http://www.w3.org/2001/XMLSchema";
pub(super) const ADMIN_SERVICE_NS: &str = "urn:microsoft.online.administrativeservice";
pub(super) const ACTION_PREFIX: &str =
    "http://schemas.microsoft.com/online/aws/change/2010/01/IProvisioningWebService/";
pub(super) const FAULT_ACTION: &str = "http://www.w3.org/2005/08/addressing/soap/fault";
pub(super) const ACCESS_DENIED: &str = "Access to Azure Active Directory has been denied. Contact Technical Support.";

/// Operations the emulator implements.
const EMULATED: [&str; 9] = [
    "GetCompanyConfiguration",
    "SetCompanyDirsyncFeatures",
    "ProvisionAzureADSyncObjects",
    "ProvisionAzureADSyncObjects2",
    "ReadBackAzureADSyncObjects",
    "ReadBackAzureADSyncObjects2",
    "ProvisionCredentials",
    "FinalizeExport",
    "Capabilities",
];

/// Operations of the real contract the emulator does not implement: they fault as unsupported.
const NOT_EMULATED: [&str; 6] = [
    "GetServiceAccount",
    "GetWindowsCredentialsSyncConfig",
    "GetDeviceConfiguration",
    "GetKerberosDomainSyncConfig",
    "GetKerberosDomain",
    "GetMonitoringTenantCertificate",
];

/// An operation of the real contract, emulated or not.
fn is_known_operation(name: &str) -> bool {
    EMULATED.contains(&name) || NOT_EMULATED.contains(&name)
}

/// The SyncToken header (its children are in the `…/2010/01` namespace).
pub(super) struct SyncToken {
    pub application_id: Option<String>,
    pub bearer_token: Option<String>,
    pub dirsync_build: Option<String>,
}

impl std::fmt::Debug for SyncToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncToken")
            .field("application_id", &self.application_id)
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "[redacted]"))
            .field("dirsync_build", &self.dirsync_build)
            .finish()
    }
}

/// A request whose envelope passed the checks: operation name, headers and the body element.
pub(super) struct Request<'a> {
    pub operation: String,
    pub message_id: String,
    pub sync_token: SyncToken,
    pub body: ElementRef<'a>,
}

/// The SOAP 1.2 fault code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FaultCode {
    Sender,
    Receiver,
    VersionMismatch,
    MustUnderstand,
}

/// WS-Addressing fault subcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Subcode {
    ActionNotSupported,
    MessageAddressingHeaderRequired,
}

/// What goes into `s:Detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FaultDetail {
    /// WCF's own faults (formatter, addressing, contract filter) carry no detail.
    None,
    /// `AdministrativeServiceFault/ErrorDescription`: the service's own faults.
    ErrorDescription(String),
    /// `BindingRedirectionFault/Url`.
    Redirect(String),
}

/// A SOAP fault and the HTTP answer that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fault {
    pub code: FaultCode,
    pub subcode: Option<Subcode>,
    pub reason: String,
    pub detail: FaultDetail,
    pub status: StatusCode,
    pub retry_after: Option<u64>,
}

impl Fault {
    fn new(code: FaultCode, reason: String, detail: FaultDetail) -> Fault {
        Fault { code, subcode: None, reason, detail, status: StatusCode::INTERNAL_SERVER_ERROR, retry_after: None }
    }

    /// A fault of the service itself: the reason text, repeated in `ErrorDescription`.
    pub(super) fn service(code: FaultCode, reason: impl Into<String>) -> Fault {
        let reason = reason.into();
        Fault::new(code, reason.clone(), FaultDetail::ErrorDescription(reason))
    }

    pub(super) fn access_denied() -> Fault {
        Fault::service(FaultCode::Sender, ACCESS_DENIED)
    }

    /// The access-denied fault for a user token once user sign-in is retired. Microsoft's exact
    /// text is not published: this one keeps the access-denied sentence every client knows and
    /// adds what Learn `security-updates-pks` tells administrators to do.
    pub(super) fn user_sign_in_retired() -> Fault {
        Fault::service(
            FaultCode::Sender,
            format!(
                "{ACCESS_DENIED} User account sign-in for directory synchronization was retired on 7 April 2027: \
                 configure application-based authentication."
            ),
        )
    }

    /// WCF's deserialisation failure for one operation parameter.
    pub(super) fn formatter(parameter: &str, inner: &str) -> Fault {
        Fault::new(
            FaultCode::Sender,
            format!(
                "The formatter threw an exception while trying to deserialize the message: There was an error while \
                 trying to deserialize parameter {SYNC_NS}:{parameter}. The InnerException message was '{inner}'. \
                 Please see InnerException for more details."
            ),
            FaultDetail::None,
        )
    }

    /// A body WCF could not read at all (malformed msbin1, wrong shape).
    pub(super) fn unreadable(inner: &str) -> Fault {
        Fault::new(
            FaultCode::Sender,
            format!(
                "The formatter threw an exception while trying to deserialize the message: There was an error \
                 deserializing the message. The InnerException message was '{inner}'. Please see InnerException for \
                 more details."
            ),
            FaultDetail::None,
        )
    }

    pub(super) fn action_not_supported(action: &str) -> Fault {
        let mut fault = Fault::new(
            FaultCode::Sender,
            format!(
                "The message with Action '{action}' cannot be processed at the receiver, due to a ContractFilter \
                 mismatch at the EndpointDispatcher. This may be because of either a contract mismatch (mismatched \
                 Actions between sender and receiver) or a binding/security mismatch between the sender and the \
                 receiver.  Check that sender and receiver have the same contract and the same binding (including \
                 security requirements, e.g. Message, Transport, None)."
            ),
            FaultDetail::None,
        );
        fault.subcode = Some(Subcode::ActionNotSupported);
        fault
    }

    pub(super) fn header_required(header: &str) -> Fault {
        let mut fault = Fault::new(
            FaultCode::Sender,
            format!(
                "A required header representing a Message Addressing Property is not present: the message has no \
                 a:{header} header."
            ),
            FaultDetail::None,
        );
        fault.subcode = Some(Subcode::MessageAddressingHeaderRequired);
        fault
    }

    pub(super) fn throttled(reason: String, retry_after: u64) -> Fault {
        let mut fault = Fault::service(FaultCode::Receiver, reason);
        fault.status = StatusCode::SERVICE_UNAVAILABLE;
        fault.retry_after = Some(retry_after);
        fault
    }

    pub(super) fn redirect(url: String) -> Fault {
        Fault::new(
            FaultCode::Sender,
            format!("The endpoint has moved; send the request to {url}."),
            FaultDetail::Redirect(url),
        )
    }
}

fn child_text(element: &ElementRef<'_>, ns: &str, local: &str) -> Option<String> {
    element.child(ns, local).map(|c| c.text())
}

fn is_true(value: &str) -> bool {
    matches!(value.trim(), "1" | "true")
}

/// Headers this endpoint understands (anything else with `s:mustUnderstand="1"` is refused).
fn understood(header: &ElementRef<'_>) -> bool {
    let ns = header.namespace().unwrap_or("");
    (ns == ADDRESSING && matches!(header.local_name(), "Action" | "To" | "MessageID" | "ReplyTo"))
        || (ns == ADMIN_SERVICE_NS && header.local_name() == "SyncToken")
}

/// The request's MessageID, if one can be found: faults echo it in RelatesTo even when other
/// checks fail.
pub(super) fn message_id(root: &Element) -> Option<String> {
    let view = root.view();
    view.child(SOAP12, "Header").and_then(|h| child_text(&h, ADDRESSING, "MessageID"))
}

/// Checks the envelope and its headers (the envelope steps of the request pipeline,
/// docs/emulator.md "Sync API"; the token is checked later).
pub(super) fn parse_request(root: &Element) -> Result<Request<'_>, Fault> {
    let envelope = root.view();
    if envelope.is(SOAP11, "Envelope") {
        let mut fault = Fault::new(
            FaultCode::VersionMismatch,
            "The envelope version of the incoming message (Soap11 (http://schemas.xmlsoap.org/soap/envelope/)) does \
             not match that of the encoder (Soap12 (http://www.w3.org/2003/05/soap-envelope))."
                .to_owned(),
            FaultDetail::None,
        );
        fault.status = StatusCode::INTERNAL_SERVER_ERROR;
        return Err(fault);
    }
    if !envelope.is(SOAP12, "Envelope") {
        return Err(Fault::unreadable(&format!(
            "Expecting element 'Envelope' from namespace '{SOAP12}'; found '{}' from namespace '{}'.",
            envelope.local_name(),
            envelope.namespace().unwrap_or("")
        )));
    }
    let header = envelope.child(SOAP12, "Header");
    let body = envelope.child(SOAP12, "Body").ok_or_else(|| Fault::unreadable("The envelope has no s:Body."))?;
    let Some(header) = header else { return Err(Fault::header_required("Action")) };
    for h in header.children() {
        let must = h.attribute(SOAP12, "mustUnderstand").is_some_and(is_true);
        if must && !understood(&h) {
            let mut fault = Fault::new(
                FaultCode::MustUnderstand,
                format!(
                    "The header '{}' from the namespace '{}' was not understood by the recipient of this message, \
                     causing the message to not be processed.  This error typically indicates that the sender of \
                     this message has enabled a communication protocol that the receiver cannot process.  Please \
                     ensure that the configuration of the client's binding is consistent with the service's binding.",
                    h.local_name(),
                    h.namespace().unwrap_or("")
                ),
                FaultDetail::None,
            );
            fault.status = StatusCode::INTERNAL_SERVER_ERROR;
            return Err(fault);
        }
    }
    let action = child_text(&header, ADDRESSING, "Action").ok_or_else(|| Fault::header_required("Action"))?;
    let action = action.trim().to_owned();
    let operation = match action.strip_prefix(ACTION_PREFIX) {
        Some(op) if is_known_operation(op) => op.to_owned(),
        _ => return Err(Fault::action_not_supported(&action)),
    };
    let message_id = child_text(&header, ADDRESSING, "MessageID").ok_or_else(|| Fault::header_required("MessageID"))?;
    // a:To names the real service even when the emulator is the target (interfaces.md): accept
    // any host, but the address must be this service's path, as WCF's AddressFilter demands.
    let to = child_text(&header, ADDRESSING, "To").ok_or_else(|| Fault::header_required("To"))?;
    if !to_matches_endpoint(to.trim()) {
        return Err(Fault::new(
            FaultCode::Sender,
            format!(
                "The message with To '{to}' cannot be processed at the receiver, due to an AddressFilter mismatch at \
                 the EndpointDispatcher.  Check that the sender and receiver's EndpointAddresses agree."
            ),
            FaultDetail::None,
        ));
    }
    let sync_token = header
        .child(ADMIN_SERVICE_NS, "SyncToken")
        .map(|t| SyncToken {
            application_id: child_text(&t, SYNC_NS, "ApplicationId"),
            bearer_token: child_text(&t, SYNC_NS, "BearerToken"),
            dirsync_build: child_text(&t, SYNC_NS, "DirSyncBuildNumber"),
        })
        .unwrap_or(SyncToken { application_id: None, bearer_token: None, dirsync_build: None });
    let mut elements = body.children();
    let (Some(op_element), None) = (elements.next(), elements.next()) else {
        return Err(Fault::unreadable("The s:Body must contain exactly one element, the operation."));
    };
    if !op_element.is(SYNC_NS, &operation) {
        return Err(Fault::unreadable(&format!(
            "OperationFormatter encountered an invalid Message body. Expected to find node type 'Element' with name \
             '{operation}' and namespace '{SYNC_NS}'. Found node type 'Element' with name '{}' and namespace '{}'",
            op_element.local_name(),
            op_element.namespace().unwrap_or("")
        )));
    }
    Ok(Request { operation, message_id, sync_token, body: op_element })
}

/// `scheme://host[:port]/provisioningservice.svc`, any host.
fn to_matches_endpoint(to: &str) -> bool {
    let Some((scheme, rest)) = to.split_once("://") else { return false };
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
        && path.split(['?', '#']).next().is_some_and(|p| p.eq_ignore_ascii_case("/provisioningservice.svc"))
}

fn envelope(action: &str, relates_to: Option<&str>, body_content: Element) -> Element {
    let mut header =
        Element::new("s", "Header").child(Element::new("a", "Action").attr("s", "mustUnderstand", "1").text(action));
    if let Some(id) = relates_to {
        header.push_child(Element::new("a", "RelatesTo").text(id));
    }
    Element::new("s", "Envelope")
        .xmlns("s", SOAP12)
        .xmlns("a", ADDRESSING)
        .child(header)
        .child(Element::new("s", "Body").child(body_content))
}

/// `<{op}Response xmlns="…/2010/01">` around `result` (or empty), in an envelope.
pub(super) fn response(operation: &str, relates_to: &str, result: Option<Element>) -> Element {
    let mut wrapper = Element::new("", format!("{operation}Response")).xmlns("", SYNC_NS);
    if let Some(result) = result {
        wrapper.push_child(result);
    }
    envelope(&format!("{ACTION_PREFIX}{operation}Response"), Some(relates_to), wrapper)
}

/// The fault envelope, as WCF writes it: `s:Code`, `s:Reason`, optional `s:Detail`.
pub(super) fn fault_envelope(fault: &Fault, relates_to: Option<&str>) -> Element {
    let code_value = match fault.code {
        FaultCode::Sender => "s:Sender",
        FaultCode::Receiver => "s:Receiver",
        FaultCode::VersionMismatch => "s:VersionMismatch",
        FaultCode::MustUnderstand => "s:MustUnderstand",
    };
    let mut code = Element::new("s", "Code").child(Element::new("s", "Value").text(code_value));
    if let Some(subcode) = fault.subcode {
        let local = match subcode {
            Subcode::ActionNotSupported => "ActionNotSupported",
            Subcode::MessageAddressingHeaderRequired => "MessageAddressingHeaderRequired",
        };
        code.push_child(Element::new("s", "Subcode").child(Element::new("s", "Value").text(format!("a:{local}"))));
    }
    let mut body = Element::new("s", "Fault").child(code).child(
        Element::new("s", "Reason")
            .child(Element::new("s", "Text").attr("xml", "lang", "en-US").text(fault.reason.as_str())),
    );
    match &fault.detail {
        FaultDetail::None => {}
        FaultDetail::ErrorDescription(text) => body.push_child(
            Element::new("s", "Detail").child(
                Element::new("", "AdministrativeServiceFault")
                    .xmlns("", SYNC_NS)
                    .child(Element::new("", "ErrorDescription").text(text.as_str())),
            ),
        ),
        FaultDetail::Redirect(url) => body.push_child(
            Element::new("s", "Detail").child(
                Element::new("", "BindingRedirectionFault")
                    .xmlns("", SYNC_NS)
                    .child(Element::new("", "Url").text(url.as_str())),
            ),
        ),
    }
    envelope(FAULT_ACTION, relates_to, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_accepts_any_host_but_only_this_path() {
        assert!(to_matches_endpoint("https://adminwebservice.microsoftonline.com/provisioningservice.svc"));
        assert!(to_matches_endpoint("http://127.0.0.1:4000/ProvisioningService.svc"));
        assert!(!to_matches_endpoint("https://adminwebservice.microsoftonline.com/other.svc"));
        assert!(!to_matches_endpoint("urn:nothing"));
        assert!(!to_matches_endpoint("https://host"));
    }
}
