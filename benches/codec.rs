//! msbin1 codec throughput on a realistic ProvisionAzureADSyncObjects request: the Appendix C
//! envelope and a body of 50 users with 20 attributes each (the request shape, value encodings and
//! attribute names a real client sends).
//! Run with `cargo bench --bench codec`; prints encode and decode MB/s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use samba_entra_sync::entra::nbfx::{self, Element, ns};

const SYNC: &str = "http://schemas.microsoft.com/online/aws/change/2010/01";
const SYNC_2014: &str = "http://schemas.microsoft.com/online/aws/change/2014/06";
const ADMIN: &str = "urn:microsoft.online.administrativeservice";
const USERS: usize = 50;

fn sync_token_child(name: &str, value: &str) -> Element {
    Element::new("", name).xmlns("", SYNC).text(value)
}

fn envelope(body: Element) -> Element {
    let action = format!("{SYNC}/IProvisioningWebService/ProvisionAzureADSyncObjects");
    let token = Element::new("", "SyncToken")
        .attr("s", "role", ADMIN)
        .xmlns("", ADMIN)
        .xmlns("i", ns::XML_SCHEMA_INSTANCE)
        .child(sync_token_child("ApplicationId", "1651564e-7ce4-4d99-88be-0a65050d8dc3"))
        .child(sync_token_child("BearerToken", &"eyJ0eXAiOiJKV1QifQ".repeat(80)))
        .child(sync_token_child("ClientVersion", "8.0"))
        .child(sync_token_child("DirSyncBuildNumber", "2.6.3.0"))
        .child(sync_token_child("FIMBuildNumber", "2.6.3.0"))
        .child(sync_token_child("IsInstalledOnDC", "false"))
        .child(sync_token_child("IssueDateTime", "0001-01-01T00:00:00"))
        .child(sync_token_child("LanguageId", "en-US"))
        .child(Element::new("", "LiveToken").xmlns("", SYNC))
        .child(sync_token_child("ProtocolVersion", "2.0"))
        .child(sync_token_child("RichCoexistenceEnabled", "false"))
        .child(sync_token_child("TrackingId", "5f0c2d4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"));
    let header = Element::new("s", "Header")
        .child(Element::new("a", "Action").attr("s", "mustUnderstand", "1").text(action))
        .child(token)
        .child(Element::new("a", "MessageID").text("urn:uuid:5f0c2d4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"))
        .child(Element::new("a", "ReplyTo").child(Element::new("a", "Address").text(ns::ADDRESSING_ANONYMOUS)))
        .child(
            Element::new("a", "To")
                .attr("s", "mustUnderstand", "1")
                .text("https://adminwebservice.microsoftonline.com/provisioningservice.svc"),
        );
    Element::new("s", "Envelope")
        .xmlns("s", ns::SOAP_ENVELOPE)
        .xmlns("a", ns::ADDRESSING)
        .child(header)
        .child(Element::new("s", "Body").child(body))
}

fn typed_value(xsd_type: &str, value: &str) -> Element {
    Element::new("c", "Value").attr("i", "type", format!("d:{xsd_type}")).xmlns("d", ns::XML_SCHEMA).text(value)
}

fn string_list(values: &[String]) -> Element {
    let items = values.iter().map(|v| Element::new("c", "string").text(v.as_str()));
    Element::new("c", "Value").attr("i", "type", "c:ArrayOfstring").children(items)
}

fn entry(key: &str, value: Element) -> Element {
    Element::new("c", "KeyValueOfstringanyType").child(Element::new("c", "Key").text(key)).child(value)
}

fn user(n: usize) -> Element {
    let name = format!("user{n:04}");
    let upn = format!("{name}@contoso.example");
    let s = |v: &str| typed_value("string", v);
    let properties = Element::new("b", "PropertyValues")
        .xmlns("c", ns::SERIALIZATION_ARRAYS)
        .child(entry("SourceAnchor", s(&format!("kZj7niGua0Gz92mIDC{n:04}w=="))))
        .child(entry("accountEnabled", typed_value("boolean", "true")))
        .child(entry("userPrincipalName", s(&upn)))
        .child(entry("displayName", s(&format!("Test User {n} <Ünïcode & Co>"))))
        .child(entry("givenName", s("Test")))
        .child(entry("surname", s(&format!("User {n}"))))
        .child(entry("commonName", s(&format!("Test User {n}"))))
        .child(entry("mail", s(&upn)))
        .child(entry("proxyAddresses", string_list(&[format!("SMTP:{upn}"), format!("smtp:alias{n}@contoso.example")])))
        .child(entry("onPremisesSamAccountName", s(&name)))
        .child(entry("onPremisesDistinguishedName", s(&format!("CN=Test User {n},OU=Staff,DC=contoso,DC=example"))))
        .child(entry(
            "onPremiseSecurityIdentifier",
            typed_value("base64Binary", "AQUAAAAAAAUVAAAAoGXPfnhLm1/nfIdwUQQAAA=="),
        ))
        .child(entry("dnsDomainName", s("contoso.example")))
        .child(entry("countryCode", typed_value("long", "276")))
        .child(entry("usageLocation", s("DE")))
        .child(entry("department", s("Engineering")))
        .child(entry("title", s("Developer")))
        .child(entry("telephoneNumber", s("+49 30 1234567")))
        .child(entry("manager", s("kZj7niGua0Gz92mIDCl+Tw==")))
        .child(entry("city", Element::new("c", "Value").attr("i", "nil", "true")));
    Element::new("b", "AzureADSyncObject")
        .child(properties)
        .child(Element::new("b", "SyncObjectType").text("User"))
        .child(Element::new("b", "SyncOperation").text("Set"))
}

fn provision_request() -> Element {
    let objects = Element::new("b", "SyncObjects").children((0..USERS).map(user));
    let request =
        Element::new("", "syncRequest").xmlns("b", SYNC_2014).xmlns("i", ns::XML_SCHEMA_INSTANCE).child(objects);
    envelope(Element::new("", "ProvisionAzureADSyncObjects").xmlns("", SYNC).child(request))
}

/// Runs `f` repeatedly for about `budget`; returns MB/s for `bytes` bytes per run.
fn throughput(bytes: usize, budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < budget {
        f();
        runs += 1;
    }
    (bytes as f64 * runs as f64) / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let request = provision_request();
    let wire = match nbfx::encode(&request) {
        Ok(wire) => wire,
        Err(e) => panic!("the benchmark request does not encode: {e}"),
    };
    assert_eq!(nbfx::decode(&wire).ok().as_ref(), Some(&request), "the benchmark request does not round-trip");
    let xml_len = nbfx::to_xml(&request).len();
    println!(
        "ProvisionAzureADSyncObjects request: {USERS} users × 20 attributes, {} bytes msbin1 ({xml_len} bytes as XML)",
        wire.len()
    );

    let budget = Duration::from_secs(2);
    let encode = throughput(wire.len(), budget, || {
        black_box(nbfx::encode(black_box(&request)).ok());
    });
    let decode = throughput(wire.len(), budget, || {
        black_box(nbfx::decode(black_box(&wire)).ok());
    });
    println!("encode: {encode:8.1} MB/s of msbin1 output");
    println!("decode: {decode:8.1} MB/s of msbin1 input");
}
