//! A tiny scripted sync API server: each test gives a function from the request (and its
//! index) to the reply. It records what it received. Not an emulator: it knows only the SOAP
//! shapes the tests write.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use samba_entra_sync::entra::nbfx::{self, Element, from_xml_ignoring_layout, ns};
use samba_entra_sync::entra::soap::{ADMIN_SERVICE_NS, SYNC_NS};

/// One request as received.
#[derive(Clone)]
pub struct Seen {
    pub headers: HeaderMap,
    pub envelope: Element,
}

impl Seen {
    fn header_child(&self, namespace: &str, local: &str) -> Option<String> {
        let root = self.envelope.view();
        root.child(ns::SOAP_ENVELOPE, "Header")?.child_text(namespace, local)
    }

    fn sync_token_field(&self, local: &str) -> String {
        let root = self.envelope.view();
        root.child(ns::SOAP_ENVELOPE, "Header")
            .and_then(|h| h.child(ADMIN_SERVICE_NS, "SyncToken"))
            .and_then(|t| t.child_text(SYNC_NS, local))
            .unwrap_or_default()
    }

    /// The operation named by `a:Action`.
    pub fn operation(&self) -> String {
        let action = self.header_child(ns::ADDRESSING, "Action").unwrap_or_default();
        action.rsplit('/').next().unwrap_or_default().to_owned()
    }

    pub fn bearer_token(&self) -> String {
        self.sync_token_field("BearerToken")
    }

    pub fn tracking_id(&self) -> String {
        self.sync_token_field("TrackingId")
    }

    pub fn message_id(&self) -> String {
        self.header_child(ns::ADDRESSING, "MessageID").unwrap_or_default()
    }

    pub fn to(&self) -> String {
        self.header_child(ns::ADDRESSING, "To").unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("<missing>").to_owned()
    }
}

/// What the server answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: Vec<u8>) -> Reply {
        Reply { status, headers: Vec::new(), body, delay: Duration::ZERO }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    seen: Mutex<Vec<Seen>>,
}

pub struct TestServer {
    /// `http://127.0.0.1:port/provisioningservice.svc`
    pub url: String,
    shared: Arc<Shared>,
}

impl TestServer {
    pub async fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> TestServer {
        let shared = Arc::new(Shared { handler: Box::new(handler), seen: Mutex::new(Vec::new()) });
        let app = Router::new().route("/provisioningservice.svc", post(handle)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/provisioningservice.svc", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        TestServer { url, shared }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("lock").clone()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(envelope) = nbfx::decode(&body) else {
        return (StatusCode::BAD_REQUEST, "not msbin1").into_response();
    };
    let seen = Seen { headers, envelope };
    let reply = {
        let mut all = shared.seen.lock().expect("lock");
        all.push(seen.clone());
        (shared.handler)(&seen, all.len() - 1)
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = (StatusCode::from_u16(reply.status).expect("status"), reply.body).into_response();
    response.headers_mut().insert("content-type", "application/soap+msbin1".parse().expect("value"));
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().expect("header value"));
    }
    response
}

const ENVELOPE_START: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Body>"#;
const ENVELOPE_END: &str = "</s:Body></s:Envelope>";

fn envelope_bytes(body: &str) -> Vec<u8> {
    let tree = from_xml_ignoring_layout(&format!("{ENVELOPE_START}{body}{ENVELOPE_END}")).expect("xml");
    nbfx::encode(&tree).expect("encodes")
}

/// HTTP 200 with `{op}Response/{op}Result` holding `inner` (XML).
pub fn success(op: &str, inner: &str) -> Reply {
    Reply::new(
        200,
        envelope_bytes(&format!(
            r#"<{op}Response xmlns="{SYNC_NS}"><{op}Result xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns:b="http://schemas.microsoft.com/online/aws/change/2014/06">{inner}</{op}Result></{op}Response>"#
        )),
    )
}

/// HTTP 500 with a SOAP fault.
pub fn fault(reason: &str, detail: &str) -> Reply {
    Reply::new(
        500,
        envelope_bytes(&format!(
            r#"<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason><s:Detail>{detail}</s:Detail></s:Fault>"#
        )),
    )
}

pub fn redirect_fault(url: &str) -> Reply {
    fault(
        "Binding redirection",
        &format!(r#"<BindingRedirectionFault xmlns="{SYNC_NS}"><Url>{url}</Url></BindingRedirectionFault>"#),
    )
}

pub const TENANT: &str = "57cf9f28-1ad7-40f4-bee8-d3ab9877f0a8";

/// The inner XML of a GetCompanyConfiguration result.
pub fn company_configuration() -> String {
    format!(
        "<DirSyncConfiguration><AnchorAttribute>objectGUID</AnchorAttribute></DirSyncConfiguration>\
         <DirSyncFeatures>41017</DirSyncFeatures><DisplayName>Test Tenant</DisplayName>\
         <IsDirSyncing>true</IsDirSyncing><IsPasswordSyncing>true</IsPasswordSyncing><TenantId>{TENANT}</TenantId>"
    )
}

/// Answers GetCompanyConfiguration and Capabilities (no black list), and an empty response to
/// anything else.
pub fn healthy(seen: &Seen) -> Reply {
    match seen.operation().as_str() {
        "GetCompanyConfiguration" => success("GetCompanyConfiguration", &company_configuration()),
        "Capabilities" => success("Capabilities", "&lt;ServiceCapability/&gt;"),
        op => Reply::new(200, envelope_bytes(&format!(r#"<{op}Response xmlns="{SYNC_NS}"/>"#))),
    }
}

/// The msbin1 body of a SOAP fault with a `s:Subcode`.
pub fn fault_with_subcode(subcode: &str, reason: &str) -> Vec<u8> {
    envelope_bytes(&format!(
        r#"<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value xmlns:a="http://www.w3.org/2005/08/addressing">{subcode}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason></s:Fault>"#
    ))
}
