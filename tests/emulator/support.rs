//! Test support: an in-process emulator, sign-in, and raw msbin1 requests built from the XML
//! shapes of the protocol doc (XML text → nbfx::from_xml → encode → POST).

use std::collections::BTreeMap;
use std::time::Duration;

use samba_entra_sync::emulator::{Emulator, EmulatorConfig};
use samba_entra_sync::entra::nbfx::{self, Element, ElementRef};
use serde_json::Value as J;

pub const SYNC: &str = "http://schemas.microsoft.com/online/aws/change/2010/01";
pub const OBJECTS: &str = "http://schemas.microsoft.com/online/aws/change/2014/06";
pub const COEX: &str = "http://schemas.datacontract.org/2004/07/Microsoft.Online.Coexistence.Schema";
pub const ARRAYS: &str = "http://schemas.microsoft.com/2003/10/Serialization/Arrays";
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema";
pub const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const ADDRESSING: &str = "http://www.w3.org/2005/08/addressing";
pub const CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
pub const BUILD: &str = "2.6.3.0";
pub const ACCESS_DENIED: &str = "Access to Azure Active Directory has been denied. Contact Technical Support.";
/// The scope of Microsoft's current client : tokens for the sync app.
pub const SYNC_SCOPE: &str = "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016/.default offline_access openid profile";
pub const SYNC_APP: &str = "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016";

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Defaults for tests: auto-approved sign-in without pending polls.
pub fn config() -> EmulatorConfig {
    EmulatorConfig { auto_approve: true, pending_polls: 0, poll_interval_secs: 1, ..EmulatorConfig::default() }
}

pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/emulator/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub struct Env {
    /// The in-process emulator (None when attached to one running elsewhere).
    pub _server: Option<Emulator>,
    pub http: reqwest::Client,
    pub base: String,
    pub tenant: String,
    pub token: String,
}

/// A reply of the sync endpoint.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub raw: Vec<u8>,
    pub root: Option<Element>,
}

impl Reply {
    pub fn fault(&self) -> Option<String> {
        let root = self.root.as_ref()?;
        let env = root.view();
        let text = env.child(SOAP, "Body")?.child(SOAP, "Fault")?.child(SOAP, "Reason")?.child(SOAP, "Text")?;
        Some(text.text())
    }

    pub fn ok(&self) -> ElementRef<'_> {
        assert_eq!(self.status, 200, "expected success, got fault {:?}", self.fault());
        let body = self.root.as_ref().expect("a SOAP reply").view().child(SOAP, "Body").expect("body");
        body.children().next().expect("a response element")
    }

    pub fn expect_fault(&self, status: u16, needle: &str) -> String {
        let text = self.fault().unwrap_or_else(|| panic!("expected a fault, got HTTP {}", self.status));
        assert_eq!(self.status, status, "fault {text:?}");
        assert!(text.contains(needle), "fault {text:?} does not contain {needle:?}");
        text
    }
}

/// Starts an emulator; signs in when it approves device codes by itself.
pub async fn start(config: EmulatorConfig) -> Env {
    install_crypto();
    let sign_in = config.auto_approve;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let emulator = Emulator::start(config, listener).await.expect("emulator starts");
    let base = emulator.base_url().to_owned();
    let tenant = emulator.tenant_id().to_string();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let mut env = Env { _server: Some(emulator), http, base, tenant, token: String::new() };
    if sign_in {
        env.token = env.device_token(CLIENT_ID, SYNC_SCOPE).await["access_token"].as_str().expect("token").to_owned();
    }
    env
}

impl Env {
    /// Talks to an emulator started elsewhere, signing in through its auto-approved device code.
    pub async fn attach(http: reqwest::Client, base: &str, tenant: &str) -> Env {
        let mut env = Env::attach_with_token(http, base, tenant, String::new());
        env.token = env.device_token(CLIENT_ID, SYNC_SCOPE).await["access_token"].as_str().expect("token").to_owned();
        env
    }

    pub fn attach_with_token(http: reqwest::Client, base: &str, tenant: &str, token: String) -> Env {
        Env { _server: None, http, base: base.to_owned(), tenant: tenant.to_owned(), token }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn form(&self, path: &str, form: &[(&str, &str)]) -> (u16, J) {
        let r = self.http.post(self.url(path)).form(form).send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.expect("JSON answer"))
    }

