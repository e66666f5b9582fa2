//! Request bodies against the XML a real client sends for each operation.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

use super::{all_text, request_bytes, sent_body, xml};
use crate::entra::ops::*;

#[test]
fn get_company_configuration_request() {
    let expected = xml(r#"
        <GetCompanyConfiguration xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
          <includeLicenseInformation>false</includeLicenseInformation>
        </GetCompanyConfiguration>"#);
    assert_eq!(sent_body(&GetCompanyConfiguration::default()), expected);
}

#[test]
fn set_company_dirsync_features_request() {
    let mask = features::with(41016, features::PASSWORD_HASH_SYNC, true);
    let expected = xml(r#"
        <SetCompanyDirsyncFeatures xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
          <dirsyncFeatures>41017</dirsyncFeatures>
        </SetCompanyDirsyncFeatures>"#);
    assert_eq!(sent_body(&SetCompanyDirsyncFeatures { features: mask }), expected);
    assert_eq!(features::with(41017, features::PASSWORD_HASH_SYNC, false), 41016);
    assert_eq!(features::with(u32::MAX, features::PASSWORD_HASH_SYNC, false), 0x7FFF_FFFE);
}

fn sample_user() -> SyncObject {
    let sid = BASE64.decode("AQUAAAAAAAUVAAAAwM8SUMELJU0m/cWzfAQAAA==").expect("base64");
    SyncObject::new(ObjectType::User, SyncOperation::Set)
        .with("SourceAnchor", PropertyValue::String("kZj7niGua0Gz92mIDCl+Tw==".into()))
        .with("accountEnabled", PropertyValue::Bool(true))
        .with("countryCode", PropertyValue::Long(246))
        .with("displayName", PropertyValue::String("Tom & Jerry <TJ>".into()))
        .with("onPremiseSecurityIdentifier", PropertyValue::Base64(sid))
        .with(
            "proxyAddresses",
            PropertyValue::StringList(vec!["SMTP:tom@example.com".into(), "smtp:t@example.com".into()]),
        )
        .with("userCertificate", PropertyValue::Base64List(vec![vec![1, 2, 3]]))
        .with("givenName", PropertyValue::Nil)
        .with("member", PropertyValue::EmptyList)
}

/// One `KeyValueOfstringanyType` entry as a real client writes it.
fn entry(key: &str, value: &str) -> String {
    format!("<c:KeyValueOfstringanyType><c:Key>{key}</c:Key>{value}</c:KeyValueOfstringanyType>")
}

fn typed(type_name: &str, text: &str) -> String {
    format!(r#"<c:Value i:type="{type_name}" xmlns:d="http://www.w3.org/2001/XMLSchema">{text}</c:Value>"#)
}

fn sample_user_xml() -> String {
    let entries = [
        entry("SourceAnchor", &typed("d:string", "kZj7niGua0Gz92mIDCl+Tw==")),
        entry("accountEnabled", &typed("d:boolean", "true")),
        entry("countryCode", &typed("d:long", "246")),
        entry("displayName", &typed("d:string", "Tom &amp; Jerry &lt;TJ&gt;")),
        entry("onPremiseSecurityIdentifier", &typed("d:base64Binary", "AQUAAAAAAAUVAAAAwM8SUMELJU0m/cWzfAQAAA==")),
        entry(
            "proxyAddresses",
            r#"<c:Value i:type="c:ArrayOfstring"><c:string>SMTP:tom@example.com</c:string><c:string>smtp:t@example.com</c:string></c:Value>"#,
        ),
        entry(
            "userCertificate",
            r#"<c:Value i:type="c:ArrayOfbase64Binary"><c:base64Binary>AQID</c:base64Binary></c:Value>"#,
        ),
        entry("givenName", r#"<c:Value i:nil="true"/>"#),
        entry("member", r#"<c:Value i:type="c:ArrayOfstring"/>"#),
    ]
    .concat();
    format!(
        r#"<b:AzureADSyncObject>
             <b:PropertyValues xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays">{entries}</b:PropertyValues>
             <b:SyncObjectType>User</b:SyncObjectType>
             <b:SyncOperation>Set</b:SyncOperation>
           </b:AzureADSyncObject>"#
    )
}

fn provision_xml(operation: &str, objects: &str) -> String {
    format!(
        r#"<{operation} xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
             <syncRequest xmlns:b="http://schemas.microsoft.com/online/aws/change/2014/06"
                          xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
               <b:SyncObjects>{objects}</b:SyncObjects>
             </syncRequest>
           </{operation}>"#
    )
}

#[test]
fn provision_request_with_every_value_type() {
    let objects = [sample_user()];
    let op = ProvisionObjects { objects: &objects, version: ProvisionVersion::V1 };
    assert_eq!(op.name(), "ProvisionAzureADSyncObjects");
    assert_eq!(op.api_action(), "ProvisionAzureADSyncObjects");
    assert_eq!(sent_body(&op), xml(&provision_xml("ProvisionAzureADSyncObjects", &sample_user_xml())));
}

#[test]
fn type_names_are_chars_text_never_qname_records() {
    let objects = [sample_user()];
    let bytes = request_bytes(&ProvisionObjects { objects: &objects, version: ProvisionVersion::V2 });
    let chars_d_string = [&[0x98u8, 8][..], b"d:string"].concat();
    assert!(bytes.windows(chars_d_string.len()).any(|w| w == chars_d_string.as_slice()));
    // The broken and the fixed QNameDictionaryText forms of d:string (python-wcfbin's pull request 16) are both absent.
    assert!(!bytes.windows(4).any(|w| w == [0xBC, 0x03, 0x96, 0x07]));
    assert!(!bytes.windows(5).any(|w| w == [0xBC, 0x03, 0x00, 0x03, 0x96]));
}

#[test]
fn provision2_request_with_reference_deltas() {
    let group = SyncObject::new(ObjectType::Group, SyncOperation::Set)
        .with("SourceAnchor", PropertyValue::String("Z3JvdXA=".into()))
        .with(
            "member",
            PropertyValue::ReferenceChanges(vec![
                ReferenceChange::add("dXNlcjE="),
                ReferenceChange {
                    anchor: "User_1".into(),
                    anchor_kind: AnchorKind::Cloud,
                    operation: ReferenceOperation::Remove,
                },
            ]),
        );
    let objects = [group];
    let op = ProvisionObjects { objects: &objects, version: ProvisionVersion::V2 };
    assert_eq!(op.name(), "ProvisionAzureADSyncObjects2");
    assert_eq!(op.api_action(), "Provision2");
    assert_eq!(objects[0].link_count(), 2);
    let expected = provision_xml(
        "ProvisionAzureADSyncObjects2",
        &format!(
            r#"<b:AzureADSyncObject>
                 <b:PropertyValues xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays">
                   {}
                   <c:KeyValueOfstringanyType>
                     <c:Key>member</c:Key>
                     <c:Value i:type="SyncReferenceChangeCollection">
                       <referenceChanges>
                         <SyncReferenceChange>
                           <Reference><Anchor>dXNlcjE=</Anchor><referenceTypeInt>2</referenceTypeInt></Reference>
                           <operationInt>1</operationInt>
                         </SyncReferenceChange>
                         <SyncReferenceChange>
                           <Reference><Anchor>User_1</Anchor><referenceTypeInt>1</referenceTypeInt></Reference>
                           <operationInt>2</operationInt>
                         </SyncReferenceChange>
                       </referenceChanges>
                     </c:Value>
                   </c:KeyValueOfstringanyType>
                 </b:PropertyValues>
                 <b:SyncObjectType>Group</b:SyncObjectType>
                 <b:SyncOperation>Set</b:SyncOperation>
               </b:AzureADSyncObject>"#,
            entry("SourceAnchor", &typed("d:string", "Z3JvdXA="))
        ),
    );
    assert_eq!(sent_body(&op), xml(&expected));
}

#[test]
fn several_objects_per_call() {
    let objects = [sample_user(), SyncObject::delete(ObjectType::Device, "ZGV2aWNl")];
    let body = sent_body(&ProvisionObjects { objects: &objects, version: ProvisionVersion::V1 });
    let delete = format!(
        r#"<b:AzureADSyncObject>
             <b:PropertyValues xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays">{}</b:PropertyValues>
             <b:SyncObjectType>Device</b:SyncObjectType>
             <b:SyncOperation>Delete</b:SyncOperation>
           </b:AzureADSyncObject>"#,
        entry("SourceAnchor", &typed("d:string", "ZGV2aWNl"))
    );
    let expected = provision_xml("ProvisionAzureADSyncObjects", &format!("{}{delete}", sample_user_xml()));
    assert_eq!(body, xml(&expected));
}

#[test]
fn read_back_request() {
    let expected = xml(r#"
        <ReadBackAzureADSyncObjects2 xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
          <includeLicenseInformation>true</includeLicenseInformation>
          <inputCookie i:nil="true" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/>
          <isFullSync>true</isFullSync>
        </ReadBackAzureADSyncObjects2>"#);
    assert_eq!(sent_body(&ReadBack::default()), expected);
    let v1 = ReadBack { version: ProvisionVersion::V1, include_license_information: false, full_sync: false };
    let expected_v1 = xml(r#"
        <ReadBackAzureADSyncObjects xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
          <includeLicenseInformation>false</includeLicenseInformation>
          <inputCookie i:nil="true" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/>
          <isFullSync>false</isFullSync>
        </ReadBackAzureADSyncObjects>"#);
    assert_eq!(sent_body(&v1), expected_v1);
}

fn credential(target: CredentialTarget, data: &str) -> CredentialChange {
    CredentialChange {
        target,
        credential_data: Zeroizing::new(data.to_owned()),
        change_date: UNIX_EPOCH + Duration::new(1_714_558_830, 123_456_700),
        force_password_change_on_logon: false,
    }
}

const CREDENTIAL: &str =
    "v1;PPH1_MD4,00010203040506070809,1000,ebbc7201bdbb81a9c23c9d47d2273a2d5097c589c707451d3d0accb1db62f7c6;";

#[test]
fn provision_credentials_request() {
    let items = [
        credential(CredentialTarget::SourceAnchor("kZj7niGua0Gz92mIDCl+Tw==".into()), CREDENTIAL),
        CredentialChange {
            force_password_change_on_logon: true,
            ..credential(CredentialTarget::CloudAnchor("User_6e9c2f6a-0d4b-4b8e-9a51-3c2d1e0f9a8b".into()), CREDENTIAL)
        },
    ];
    let op = ProvisionCredentials { items: &items };
    assert!(op.carries_secret());
    let expected = xml(&format!(
        r#"<ProvisionCredentials xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
             <request xmlns:b="http://schemas.datacontract.org/2004/07/Microsoft.Online.Coexistence.Schema"
                      xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
               <b:RequestItems>
                 <b:SyncCredentialsChangeItem>
                   <b:ChangeDate>2024-05-01T10:20:30.1234567Z</b:ChangeDate>
                   <b:CloudAnchor i:nil="true"/>
                   <b:CredentialData>{CREDENTIAL}</b:CredentialData>
                   <b:ForcePasswordChangeOnLogon>false</b:ForcePasswordChangeOnLogon>
                   <b:SourceAnchor>kZj7niGua0Gz92mIDCl+Tw==</b:SourceAnchor>
                   <b:WindowsLegacyCredentials i:nil="true"/>
                   <b:WindowsSupplementalCredentials i:nil="true"/>
                 </b:SyncCredentialsChangeItem>
                 <b:SyncCredentialsChangeItem>
                   <b:ChangeDate>2024-05-01T10:20:30.1234567Z</b:ChangeDate>
                   <b:CloudAnchor>User_6e9c2f6a-0d4b-4b8e-9a51-3c2d1e0f9a8b</b:CloudAnchor>
                   <b:CredentialData>{CREDENTIAL}</b:CredentialData>
                   <b:ForcePasswordChangeOnLogon>true</b:ForcePasswordChangeOnLogon>
                   <b:SourceAnchor i:nil="true"/>
                   <b:WindowsLegacyCredentials i:nil="true"/>
                   <b:WindowsSupplementalCredentials i:nil="true"/>
                 </b:SyncCredentialsChangeItem>
               </b:RequestItems>
             </request>
           </ProvisionCredentials>"#
    ));
    assert_eq!(sent_body(&op), expected);
}

#[test]
fn credential_data_never_shows_in_debug_output() {
    let item = credential(CredentialTarget::SourceAnchor("a".into()), "v1;PPH1_MD4,secret-salt,1000,secret-key;");
    let printed = format!("{item:?} {:?}", ProvisionCredentials { items: std::slice::from_ref(&item) });
    assert!(!printed.contains("secret"), "{printed}");
    assert!(printed.contains("[redacted]"));
}

#[test]
fn finalize_export_and_capabilities_requests() {
    let finalize = FinalizeExport { total_exported: 12, successful_export_count: 11 };
    let expected = xml(r#"
        <FinalizeExport xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
          <totalExported>12</totalExported>
          <successfulExportCount>11</successfulExportCount>
        </FinalizeExport>"#);
    assert_eq!(sent_body(&finalize), expected);
    assert_eq!(
        sent_body(&Capabilities),
        xml(r#"<Capabilities xmlns="http://schemas.microsoft.com/online/aws/change/2010/01"/>"#)
    );
    assert_eq!(all_text(&sent_body(&Capabilities)), crate::entra::soap::SYNC_NS);
}

#[test]
fn batches_respect_object_and_link_limits() {
    let group = |members: usize| {
        SyncObject::new(ObjectType::Group, SyncOperation::Set)
            .with("member", PropertyValue::StringList((0..members).map(|i| i.to_string()).collect()))
    };
    let user = || SyncObject::new(ObjectType::User, SyncOperation::Set);
    let objects = [user(), user(), user(), group(6), group(5), group(20), user()];
    let sizes: Vec<usize> = batches(&objects, 3, 10).iter().map(|b| b.len()).collect();
    // 3 users; a 6-link group (the next would make 11 links); the 5-link group; the oversized
    // group alone; the last user.
    assert_eq!(sizes, [3, 1, 1, 1, 1]);
    assert_eq!(batches(&objects, 100, 100).len(), 1);
    assert!(batches(&[], 3, 10).is_empty());
    assert_eq!(batches(&objects, 0, 100).len(), objects.len(), "at least one object per batch");
}
