//! Response parsing: the result shapes of each operation, the emulator's
//! recorded provision response (`tests/wire.rs`, example d), and the typed text records the real
//! service may use.

use uuid::Uuid;

use super::{parse_bytes, parse_xml, response_bytes};
use crate::entra::ops::*;
use crate::entra::soap::ResponseError;

const COMPANY_RESULT: &str = r#"
<GetCompanyConfigurationResponse xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
  <GetCompanyConfigurationResult xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
    <AllowedFeatures xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays">
      <c:string>ObjectWriteback</c:string>
      <c:string i:nil="true"/>
      <c:string>PasswordWriteback</c:string>
    </AllowedFeatures>
    <DirSyncConfiguration>
      <AnchorAttribute>mS-DS-ConsistencyGuid</AnchorAttribute>
      <ApplicationVersion>1651564e-7ce4-4d99-88be-0a65050d8dc3</ApplicationVersion>
      <ClientVersion>2.6.3.0</ClientVersion>
      <CurrentExport>
        <DirSyncClientMachineName>DC1</DirSyncClientMachineName>
        <TotalConnectorSpaceObjects>24</TotalConnectorSpaceObjects>
      </CurrentExport>
      <IsTrackingChanges>false</IsTrackingChanges>
      <SomethingNew><Deep>ignored</Deep></SomethingNew>
      <Writeback>
        <UnifiedGroupContainer i:nil="true"/>
        <UserContainer>OU=Writeback,DC=example,DC=com</UserContainer>
      </Writeback>
    </DirSyncConfiguration>
    <DirSyncFeatures>@@FEATURES@@</DirSyncFeatures>
    <DisplayName>Company Ltd</DisplayName>
    <IsDirSyncing>true</IsDirSyncing>
    <IsPasswordSyncing>@@PHS@@</IsPasswordSyncing>
    <MaxLinksSupportedAcrossBatchInProvision2>15000</MaxLinksSupportedAcrossBatchInProvision2>
    <SynchronizationInterval>PT30M</SynchronizationInterval>
    <TenantId>@@TENANT@@</TenantId>
    <UnknownMember>whatever</UnknownMember>
  </GetCompanyConfigurationResult>
</GetCompanyConfigurationResponse>"#;

const TENANT: &str = "57cf9f28-1ad7-40f4-bee8-d3ab9877f0a8";

fn expected_company(features: u32, phs: bool) -> CompanyConfiguration {
    CompanyConfiguration {
        dirsync_features: Some(features),
        is_password_syncing: Some(phs),
        is_dir_syncing: Some(true),
        anchor_attribute: Some("mS-DS-ConsistencyGuid".into()),
        application_version: Some("1651564e-7ce4-4d99-88be-0a65050d8dc3".into()),
        client_version: Some("2.6.3.0".into()),
        tenant_id: Some(TENANT.into()),
        display_name: Some("Company Ltd".into()),
        synchronization_interval: Some("PT30M".into()),
        max_links_supported_across_batch_in_provision2: Some(15000),
        allowed_features: vec!["ObjectWriteback".into(), "PasswordWriteback".into()],
        writeback: Writeback {
            user_container: Some("OU=Writeback,DC=example,DC=com".into()),
            unified_group_container: None,
        },
    }
}

#[test]
fn company_configuration_from_chars_text() {
    let text =
        COMPANY_RESULT.replace("@@FEATURES@@", "41016").replace("@@PHS@@", "false").replace("@@TENANT@@", TENANT);
    let config = parse_xml(&GetCompanyConfiguration::default(), &text).expect("parses");
    assert_eq!(config, expected_company(41016, false));
    assert!(!config.password_hash_sync_enabled());
    assert_eq!(config.interval(), Some(std::time::Duration::from_secs(1800)));
}

#[test]
fn company_configuration_from_typed_records() {
    // Int32Text, BoolText and UuidText, each in its WithEndElement form.
    let features = [&[0x8Du8][..], &41017i32.to_le_bytes()].concat();
    let tenant = [&[0xB1u8][..], &Uuid::parse_str(TENANT).expect("uuid").to_bytes_le()].concat();
    let bytes = response_bytes(
        COMPANY_RESULT,
        &[("@@FEATURES@@", &features), ("@@PHS@@", &[0xB5, 0x01]), ("@@TENANT@@", &tenant)],
    );
    let config = parse_bytes(&GetCompanyConfiguration::default(), &bytes).expect("parses");
    assert_eq!(config, expected_company(41017, true));
    assert!(config.password_hash_sync_enabled());
}