    pub async fn device_code(&self, client_id: &str, scope: &str) -> J {
        let (status, body) = self
            .form(&format!("/{}/oauth2/v2.0/devicecode", self.tenant), &[("client_id", client_id), ("scope", scope)])
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn poll(&self, client_id: &str, device_code: &str) -> (u16, J) {
        self.form(
            &format!("/{}/oauth2/v2.0/token", self.tenant),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", client_id),
                ("device_code", device_code),
                ("client_info", "1"),
            ],
        )
        .await
    }

    /// Device code flow against an auto-approving emulator.
    pub async fn device_token(&self, client_id: &str, scope: &str) -> J {
        let code = self.device_code(client_id, scope).await;
        let device_code = code["device_code"].as_str().expect("device_code").to_owned();
        for _ in 0..20 {
            let (status, body) = self.poll(client_id, &device_code).await;
            if status == 200 {
                return body;
            }
            assert_eq!(body["error"], "authorization_pending", "{body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the device code was never approved");
    }

    pub async fn post_raw(&self, body: Vec<u8>, content_type: &str) -> Reply {
        let r = self
            .http
            .post(self.url("/provisioningservice.svc"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let raw = r.bytes().await.expect("body").to_vec();
        let root = if headers.get("content-type").is_some_and(|c| c == "application/soap+msbin1") {
            Some(nbfx::decode(&raw).expect("the emulator answers valid msbin1"))
        } else {
            None
        };
        Reply { status, headers, raw, root }
    }

    pub async fn send_xml(&self, xml: &str) -> Reply {
        let tree = nbfx::from_xml(xml).expect("test XML parses");
        self.post_raw(nbfx::encode(&tree).expect("encodes"), "application/soap+msbin1").await
    }

    pub async fn call(&self, op: &str, body: &str) -> Reply {
        self.call_as(op, body, &self.token, BUILD).await
    }

    pub async fn call_as(&self, op: &str, body: &str, token: &str, build: &str) -> Reply {
        self.send_xml(&envelope(op, token, build, &uuid::Uuid::new_v4().to_string(), body)).await
    }

    pub async fn enable_phs(&self) {
        let reply = self.call("SetCompanyDirsyncFeatures", &features_body(41017)).await;
        reply.ok();
    }

    pub async fn admin_get(&self, path: &str) -> (u16, J) {
        let r = self.http.get(self.url(path)).send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(J::Null))
    }

    pub async fn admin_post(&self, path: &str, body: &J) -> (u16, J) {
        let r = self.http.post(self.url(path)).json(body).send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(J::Null))
    }

    pub async fn verify_password(&self, anchor: &str, password: &str) -> bool {
        let (status, body) = self
            .admin_post("/admin/verify-password", &serde_json::json!({"sourceAnchor": anchor, "password": password}))
            .await;
        assert_eq!(status, 200, "{body}");
        body["valid"].as_bool().expect("valid")
    }

    /// Adds a user with a UPN; returns its results.
    pub async fn add_user(&self, anchor: &str, upn: &str) -> Vec<ObjResult> {
        let body = provision_body(
            "ProvisionAzureADSyncObjects",
            &[object(
                "User",
                "Set",
                &[
                    kv_string("SourceAnchor", anchor),
                    kv_string("userPrincipalName", upn),
                    kv_bool("accountEnabled", true),
                ],
            )],
        );
        provision_results(&self.call("ProvisionAzureADSyncObjects", &body).await)
    }
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The request envelope a real client sends (addressing headers and the `SyncToken`).
pub fn envelope(op: &str, token: &str, build: &str, guid: &str, body: &str) -> String {
    let child = |name: &str, value: &str| format!("<{name} xmlns=\"{SYNC}\">{value}</{name}>");
    format!(
        "<s:Envelope xmlns:s=\"{SOAP}\" xmlns:a=\"{ADDRESSING}\"><s:Header>\
         <a:Action s:mustUnderstand=\"1\">{SYNC}/IProvisioningWebService/{op}</a:Action>\
         <SyncToken s:role=\"urn:microsoft.online.administrativeservice\" xmlns=\"urn:microsoft.online.administrativeservice\" xmlns:i=\"{XSI}\">\
         {}{}{}{}{}{}{}{}<LiveToken xmlns=\"{SYNC}\"/>{}{}{}</SyncToken>\
         <a:MessageID>urn:uuid:{guid}</a:MessageID>\
         <a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>\
         <a:To s:mustUnderstand=\"1\">https://adminwebservice.microsoftonline.com/provisioningservice.svc</a:To>\
         </s:Header><s:Body>{body}</s:Body></s:Envelope>",
        child("ApplicationId", "1651564e-7ce4-4d99-88be-0a65050d8dc3"),
        child("BearerToken", &escape(token)),
        child("ClientVersion", "8.0"),
        child("DirSyncBuildNumber", build),
        child("FIMBuildNumber", build),
        child("IsInstalledOnDC", "false"),
        child("IssueDateTime", "0001-01-01T00:00:00"),
        child("LanguageId", "en-US"),
        child("ProtocolVersion", "2.0"),
        child("RichCoexistenceEnabled", "false"),
        child("TrackingId", guid),
    )
}

fn kv(key: &str, value: &str) -> String {
    format!("<c:KeyValueOfstringanyType><c:Key>{}</c:Key>{value}</c:KeyValueOfstringanyType>", escape(key))
}

fn typed(ty: &str, text: &str) -> String {
    format!("<c:Value i:type=\"d:{ty}\" xmlns:d=\"{XSD}\">{}</c:Value>", escape(text))
}

pub fn kv_string(key: &str, value: &str) -> String {
    kv(key, &typed("string", value))
}

pub fn kv_bool(key: &str, value: bool) -> String {
    kv(key, &typed("boolean", if value { "true" } else { "false" }))
}

pub fn kv_long(key: &str, value: i64) -> String {
    kv(key, &typed("long", &value.to_string()))
}

pub fn kv_base64(key: &str, value: &str) -> String {
    kv(key, &typed("base64Binary", value))
}

/// A nil value, with the unused `xmlns:d` the Python port sends.
pub fn kv_nil(key: &str) -> String {
    kv(key, &format!("<c:Value i:nil=\"true\" xmlns:d=\"{XSD}\"/>"))
}

pub fn kv_strings(key: &str, values: &[&str]) -> String {
    let items: String = values.iter().map(|v| format!("<c:string>{}</c:string>", escape(v))).collect();
    kv(key, &format!("<c:Value i:type=\"c:ArrayOfstring\">{items}</c:Value>"))
}

pub fn kv_binaries(key: &str, values: &[&str]) -> String {
    let items: String = values.iter().map(|v| format!("<c:base64Binary>{v}</c:base64Binary>")).collect();
    kv(key, &format!("<c:Value i:type=\"c:ArrayOfbase64Binary\">{items}</c:Value>"))
}

/// The delta member form (`SyncReferenceChange`): (anchor, add?).
pub fn kv_member_delta(changes: &[(&str, bool)]) -> String {
    let items: String = changes
        .iter()
        .map(|(anchor, add)| {
            format!(
                "<SyncReferenceChange><Reference><Anchor>{}</Anchor><referenceTypeInt>2</referenceTypeInt></Reference>\
                 <operationInt>{}</operationInt></SyncReferenceChange>",
                escape(anchor),
                if *add { 1 } else { 2 }
            )
        })
        .collect();
    kv(
        "member",
        &format!(
            "<c:Value i:type=\"SyncReferenceChangeCollection\"><referenceChanges>{items}</referenceChanges></c:Value>"
        ),
    )
}

pub fn object(kind: &str, op: &str, kvs: &[String]) -> String {
    format!(
        "<b:AzureADSyncObject><b:PropertyValues xmlns:c=\"{ARRAYS}\">{}</b:PropertyValues>\
         <b:SyncObjectType>{kind}</b:SyncObjectType><b:SyncOperation>{op}</b:SyncOperation></b:AzureADSyncObject>",
        kvs.concat()
    )
}

pub fn provision_body(op: &str, objects: &[String]) -> String {
    format!(
        "<{op} xmlns=\"{SYNC}\"><syncRequest xmlns:b=\"{OBJECTS}\" xmlns:i=\"{XSI}\"><b:SyncObjects>{}</b:SyncObjects>\
         </syncRequest></{op}>",
        objects.concat()
    )
}

pub fn features_body(mask: i64) -> String {
    format!(
        "<SetCompanyDirsyncFeatures xmlns=\"{SYNC}\"><dirsyncFeatures>{mask}</dirsyncFeatures></SetCompanyDirsyncFeatures>"
    )
}

pub fn read_back_body(op: &str, full: bool) -> String {
    format!(
        "<{op} xmlns=\"{SYNC}\"><includeLicenseInformation>true</includeLicenseInformation>\
         <inputCookie i:nil=\"true\" xmlns:i=\"{XSI}\"/><isFullSync>{full}</isFullSync></{op}>"
    )
}

pub fn credential_item(anchor: &str, data: &str, change_date: &str) -> String {
    format!(
        "<b:SyncCredentialsChangeItem><b:ChangeDate>{change_date}</b:ChangeDate><b:CloudAnchor i:nil=\"true\"/>\
         <b:CredentialData>{}</b:CredentialData><b:ForcePasswordChangeOnLogon>false</b:ForcePasswordChangeOnLogon>\
         <b:SourceAnchor>{}</b:SourceAnchor><b:WindowsLegacyCredentials i:nil=\"true\"/>\
         <b:WindowsSupplementalCredentials i:nil=\"true\"/></b:SyncCredentialsChangeItem>",
        escape(data),
        escape(anchor)
    )
}

pub fn credentials_body(items: &[String]) -> String {
    format!(
        "<ProvisionCredentials xmlns=\"{SYNC}\"><request xmlns:b=\"{COEX}\" xmlns:i=\"{XSI}\"><b:RequestItems>{}\
         </b:RequestItems></request></ProvisionCredentials>",
        items.concat()
    )
}

/// The CredentialData of a password (salt fixed so tests are repeatable).
pub fn credential_for(password: &str) -> String {
    let nt = samba_entra_sync::entra::credential::nt_hash_of_password(password);
    samba_entra_sync::entra::credential::credential_data_with(&nt, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 1000).to_string()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjResult {
    pub cloud_anchor: Option<String>,
    pub code: String,
    pub description: Option<String>,
    pub source_anchor: Option<String>,
}

fn nil_or_text(e: Option<ElementRef<'_>>) -> Option<String> {
    let e = e?;
    if e.attribute(XSI, "nil") == Some("true") { None } else { Some(e.text()) }
}

pub fn provision_results(reply: &Reply) -> Vec<ObjResult> {
    let response = reply.ok();
    let result = response.children().next().expect("result element");
    let list = result.child(OBJECTS, "SyncObjectResults").expect("SyncObjectResults");
    list.children()
        .map(|r| {
            let names: Vec<&str> = r.children().map(|c| c.local_name()).collect();
            assert_eq!(names, ["CloudAnchor", "ResultCode", "ResultErrorDescription", "SourceAnchor"], "member order");
            ObjResult {
                cloud_anchor: nil_or_text(r.child(OBJECTS, "CloudAnchor")),
                code: r.child_text(OBJECTS, "ResultCode").expect("ResultCode"),
                description: nil_or_text(r.child(OBJECTS, "ResultErrorDescription")),
                source_anchor: nil_or_text(r.child(OBJECTS, "SourceAnchor")),
            }
        })
        .collect()
}

/// (Result, ExtendedErrorInformation, echoed SourceAnchor) per item.
pub fn credential_results(reply: &Reply) -> Vec<(i32, Option<String>, Option<String>)> {
    let response = reply.ok();
    let result = response.child(SYNC, "ProvisionCredentialsResult").expect("result");
    result
        .child(COEX, "Results")
        .expect("Results")
        .children()
        .map(|r| {
            (
                r.child_text(COEX, "Result").expect("Result").parse().expect("int"),
                r.child(COEX, "ExtendedErrorInformation").map(|e| e.text()),
                nil_or_text(r.child(COEX, "SourceAnchor")),
            )
        })
        .collect()
}

/// A read-back value: its `i:type` and its text or list items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadValue {
    pub ty: String,
    pub text: String,
    pub items: Vec<String>,
}

/// Read-back objects: (SyncObjectType, key → value).
pub fn read_back_objects(reply: &Reply) -> Vec<(String, BTreeMap<String, ReadValue>)> {
    let response = reply.ok();
    let result = response.children().next().expect("result");
    result
        .child(OBJECTS, "ResultObjects")
        .expect("ResultObjects")
        .children()
        .map(|o| {
            let values = o.child(OBJECTS, "PropertyValues").expect("PropertyValues");
            let map = values
                .children()
                .map(|kv| {
                    let key = kv.child_text(ARRAYS, "Key").expect("Key");
                    let value = kv.child(ARRAYS, "Value").expect("Value");
                    let ty = value.attribute(XSI, "type").unwrap_or_else(|| panic!("{key} has no i:type")).to_owned();
                    let items = value.children().map(|i| i.text()).collect();
                    (key, ReadValue { ty, text: value.text(), items })
                })
                .collect();
            (o.child_text(OBJECTS, "SyncObjectType").expect("type"), map)
        })
        .collect()
}
