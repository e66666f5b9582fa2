//! The SOAP 1.2 layer of the sync API: the request envelope with its
//! `SyncToken` header, and the reading of responses and faults.
//!
//! * [`request_envelope`] builds the request envelope as an [`nbfx::Element`];
//!   [`encode_request`] writes it as msbin1 into a buffer that is wiped on drop, and wipes the
//!   tree (it holds the bearer token).
//! * [`read_response`] finds `Body/{Op}Response/{Op}Result` or turns a fault into a typed
//!   [`Fault`] (classified by [`FaultRules`]).

mod envelope;
mod fault;
mod response;

pub use envelope::{ClientIdentity, RequestHeader, encode_request, request_envelope, wipe_tree};
pub use fault::{Fault, FaultRules, RawFault};
pub(crate) use response::is_nil;
pub use response::{Reply, ResponseError, read_response};

/// Contract namespace of the service: operation elements, SyncToken children, result members.
pub const SYNC_NS: &str = "http://schemas.microsoft.com/online/aws/change/2010/01";
/// Namespace (`b:`) of the sync-object messages (provision, read-back).
pub const SYNC_OBJECTS_NS: &str = "http://schemas.microsoft.com/online/aws/change/2014/06";
/// Namespace (`b:`) of the credential messages (`ProvisionCredentials`).
pub const COEXISTENCE_NS: &str = "http://schemas.datacontract.org/2004/07/Microsoft.Online.Coexistence.Schema";
/// Namespace and `s:role` of the `SyncToken` header.
pub const ADMIN_SERVICE_NS: &str = "urn:microsoft.online.administrativeservice";
/// SOAP action of an operation = this + operation name.
pub const ACTION_BASE: &str = "http://schemas.microsoft.com/online/aws/change/2010/01/IProvisioningWebService/";
/// The real service; also what `a:To` names by default, whatever host is contacted.
pub const SERVICE_URL: &str = "https://adminwebservice.microsoftonline.com/provisioningservice.svc";
/// Path of the service on every host a redirect may name.
pub const SERVICE_PATH: &str = "/provisioningservice.svc";
/// DirSync "application type" identifiers sent as `ApplicationId`; not OAuth client ids.
pub const APPLICATION_ID_V1: &str = "1651564e-7ce4-4d99-88be-0a65050d8dc3";
pub const APPLICATION_ID_V2: &str = "6eb59a73-39b2-4c23-a70f-e2e3ce8965b1";
/// Build number current clients send: older builds are being refused.
pub const DEFAULT_CLIENT_BUILD: &str = "2.6.3.0";
/// `ClientVersion` every port sends.
pub const CLIENT_VERSION: &str = "8.0";
/// The reason text of the service's access-denied fault.
pub const ACCESS_DENIED_TEXT: &str = "Access to Azure Active Directory has been denied. Contact Technical Support.";