#[test]
fn company_configuration_writeback_directly_under_the_result() {
    let body = r#"
      <GetCompanyConfigurationResponse xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
        <GetCompanyConfigurationResult>
          <DirSyncFeatures>1</DirSyncFeatures>
          <WriteBack><UnifiedGroupContainer>OU=G</UnifiedGroupContainer></WriteBack>
        </GetCompanyConfigurationResult>
      </GetCompanyConfigurationResponse>"#;
    let config = parse_xml(&GetCompanyConfiguration::default(), body).expect("parses");
    assert_eq!(config.writeback.unified_group_container.as_deref(), Some("OU=G"));
    assert_eq!(config.dirsync_features, Some(1));
    assert!(config.password_hash_sync_enabled());
    assert_eq!(config.tenant_id, None);
    assert_eq!(config.anchor_attribute, None);
}

#[test]
fn company_configuration_rejects_garbage_numbers() {
    let body = r#"
      <GetCompanyConfigurationResponse xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
        <GetCompanyConfigurationResult><DirSyncFeatures>many</DirSyncFeatures></GetCompanyConfigurationResult>
      </GetCompanyConfigurationResponse>"#;
    let error = parse_xml(&GetCompanyConfiguration::default(), body).expect_err("garbage");
    assert!(matches!(&error, ResponseError::Invalid { detail, .. } if detail.contains("DirSyncFeatures")), "{error}");
    let missing =
        r#"<GetCompanyConfigurationResponse xmlns="http://schemas.microsoft.com/online/aws/change/2010/01"/>"#;
    assert!(parse_xml(&GetCompanyConfiguration::default(), missing).is_err());
}

#[test]
fn provision_response_of_section_6_8_d() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wire/provision-response.bin"))
        .expect("fixture");
    let objects = [SyncObject::delete(ObjectType::User, "kZj7niGua0Gz92mIDCl+Tw==")];
    let op = ProvisionObjects { objects: &objects, version: ProvisionVersion::V1 };
    let results = parse_bytes(&op, &bytes).expect("parses");
    assert_eq!(
        results,
        vec![SyncObjectResult {
            source_anchor: Some("kZj7niGua0Gz92mIDCl+Tw==".into()),
            cloud_anchor: Some("User_6e9c2f6a-0d4b-4b8e-9a51-3c2d1e0f9a8b".into()),
            code: ResultCode::Success,
            error_description: None,
        }]
    );
}

const WARNING: &str = "This object has been updated in your Azure Active Directory, but with some modified properties";

#[test]
fn provision_results_success_warning_failure() {
    let body = format!(
        r#"<ProvisionAzureADSyncObjects2Response xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
          <ProvisionAzureADSyncObjects2Result xmlns:b="http://schemas.microsoft.com/online/aws/change/2014/06" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
            <b:SyncObjectResults>
              <b:AzureADSyncObjectResult>
                <b:CloudAnchor>User_1</b:CloudAnchor><b:ResultCode>Success</b:ResultCode>
                <b:ResultErrorDescription i:nil="@@NIL@@"/><b:SourceAnchor>YQ==</b:SourceAnchor>
              </b:AzureADSyncObjectResult>
              <b:AzureADSyncObjectResult>
                <b:CloudAnchor>User_2</b:CloudAnchor><b:ResultCode>Success</b:ResultCode>
                <b:ResultErrorDescription>{WARNING}</b:ResultErrorDescription><b:SourceAnchor>Yg==</b:SourceAnchor>
              </b:AzureADSyncObjectResult>
              <b:AzureADSyncObjectResult>
                <b:CloudAnchor i:nil="true"/><b:ResultCode>Failure</b:ResultCode>
                <b:ResultErrorDescription>Invalid value</b:ResultErrorDescription><b:SourceAnchor>Yw==</b:SourceAnchor>
              </b:AzureADSyncObjectResult>
              <b:AzureADSyncObjectResult>
                <b:ResultCode>PartialSuccess</b:ResultCode><b:SourceAnchor>ZA==</b:SourceAnchor>
              </b:AzureADSyncObjectResult>
            </b:SyncObjectResults>
          </ProvisionAzureADSyncObjects2Result>
        </ProvisionAzureADSyncObjects2Response>"#
    );
    // i:nil as a TrueText record (attribute values use the plain form).
    let bytes = response_bytes(&body, &[("@@NIL@@", &[0x86])]);
    let op = ProvisionObjects { objects: &[], version: ProvisionVersion::V2 };
    let results = parse_bytes(&op, &bytes).expect("parses");
    assert_eq!(results.len(), 4);
    assert!(results[0].is_success() && results[0].warning().is_none() && results[0].error_description.is_none());
    assert!(results[1].is_success());
    assert_eq!(results[1].warning(), Some(WARNING));
    assert_eq!(results[1].error(), None);
    assert_eq!(results[2].code, ResultCode::Failure);
    assert_eq!(results[2].error(), Some("Invalid value"));
    assert_eq!(results[2].cloud_anchor, None);
    assert_eq!(results[3].error(), Some("result code PartialSuccess"));
    assert_eq!(results[3].source_anchor.as_deref(), Some("ZA=="));
}

