//! What goes over the wire for typed calls, and the redacted capture.

use std::time::SystemTime;

use samba_entra_sync::entra::client::SyncError;
use samba_entra_sync::entra::ops::{
    CredentialChange, CredentialOutcome, CredentialTarget, ObjectType, PropertyValue, ProvisionVersion, ReadBack,
    ResultCode, SyncObject, SyncOperation,
};
use samba_entra_sync::entra::soap::{APPLICATION_ID_V1, DEFAULT_CLIENT_BUILD, ResponseError};
use zeroize::Zeroizing;

use super::server::{TENANT, TestServer, healthy, success};
use super::support::harness;

#[tokio::test]
async fn headers_and_envelope_of_every_request() {
    let server = TestServer::start(|seen, _| {
        if seen.operation() == "ProvisionAzureADSyncObjects2" {
            success("ProvisionAzureADSyncObjects2", "<b:SyncObjectResults/>")
        } else {
            healthy(seen)
        }
    })
    .await;
    let h = harness(&server.url, |_| {});
    h.client.finalize_export(1, 1).await.expect("finalize");
    h.client.provision(&[], ProvisionVersion::V2).await.expect("provision");
    let seen = server.seen();
    for (request, action) in seen.iter().zip(["FinalizeExport", "Provision2"]) {
        assert_eq!(request.header("content-type"), "application/soap+msbin1");
        let tracking = request.header("client-request-id");
        assert_eq!(request.tracking_id(), tracking);
        assert_eq!(request.message_id(), format!("urn:uuid:{tracking}"));
        assert_eq!(request.header("x-ms-aadmsods-appid"), APPLICATION_ID_V1);
        assert_eq!(request.header("x-ms-aadmsods-apiaction"), action);
        assert_eq!(request.header("x-ms-aadmsods-clientversion"), "8.0");
        assert_eq!(request.header("x-ms-aadmsods-dirsyncbuildnumber"), DEFAULT_CLIENT_BUILD);
        assert_eq!(request.header("x-ms-aadmsods-fimbuildnumber"), DEFAULT_CLIENT_BUILD);
        assert_eq!(request.header("x-ms-aadmsods-tenantid"), TENANT);
        assert!(request.header("user-agent").starts_with("samba-entra-sync/"));
        assert!(!request.headers.contains_key("authorization"), "the token travels in the envelope only");
        assert!(!request.headers.contains_key("soapaction"));
        assert_eq!(request.bearer_token(), "token-0");
    }
    assert_eq!(seen[1].operation(), "ProvisionAzureADSyncObjects2");
    assert_ne!(seen[0].tracking_id(), seen[1].tracking_id());
    // What Microsoft's client sends besides (a capture in dirkjanm/roadtools_hybrid), with values of ours: a machine id
    // that stays the same across clients, one session per client, the scenario of a capture.
    let machine = seen[0].header("x-ms-aadmsods-machineid");
    assert!(uuid::Uuid::parse_str(&machine).is_ok(), "{machine}");
    assert_eq!(machine, samba_entra_sync::entra::client::stable_machine_id());
    let session = seen[0].header("x-ms-aadmsods-provisioningsessiondesc");
    assert!(session.strip_prefix("Connector-").is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()), "{session}");
    assert_eq!(seen[1].header("x-ms-aadmsods-provisioningsessiondesc"), session, "one session per client");
    for request in &seen {
        assert_eq!(request.header("x-ms-aadmsods-scenario"), "export-scheduled-regular");
    }
}

#[tokio::test]
async fn provision_returns_one_result_per_object() {
    let server = TestServer::start(|_, _| {
        success(
            "ProvisionAzureADSyncObjects",
            "<b:SyncObjectResults>\
               <b:AzureADSyncObjectResult><b:CloudAnchor>User_1</b:CloudAnchor><b:ResultCode>Success</b:ResultCode>\
                 <b:ResultErrorDescription i:nil=\"true\"/><b:SourceAnchor>YQ==</b:SourceAnchor></b:AzureADSyncObjectResult>\
               <b:AzureADSyncObjectResult><b:CloudAnchor>Group_2</b:CloudAnchor><b:ResultCode>Success</b:ResultCode>\
                 <b:ResultErrorDescription>duplicate proxyAddresses</b:ResultErrorDescription><b:SourceAnchor>Yg==</b:SourceAnchor></b:AzureADSyncObjectResult>\
             </b:SyncObjectResults>",
        )
    })
    .await;
    let h = harness(&server.url, |_| {});
    let objects = [
        SyncObject::new(ObjectType::User, SyncOperation::Set)
            .with("SourceAnchor", PropertyValue::String("YQ==".into())),
        SyncObject::new(ObjectType::Group, SyncOperation::Set)
            .with("SourceAnchor", PropertyValue::String("Yg==".into())),
    ];
    let results = h.client.provision(&objects, ProvisionVersion::V1).await.expect("provisioned");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].cloud_anchor.as_deref(), Some("User_1"));
    assert_eq!((results[1].code, results[1].warning()), (ResultCode::Success, Some("duplicate proxyAddresses")));
    let sent = &server.seen()[0];
    let body = sent.envelope.view();
    let count = samba_entra_sync::entra::nbfx::to_xml(body.element()).matches("<b:AzureADSyncObject>").count();
    assert_eq!(count, 2, "both objects in one call");
}