fn read_back_body(objects: &str) -> String {
    format!(
        r#"<ReadBackAzureADSyncObjects2Response xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
          <ReadBackAzureADSyncObjects2Result xmlns:b="http://schemas.microsoft.com/online/aws/change/2014/06" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
            {objects}
          </ReadBackAzureADSyncObjects2Result>
        </ReadBackAzureADSyncObjects2Response>"#
    )
}

#[test]
fn read_back_objects_with_odd_values() {
    let objects = r#"
      <b:ResultObjects>
        <b:AzureADSyncObject>
          <b:PropertyValues xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays">
            <c:KeyValueOfstringanyType><c:Key>CloudAnchor</c:Key><c:Value i:type="d:string" xmlns:d="http://www.w3.org/2001/XMLSchema">User_64c6616b</c:Value></c:KeyValueOfstringanyType>
            <c:KeyValueOfstringanyType><c:Key>SourceAnchor</c:Key><c:Value i:type="d:string" xmlns:d="http://www.w3.org/2001/XMLSchema">@@ANCHOR@@</c:Value></c:KeyValueOfstringanyType>
            <c:KeyValueOfstringanyType><c:Key>AccountEnabled</c:Key><c:Value i:type="d:boolean" xmlns:d="http://www.w3.org/2001/XMLSchema">@@ENABLED@@</c:Value></c:KeyValueOfstringanyType>
            <c:KeyValueOfstringanyType><c:Key>CountryCode</c:Key><c:Value i:type="d:long" xmlns:d="http://www.w3.org/2001/XMLSchema">@@COUNTRY@@</c:Value></c:KeyValueOfstringanyType>
            <c:KeyValueOfstringanyType><c:Key>City</c:Key><c:Value i:type="d:string" xmlns:d="http://www.w3.org/2001/XMLSchema"/></c:KeyValueOfstringanyType>
            <c:KeyValueOfstringanyType><c:Key>Department</c:Key><c:Value i:nil="true"/></c:KeyValueOfstringanyType>
            <c:KeyValueOfstringanyType><c:Key>Odd</c:Key><c:Value i:type="b:Strange"><b:x/></c:Value></c:KeyValueOfstringanyType>
            <c:KeyValueOfstringanyType><c:Key>DisplayName</c:Key><c:Value i:type="@@QNAME@@" xmlns:d="http://www.w3.org/2001/XMLSchema">@@NAME@@</c:Value></c:KeyValueOfstringanyType>
          </b:PropertyValues>
          <b:SyncObjectType>User</b:SyncObjectType>
          <b:SyncOperation>Set</b:SyncOperation>
        </b:AzureADSyncObject>
        <b:AzureADSyncObject>
          <b:PropertyValues/>
          <b:SyncObjectType>PublicFolder</b:SyncObjectType>
        </b:AzureADSyncObject>
        <b:AzureADSyncObject>
          <b:PropertyValues xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays">
            <c:KeyValueOfstringanyType><c:Key>SourceAnchor</c:Key><c:Value i:type="d:string" xmlns:d="http://www.w3.org/2001/XMLSchema">Z3JvdXA=</c:Value></c:KeyValueOfstringanyType>
          </b:PropertyValues>
          <b:SyncObjectType>Group</b:SyncObjectType>
        </b:AzureADSyncObject>
      </b:ResultObjects>"#;
    let anchor = [
        &[0x9Fu8, 16][..],
        &[0x91, 0x98, 0xfb, 0x9e, 0x21, 0xae, 0x6b, 0x41, 0xb3, 0xf7, 0x69, 0x88, 0x0c, 0x29, 0x7e, 0x4f],
    ]
    .concat();
    let country = [&[0x8Fu8][..], &246i64.to_le_bytes()].concat();
    let name: Vec<u8> = [
        &[0xB7u8, 10][..],
        &"Zoë".encode_utf16().chain("!!".encode_utf16()).flat_map(u16::to_le_bytes).collect::<Vec<_>>(),
    ]
    .concat();
    let bytes = response_bytes(
        &read_back_body(objects),
        &[
            // Bytes8Text (decoded as Base64 text), TrueText, Int64Text, QNameDictionaryText d:string
            // (with the correct mb31 id), UnicodeChars8Text.
            ("@@ANCHOR@@", &anchor),
            ("@@ENABLED@@", &[0x87]),
            ("@@COUNTRY@@", &country),
            ("@@QNAME@@", &[0xBC, 0x03, 0x96, 0x07]),
            ("@@NAME@@", &name),
        ],
    );
    let result = parse_bytes(&ReadBack::default(), &bytes).expect("parses");
    assert_eq!(result.objects.len(), 2, "{result:?}");
    let user = &result.objects[0];
    assert_eq!(user.object_type, ObjectType::User);
    assert_eq!(user.source_anchor(), Some("kZj7niGua0Gz92mIDCl+Tw=="));
    assert_eq!(user.cloud_anchor(), Some("User_64c6616b"));
    assert_eq!(user.property("accountenabled"), Some(&PropertyValue::Bool(true)));
    assert_eq!(user.property("CountryCode"), Some(&PropertyValue::Long(246)));
    assert_eq!(user.property("City"), Some(&PropertyValue::String(String::new())));
    assert_eq!(user.property("Department"), Some(&PropertyValue::Nil));
    assert_eq!(user.property("DisplayName"), Some(&PropertyValue::String("Zoë!!".into())));
    assert_eq!(user.property("Odd"), None);
    let group = &result.objects[1];
    assert_eq!((group.object_type, group.operation), (ObjectType::Group, SyncOperation::Set));
    assert_eq!(result.skipped.len(), 2, "{:?}", result.skipped);
    assert!(result.skipped[0].contains("Odd") && result.skipped[0].contains("kZj7niGua0Gz92mIDCl+Tw=="));
    assert!(result.skipped[1].contains("PublicFolder"));
    // The streamed read-back (each object handed out while decoding) sees the same objects,
    // in order, with the same skipped values, and leaves an empty result behind.
    let mut streamed = Vec::new();
    let mut visit = |o: SyncObject| streamed.push(o);
    let op = ReadBackEach::new(ReadBack::default(), &mut visit);
    let envelope = op.decode(&bytes, &crate::entra::nbfx::Limits::default()).expect("decodes");
    let tally = match crate::entra::soap::read_response(&envelope, op.name()).expect("a response") {
        crate::entra::soap::Reply::Result(r) => op.parse(r).expect("parses"),
        crate::entra::soap::Reply::Fault(f) => panic!("fault {f:?}"),
    };
    drop(op);
    assert_eq!(streamed, result.objects);
    assert_eq!((tally.objects, tally.skipped_count), (2, 2));
    assert_eq!(tally.skipped, result.skipped);
}

#[test]
fn read_back_with_no_objects() {
    let empty = parse_xml(&ReadBack::default(), &read_back_body("<b:ResultObjects/>")).expect("parses");
    assert_eq!(empty, ReadBackResult::default());
    let nil = parse_xml(&ReadBack::default(), &read_back_body(r#"<b:ResultObjects i:nil="true"/>"#)).expect("parses");
    assert!(nil.objects.is_empty());
    let absent = parse_xml(&ReadBack::default(), &read_back_body("")).expect("parses");
    assert!(absent.objects.is_empty());
}

#[test]
fn credential_results() {
    let body = r#"
      <ProvisionCredentialsResponse xmlns="http://schemas.microsoft.com/online/aws/change/2010/01">
        <ProvisionCredentialsResult xmlns:b="http://schemas.datacontract.org/2004/07/Microsoft.Online.Coexistence.Schema" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
          <b:Results>
            <b:SyncCredentialsChangeResult>
              <b:CloudAnchor i:nil="true"/><b:Result>@@ZERO@@</b:Result><b:SourceAnchor>YQ==</b:SourceAnchor>
            </b:SyncCredentialsChangeResult>
            <b:SyncCredentialsChangeResult>
              <b:CloudAnchor i:nil="true"/><b:Result>2</b:Result><b:SourceAnchor>Yg==</b:SourceAnchor>
            </b:SyncCredentialsChangeResult>
            <b:SyncCredentialsChangeResult>
              <b:CloudAnchor>User_3</b:CloudAnchor>
              <b:ExtendedErrorInformation>credential rejected</b:ExtendedErrorInformation>
              <b:Result>5</b:Result><b:SourceAnchor i:nil="true"/>
            </b:SyncCredentialsChangeResult>
          </b:Results>
        </ProvisionCredentialsResult>
      </ProvisionCredentialsResponse>"#;
    let bytes = response_bytes(body, &[("@@ZERO@@", &[0x81])]);
    let results = parse_bytes(&ProvisionCredentials { items: &[] }, &bytes).expect("parses");
    assert_eq!(
        results,
        vec![
            CredentialResult {
                source_anchor: Some("YQ==".into()),
                cloud_anchor: None,
                outcome: CredentialOutcome::Synced,
                extended_error_information: None,
            },
            CredentialResult {
                source_anchor: Some("Yg==".into()),
                cloud_anchor: None,
                outcome: CredentialOutcome::UnknownObject,
                extended_error_information: None,
            },
            CredentialResult {
                source_anchor: None,
                cloud_anchor: Some("User_3".into()),
                outcome: CredentialOutcome::Failed { code: 5 },
                extended_error_information: Some("credential rejected".into()),
            },
        ]
    );
    let no_code = body.replace("<b:Result>2</b:Result>", "");
    assert!(
        parse_bytes(&ProvisionCredentials { items: &[] }, &response_bytes(&no_code, &[("@@ZERO@@", &[0x81])])).is_err()
    );
}

#[test]
fn capabilities_document_in_a_string() {
    let document = r#"<?xml version="1.0" encoding="utf-8"?>
<ServiceCapability xmlns="urn:example">
  <MicrosoftOnline>
    <Protocol>
      <Application Name="DirSync">
        <LatestProductVersion>3.2</LatestProductVersion>
        <MinimumProductVersion>1.0</MinimumProductVersion>
        <BlackList Enabled="true"><ClientVersion>1.5.29.0</ClientVersion><ClientVersion>2.4.21.0</ClientVersion></BlackList>
        <BlackList><Enabled>false</Enabled><ClientVersion>2.6.3.0</ClientVersion></BlackList>
      </Application>
    </Protocol>
  </MicrosoftOnline>
</ServiceCapability>"#;
    let escaped = document.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        r#"<CapabilitiesResponse xmlns="http://schemas.microsoft.com/online/aws/change/2010/01"><CapabilitiesResult>{escaped}</CapabilitiesResult></CapabilitiesResponse>"#
    );
    let capabilities = parse_xml(&Capabilities, &body).expect("parses");
    assert_eq!(
        capabilities,
        ServiceCapabilities {
            applications: vec![ApplicationCapability {
                name: Some("DirSync".into()),
                latest_product_version: Some("3.2".into()),
                minimum_product_version: Some("1.0".into()),
                black_lists: vec![
                    BlackList { enabled: true, client_versions: vec!["1.5.29.0".into(), "2.4.21.0".into()] },
                    BlackList { enabled: false, client_versions: vec!["2.6.3.0".into()] },
                ],
            }],
        }
    );
    assert!(capabilities.blacklists("2.4.21.0"));
    assert!(!capabilities.blacklists("2.6.3.0"));
    let garbage = r#"<CapabilitiesResponse xmlns="http://schemas.microsoft.com/online/aws/change/2010/01"><CapabilitiesResult>not &lt;xml</CapabilitiesResult></CapabilitiesResponse>"#;
    assert!(parse_xml(&Capabilities, garbage).is_err());
}

#[test]
fn empty_responses_of_write_operations() {
    let set = r#"<SetCompanyDirsyncFeaturesResponse xmlns="http://schemas.microsoft.com/online/aws/change/2010/01"/>"#;
    assert_eq!(parse_xml(&SetCompanyDirsyncFeatures { features: 1 }, set), Ok(()));
    let fin = r#"<FinalizeExportResponse xmlns="http://schemas.microsoft.com/online/aws/change/2010/01"><FinalizeExportResult i:nil="true" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/></FinalizeExportResponse>"#;
    assert_eq!(parse_xml(&FinalizeExport { total_exported: 0, successful_export_count: 0 }, fin), Ok(()));
}