#[tokio::test]
async fn a_result_that_cannot_be_read_is_an_incompatibility() {
    let server = TestServer::start(|seen, _| healthy(seen)).await;
    let h = harness(&server.url, |_| {});
    // `healthy` answers ReadBack with an empty response element: that is a valid "no objects".
    let result = h.client.read_back(ReadBack::default()).await.expect("read back");
    assert!(result.objects.is_empty());
    // …but a provision call without a result cannot be matched to its objects.
    let error = h.client.provision(&[], ProvisionVersion::V1).await.expect_err("no result");
    assert!(matches!(error, SyncError::Response(ResponseError::Invalid { .. })), "{error:?}");
    assert!(error.is_api_incompatible());
}

const CREDENTIAL: &str =
    "v1;PPH1_MD4,00010203040506070809,1000,ebbc7201bdbb81a9c23c9d47d2273a2d5097c589c707451d3d0accb1db62f7c6;";

#[tokio::test]
async fn credentials_and_a_capture_without_secrets() {
    let server = TestServer::start(|seen, _| {
        if seen.operation() != "ProvisionCredentials" {
            return healthy(seen);
        }
        success(
            "ProvisionCredentials",
            r#"<b:Results xmlns:b="http://schemas.datacontract.org/2004/07/Microsoft.Online.Coexistence.Schema">
                 <b:SyncCredentialsChangeResult><b:CloudAnchor i:nil="true"/><b:Result>0</b:Result><b:SourceAnchor>YQ==</b:SourceAnchor></b:SyncCredentialsChangeResult>
                 <b:SyncCredentialsChangeResult><b:CloudAnchor i:nil="true"/><b:Result>2</b:Result><b:SourceAnchor>Yg==</b:SourceAnchor></b:SyncCredentialsChangeResult>
               </b:Results>"#,
        )
    })
    .await;
    let capture = tempfile::tempdir().expect("tempdir");
    let h = harness(&server.url, |s| s.capture_dir = Some(capture.path().to_owned()));
    let item = |anchor: &str| CredentialChange {
        target: CredentialTarget::SourceAnchor(anchor.into()),
        credential_data: Zeroizing::new(CREDENTIAL.to_owned()),
        change_date: SystemTime::now(),
        force_password_change_on_logon: false,
    };
    let results = h.client.provision_credentials(&[item("YQ=="), item("Yg==")]).await.expect("sent");
    let outcomes: Vec<_> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [CredentialOutcome::Synced, CredentialOutcome::UnknownObject]);
    h.client.finalize_export(1, 1).await.expect("finalize");

    let mut names: Vec<String> = std::fs::read_dir(capture.path())
        .expect("capture dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "000001-ProvisionCredentials-1-request.xml",
            "000001-ProvisionCredentials-1-response-200.msbin1",
            "000001-ProvisionCredentials-1-response-200.xml",
            "000002-FinalizeExport-1-request.msbin1",
            "000002-FinalizeExport-1-request.xml",
            "000002-FinalizeExport-1-response-200.msbin1",
            "000002-FinalizeExport-1-response-200.xml",
        ]
    );
    for name in &names {
        let bytes = std::fs::read(capture.path().join(name)).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("token-0") && !text.contains("PPH1_MD4"), "{name} holds a secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(capture.path().join(name)).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o077, 0, "{name} is private");
        }
    }
    let request = std::fs::read_to_string(capture.path().join(&names[0])).expect("read");
    assert_eq!(request.matches("[redacted]").count(), 3, "the token and both credentials: {request}");
    assert!(request.contains("YQ=="), "the rest is kept");
    let redacted_msbin1 = std::fs::read(capture.path().join(&names[3])).expect("read");
    let decoded = samba_entra_sync::entra::nbfx::decode(&redacted_msbin1).expect("the redacted request decodes");
    assert!(samba_entra_sync::entra::nbfx::to_xml(&decoded).contains(
        "<BearerToken xmlns=\"http://schemas.microsoft.com/online/aws/change/2010/01\">[redacted]</BearerToken>"
    ));
}

fn assert_send<T: Send>(_: &T) {}

#[tokio::test]
async fn call_futures_can_be_spawned() {
    let h = harness("http://127.0.0.1:9/provisioningservice.svc", |_| {});
    // Compile-time check: the daemon runs calls on tokio tasks.
    assert_send(&h.client.probe());
    assert_send(&h.client.provision_credentials(&[]));
    assert_send(&h.client.read_back(ReadBack::default()));
}
