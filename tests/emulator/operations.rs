//! Every operation of the sync API with real state semantics (docs/emulator.md, "Sync API").

use super::support::*;

#[tokio::test]
async fn company_configuration_has_the_full_shape_and_tracks_features() {
    let env = start(config()).await;
    let body = format!(
        "<GetCompanyConfiguration xmlns=\"{SYNC}\"><includeLicenseInformation>false</includeLicenseInformation></GetCompanyConfiguration>"
    );
    let reply = env.call("GetCompanyConfiguration", &body).await;
    let response = reply.ok();
    assert!(response.is(SYNC, "GetCompanyConfigurationResponse"));
    let result = response.child(SYNC, "GetCompanyConfigurationResult").expect("result");
    let names: Vec<&str> = result.children().map(|c| c.local_name()).collect();
    assert_eq!(
        names,
        [
            "AllowedFeatures",
            "DirSyncConfiguration",
            "DirSyncFeatures",
            "DisplayName",
            "IsDirSyncing",
            "IsPasswordSyncing",
            "MaxLinksSupportedAcrossBatchInProvision2",
            "SynchronizationInterval",
            "TenantId"
        ]
    );
    assert_eq!(result.child_text(SYNC, "TenantId").as_deref(), Some(env.tenant.as_str()));
    assert_eq!(result.child_text(SYNC, "DirSyncFeatures").as_deref(), Some("41016"));
    assert_eq!(result.child_text(SYNC, "IsPasswordSyncing").as_deref(), Some("false"));
    assert_eq!(result.child_text(SYNC, "IsDirSyncing").as_deref(), Some("true"));
    let features: Vec<String> = result
        .child(SYNC, "AllowedFeatures")
        .expect("features")
        .children_named(ARRAYS, "string")
        .map(|s| s.text())
        .collect();
    assert_eq!(features, ["ObjectWriteback", "PasswordWriteback"]);
    let dirsync = result.child(SYNC, "DirSyncConfiguration").expect("DirSyncConfiguration");
    assert_eq!(dirsync.child_text(SYNC, "ClientVersion").as_deref(), Some(BUILD), "last build is echoed");
    assert_eq!(dirsync.child_text(SYNC, "ApplicationVersion").as_deref(), Some("1651564e-7ce4-4d99-88be-0a65050d8dc3"));
    let writeback = dirsync.child(SYNC, "Writeback").expect("Writeback");
    let container = writeback.child(SYNC, "UserContainer").expect("UserContainer");
    assert_eq!(container.attribute(XSI, "nil"), Some("true"));
    // .NET style: xmlns:i on the Result, not on each nil element; nil as text "true".
    assert!(container.element().attribute("xmlns", "i").is_none());
    assert_eq!(result.element().attribute("xmlns", "i"), Some(XSI));
    let nil_record = [0x14u8, 0xF6, 0x06, 0x98, 0x04, b't', b'r', b'u', b'e'];
    assert!(reply.raw.windows(nil_record.len()).any(|w| w == nil_record), "i:nil written as Chars8Text 'true'");

    env.call("SetCompanyDirsyncFeatures", &features_body(41017)).await.ok();
    let reply = env.call("GetCompanyConfiguration", &body).await;
    let result = reply.ok();
    let result = result.child(SYNC, "GetCompanyConfigurationResult").expect("result");
    assert_eq!(result.child_text(SYNC, "DirSyncFeatures").as_deref(), Some("41017"));
    assert_eq!(result.child_text(SYNC, "IsPasswordSyncing").as_deref(), Some("true"));
}

#[tokio::test]
async fn responses_relate_to_the_request_message_id() {
    let env = start(config()).await;
    let guid = "5f0c2d4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f";
    let body = format!(
        "<FinalizeExport xmlns=\"{SYNC}\"><totalExported>1</totalExported><successfulExportCount>1</successfulExportCount></FinalizeExport>"
    );
    let reply = env.send_xml(&envelope("FinalizeExport", &env.token, BUILD, guid, &body)).await;
    assert!(reply.ok().is(SYNC, "FinalizeExportResponse"));
    let root = reply.root.as_ref().expect("root");
    let header = root.view().child(SOAP, "Header").expect("header");
    assert_eq!(header.child_text(ADDRESSING, "RelatesTo"), Some(format!("urn:uuid:{guid}")));
    assert_eq!(
        header.child_text(ADDRESSING, "Action").as_deref(),
        Some("http://schemas.microsoft.com/online/aws/change/2010/01/IProvisioningWebService/FinalizeExportResponse")
    );
    let caps = env.call("Capabilities", &format!("<Capabilities xmlns=\"{SYNC}\"/>")).await;
    let text = caps.ok().child_text(SYNC, "CapabilitiesResult").expect("CapabilitiesResult");
    assert!(text.contains("<ServiceCapability><MicrosoftOnline><Protocol><Application>"), "{text}");
}

#[tokio::test]
async fn objects_of_every_type_are_added_updated_and_deleted() {
    let env = start(config()).await;
    for kind in ["User", "Group", "Contact", "Device"] {
        let anchor = format!("{kind}-anchor==");
        let add = provision_body(
            "ProvisionAzureADSyncObjects",
            &[object(kind, "Add", &[kv_string("SourceAnchor", &anchor), kv_string("displayName", "First")])],
        );
        let results = provision_results(&env.call("ProvisionAzureADSyncObjects", &add).await);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].code, "Success", "{kind}: {:?}", results[0].description);
        let cloud = results[0].cloud_anchor.clone().expect("CloudAnchor");
        assert!(cloud.starts_with(&format!("{kind}_")), "{cloud}");
        assert!(uuid::Uuid::parse_str(&cloud[kind.len() + 1..]).is_ok(), "{cloud}");
        assert_eq!(results[0].source_anchor.as_deref(), Some(anchor.as_str()));
        assert_eq!(results[0].description, None);

        // Set on the same anchor updates the same object (keys are case-insensitive).
        let set = provision_body(
            "ProvisionAzureADSyncObjects",
            &[object(kind, "Set", &[kv_string("SourceAnchor", &anchor), kv_string("DisplayName", "Second")])],
        );
        let again = provision_results(&env.call("ProvisionAzureADSyncObjects", &set).await);
        assert_eq!(again[0].cloud_anchor.as_deref(), Some(cloud.as_str()), "same object");
        let (status, admin) = env.admin_get(&format!("/admin/objects/{}", urlencode(&anchor))).await;
        assert_eq!(status, 200);
        assert_eq!(admin["objectType"], kind);
        assert_eq!(admin["attributes"]["DisplayName"], "Second", "{admin}");
        assert!(admin["attributes"].get("displayName").is_none(), "one attribute, last spelling: {admin}");

        let delete = provision_body(
            "ProvisionAzureADSyncObjects",
            &[object(kind, "Delete", &[kv_string("SourceAnchor", &anchor)])],
        );
        let deleted = provision_results(&env.call("ProvisionAzureADSyncObjects", &delete).await);
        assert_eq!(deleted[0].code, "Success");
        let (status, _) = env.admin_get(&format!("/admin/objects/{}", urlencode(&anchor))).await;
        assert_eq!(status, 404);
        let twice = provision_results(&env.call("ProvisionAzureADSyncObjects", &delete).await);
        assert_eq!(twice[0].code, "Failure");
        assert!(twice[0].description.as_deref().unwrap_or("").contains("object not found"), "{:?}", twice[0]);
    }
    let (_, stats) = env.admin_get("/admin/stats").await;
    assert_eq!(stats["writes"], 12, "add, set and delete of four objects: {stats}");
    assert_eq!(stats["calls"]["ProvisionAzureADSyncObjects"], 16);
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn typed_values_are_kept_and_nil_clears() {
    let env = start(config()).await;
    let anchor = "kZj7niGua0Gz92mIDCl+Tw==";
    let first = provision_body(
        "ProvisionAzureADSyncObjects",
        &[object(
            "User",
            "Set",
            &[
                kv_string("SourceAnchor", anchor),
                kv_string("userPrincipalName", "alice@contoso.example"),
                kv_bool("accountEnabled", true),
                kv_long("countryCode", 250),
                kv_base64("onPremiseSecurityIdentifier", "AQUAAAAAAAUVAAAAwM8SUMELJU0m/cWzfAQAAA=="),
                kv_strings("proxyAddresses", &["SMTP:alice@contoso.example", "smtp:a@contoso.example"]),
                kv_binaries("userCertificate", &["AQID"]),
                kv_string("title", "Engineer & <lead>"),
            ],
        )],
    );
    assert_eq!(provision_results(&env.call("ProvisionAzureADSyncObjects", &first).await)[0].code, "Success");
    let (_, user) = env.admin_get(&format!("/admin/objects/{}", urlencode(anchor))).await;
    let attrs = &user["attributes"];
    assert_eq!(attrs["accountEnabled"], true);
    assert_eq!(attrs["countryCode"], 250);
    assert_eq!(attrs["onPremiseSecurityIdentifier"], "AQUAAAAAAAUVAAAAwM8SUMELJU0m/cWzfAQAAA==");
    assert_eq!(attrs["proxyAddresses"], serde_json::json!(["SMTP:alice@contoso.example", "smtp:a@contoso.example"]));
    assert_eq!(attrs["userCertificate"], serde_json::json!(["AQID"]));
    assert_eq!(attrs["title"], "Engineer & <lead>");

    // nil clears, an empty list clears, an empty ArrayOfstring is accepted for a binary list.
    let second = provision_body(
        "ProvisionAzureADSyncObjects",
        &[object(
            "User",
            "Set",
            &[
                kv_string("SourceAnchor", anchor),
                kv_nil("title"),
                kv_strings("proxyAddresses", &[]),
                kv_strings("userCertificate", &[]),
            ],
        )],
    );
    assert_eq!(provision_results(&env.call("ProvisionAzureADSyncObjects", &second).await)[0].code, "Success");
    let (_, user) = env.admin_get(&format!("/admin/objects/{}", urlencode(anchor))).await;
    let attrs = &user["attributes"];
    assert_eq!(attrs["title"], serde_json::Value::Null);
    assert_eq!(attrs["proxyAddresses"], serde_json::json!([]));
    assert_eq!(attrs["userCertificate"], serde_json::json!([]));
    assert_eq!(attrs["accountEnabled"], true, "omitted keys stay");

    // A value of the wrong type fails that object, and leaves it unchanged.
    let wrong = provision_body(
        "ProvisionAzureADSyncObjects",
        &[object("User", "Set", &[kv_string("SourceAnchor", anchor), kv_string("accountEnabled", "true")])],
    );
    let results = provision_results(&env.call("ProvisionAzureADSyncObjects", &wrong).await);
    assert_eq!(results[0].code, "Failure");
    assert!(results[0].description.as_deref().unwrap_or("").contains("accountEnabled"), "{:?}", results[0]);
    let (_, user) = env.admin_get(&format!("/admin/objects/{}", urlencode(anchor))).await;
    assert_eq!(user["attributes"]["accountEnabled"], true);
}

#[tokio::test]
async fn anchors_are_unique_per_type_and_duplicates_are_quarantined() {
    let env = start(config()).await;
    let body = provision_body(
        "ProvisionAzureADSyncObjects",
        &[
            object(
                "User",
                "Set",
                &[
                    kv_string("SourceAnchor", "same"),
                    kv_string("userPrincipalName", "bob@contoso.example"),
                    kv_strings("proxyAddresses", &["SMTP:bob@contoso.example"]),
                ],
            ),
            object(
                "Group",
                "Set",
                &[kv_string("SourceAnchor", "same"), kv_string("displayName", "Same anchor, other type")],
            ),
            object(
                "User",
                "Set",
                &[
                    kv_string("SourceAnchor", "other"),
                    kv_string("userPrincipalName", "BOB@contoso.example"),
                    kv_strings("proxyAddresses", &["smtp:bob@contoso.example", "smtp:bobby@contoso.example"]),
                ],
            ),
        ],
    );
    let results = provision_results(&env.call("ProvisionAzureADSyncObjects", &body).await);
    assert_eq!(results.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(), ["Success"; 3]);
    assert_ne!(results[0].cloud_anchor, results[1].cloud_anchor);
    assert_eq!(results[0].description, None);
    let warning = results[2].description.clone().expect("a resiliency warning");
    assert!(
        warning.starts_with(
            "This object has been updated in your Azure Active Directory, but with some modified properties"
        ),
        "{warning}"
    );
    assert!(warning.contains("UserPrincipalName <pii>BOB@contoso.example</pii>;"), "{warning}");
    assert!(warning.contains("ProxyAddresses <pii>smtp:bob@contoso.example</pii>;"), "{warning}");
    assert!(warning.contains("https://aka.ms/duplicateattributeresiliency"), "{warning}");
    let (_, other) = env.admin_get("/admin/objects/other").await;
    let upn = other["attributes"]["userPrincipalName"].as_str().expect("upn").to_owned();
    assert!(
        upn.starts_with("BOB")
            && upn.ends_with("@emulator.onmicrosoft.com")
            && upn.len() == "BOB0000@emulator.onmicrosoft.com".len(),
        "{upn}"
    );
    assert_eq!(other["attributes"]["proxyAddresses"], serde_json::json!(["smtp:bobby@contoso.example"]));
}

#[tokio::test]
async fn group_members_resolve_by_anchor() {
    let env = start(config()).await;
    env.add_user("u1", "u1@contoso.example").await;
    env.add_user("u2", "u2@contoso.example").await;
    let group = |members: &[&str]| {
        provision_body(
            "ProvisionAzureADSyncObjects",
            &[object(
                "Group",
                "Set",
                &[
                    kv_string("SourceAnchor", "g1"),
                    kv_bool("securityEnabled", true),
                    kv_bool("accountEnabled", true),
                    kv_strings("member", members),
                ],
            )],
        )
    };
    let results = provision_results(&env.call("ProvisionAzureADSyncObjects", &group(&["u1", "u2", "missing"])).await);
    assert_eq!(results[0].code, "Success");
    let text = results[0].description.clone().expect("unresolved members are reported");
    assert!(text.contains("missing") && !text.contains("u1"), "{text}");
    let (_, g) = env.admin_get("/admin/objects/g1").await;
    assert_eq!(g["members"], serde_json::json!(["u1", "u2"]));

    // Full list = replacement; deleting a member removes it from the group.
    provision_results(&env.call("ProvisionAzureADSyncObjects", &group(&["u2", "u1"])).await);
    let delete =
        provision_body("ProvisionAzureADSyncObjects", &[object("User", "Delete", &[kv_string("SourceAnchor", "u1")])]);
    env.call("ProvisionAzureADSyncObjects", &delete).await.ok();
    let (_, g) = env.admin_get("/admin/objects/g1").await;
    assert_eq!(g["members"], serde_json::json!(["u2"]));

    // The delta form works only in Provision2.
    let delta = |op: &str, changes: &[(&str, bool)]| {
        provision_body(op, &[object("Group", "Set", &[kv_string("SourceAnchor", "g1"), kv_member_delta(changes)])])
    };
    env.add_user("u3", "u3@contoso.example").await;
    let v1 = provision_results(
        &env.call("ProvisionAzureADSyncObjects", &delta("ProvisionAzureADSyncObjects", &[("u3", true)])).await,
    );
    assert_eq!(v1[0].code, "Failure", "{v1:?}");
    let v2 = provision_results(
        &env.call(
            "ProvisionAzureADSyncObjects2",
            &delta("ProvisionAzureADSyncObjects2", &[("u3", true), ("u2", false)]),
        )
        .await,
    );
    assert_eq!(v2[0].code, "Success", "{v2:?}");
    let (_, g) = env.admin_get("/admin/objects/g1").await;
    assert_eq!(g["members"], serde_json::json!(["u3"]));
}

#[tokio::test]
async fn unresolved_members_can_be_dropped_silently() {
    let env = start(samba_entra_sync::emulator::EmulatorConfig { report_unresolved_members: false, ..config() }).await;
    let body = provision_body(
        "ProvisionAzureADSyncObjects",
        &[object("Group", "Set", &[kv_string("SourceAnchor", "g"), kv_strings("member", &["nobody"])])],
    );
    let results = provision_results(&env.call("ProvisionAzureADSyncObjects", &body).await);
    assert_eq!((results[0].code.as_str(), results[0].description.as_deref()), ("Success", None));
}

#[tokio::test]
async fn a_delete_of_an_object_not_held_can_answer_success_and_changes_nothing() {
    let env = start(samba_entra_sync::emulator::EmulatorConfig { unknown_delete_fails: false, ..config() }).await;
    let (_, before) = env.admin_get("/admin/stats").await;
    for key in
        [kv_string("SourceAnchor", "never-synced"), kv_string("CloudAnchor", &format!("User_{}", uuid::Uuid::new_v4()))]
    {
        let body = provision_body("ProvisionAzureADSyncObjects", &[object("User", "Delete", &[key])]);
        let results = provision_results(&env.call("ProvisionAzureADSyncObjects", &body).await);
        assert_eq!((results[0].code.as_str(), results[0].description.as_deref()), ("Success", None));
    }
    let (_, stats) = env.admin_get("/admin/stats").await;
    assert_eq!(stats["writes"], before["writes"], "nothing was deleted: {stats}");
}

#[tokio::test]
async fn read_back_returns_typed_values_and_v2_omits_empty_ones() {
    let env = start(config()).await;
    let body = provision_body(
        "ProvisionAzureADSyncObjects",
        &[
            object(
                "User",
                "Set",
                &[
                    kv_string("SourceAnchor", "rb-user"),
                    kv_string("displayName", "Read Back"),
                    kv_string("mail", ""),
                    kv_bool("accountEnabled", false),
                    kv_strings("proxyAddresses", &[]),
                    kv_nil("title"),
                ],
            ),
            object("Group", "Set", &[kv_string("SourceAnchor", "rb-group"), kv_strings("member", &["rb-user"])]),
        ],
    );
    env.call("ProvisionAzureADSyncObjects", &body).await.ok();
    for (op, v2) in [("ReadBackAzureADSyncObjects", false), ("ReadBackAzureADSyncObjects2", true)] {
        // isFullSync=false still returns everything.
        let reply = env.call(op, &read_back_body(op, false)).await;
        let objects = read_back_objects(&reply);
        assert_eq!(objects.len(), 2, "{op}");
        let (kind, user) = &objects[0];
        assert_eq!(kind, "User");
        assert_eq!(user["SourceAnchor"].text, "rb-user");
        assert!(user["CloudAnchor"].text.starts_with("User_"));
        assert_eq!(user["DisplayName"], ReadValue { ty: "d:string".into(), text: "Read Back".into(), items: vec![] });
        assert_eq!(user["AccountEnabled"].ty, "d:boolean");
        assert_eq!(user["AccountEnabled"].text, "false");
        assert!(!user.contains_key("Title"), "cleared attributes have no value");
        assert_eq!(user.contains_key("Mail"), !v2, "{op}: v2 omits empty strings");
        assert_eq!(user.contains_key("ProxyAddresses"), !v2, "{op}: v2 omits empty lists");
        let (kind, group) = &objects[1];
        assert_eq!(kind, "Group");
        assert_eq!(group["Member"].ty, "c:ArrayOfstring");
        assert_eq!(group["Member"].items, ["rb-user"]);
    }
}

#[tokio::test]
async fn credentials_are_stored_for_synced_users_only() {
    let env = start(config()).await;
    env.enable_phs().await;
    env.add_user("cred-user", "carol@contoso.example").await;
    let good = credential_for("Pa$$w0rd");
    let items = [
        credential_item("cred-user", &good, "2024-05-01T10:20:30.1234567Z"),
        credential_item("nobody", &good, "2024-05-01T10:20:30Z"),
        credential_item("cred-user", "v1;PPH1_MD4,zz,1000,00;", "2024-05-01T10:20:30"),
    ];
    let results = credential_results(&env.call("ProvisionCredentials", &credentials_body(&items)).await);
    assert_eq!(results[0], (0, None, Some("cred-user".into())));
    assert_eq!(results[1], (2, None, Some("nobody".into())), "unknown anchor: Result 2 without extended information");
    assert_eq!(results[2].0, 1, "malformed CredentialData");
    assert!(results[2].1.as_deref().unwrap_or("").contains("credential"), "{results:?}");
    assert!(env.verify_password("cred-user", "Pa$$w0rd").await);
    assert!(!env.verify_password("cred-user", "pa$$w0rd").await);
    let (_, user) = env.admin_get("/admin/objects/cred-user").await;
    assert_eq!(user["credential"]["changeDate"], "2024-05-01T10:20:30.1234567Z");
    assert!(user["credential"]["receivedAt"].as_str().expect("receivedAt").ends_with('Z'));
    let (status, by_upn) = env
        .admin_post(
            "/admin/verify-password",
            &serde_json::json!({"userPrincipalName": "CAROL@contoso.example", "password": "Pa$$w0rd"}),
        )
        .await;
    assert_eq!((status, by_upn["valid"].as_bool()), (200, Some(true)));

    // ChangeDate with 0 to 7 fractional digits is fine; 8 is a deserialisation fault.
    for date in ["2024-05-01T10:20:30", "2024-05-01T10:20:30.1Z", "2024-05-01T10:20:30.123456+02:00"] {
        let r = credential_results(
            &env.call("ProvisionCredentials", &credentials_body(&[credential_item("cred-user", &good, date)])).await,
        );
        assert_eq!(r[0].0, 0, "{date}");
    }
    let bad = env
        .call(
            "ProvisionCredentials",
            &credentials_body(&[credential_item("cred-user", &good, "2024-05-01T10:20:30.12345678Z")]),
        )
        .await;
    bad.expect_fault(500, "The formatter threw an exception while trying to deserialize the message");
}

#[tokio::test]
async fn credentials_need_the_phs_feature() {
    let env = start(config()).await;
    env.add_user("p", "p@contoso.example").await;
    let body = credentials_body(&[credential_item("p", &credential_for("x"), "2024-05-01T10:20:30Z")]);
    env.call("ProvisionCredentials", &body).await.expect_fault(500, "Password hash synchronization is not enabled");
    env.enable_phs().await;
    assert_eq!(credential_results(&env.call("ProvisionCredentials", &body).await)[0].0, 0);
}

#[tokio::test]
async fn replication_delay_answers_result_2_until_the_user_has_replicated() {
    let delay = std::time::Duration::from_millis(400);
    let env = start(samba_entra_sync::emulator::EmulatorConfig { replication_delay: delay, ..config() }).await;
    env.enable_phs().await;
    env.add_user("late", "late@contoso.example").await;
    let body = credentials_body(&[credential_item("late", &credential_for("pw"), "2024-05-01T10:20:30Z")]);
    assert_eq!(credential_results(&env.call("ProvisionCredentials", &body).await)[0].0, 2);
    tokio::time::sleep(delay).await;
    assert_eq!(credential_results(&env.call("ProvisionCredentials", &body).await)[0].0, 0);
}

#[tokio::test]
async fn data_contract_members_must_come_in_order() {
    let env = start(config()).await;
    // SyncObjectType before PropertyValues: DataContractSerializer would drop the values.
    let body = format!(
        "<ProvisionAzureADSyncObjects xmlns=\"{SYNC}\"><syncRequest xmlns:b=\"{OBJECTS}\" xmlns:i=\"{XSI}\"><b:SyncObjects>\
         <b:AzureADSyncObject><b:SyncObjectType>User</b:SyncObjectType><b:PropertyValues xmlns:c=\"{ARRAYS}\">{}</b:PropertyValues>\
         <b:SyncOperation>Set</b:SyncOperation></b:AzureADSyncObject></b:SyncObjects></syncRequest></ProvisionAzureADSyncObjects>",
        kv_string("SourceAnchor", "x")
    );
    let text = env.call("ProvisionAzureADSyncObjects", &body).await.expect_fault(500, "syncRequest");
    assert!(text.contains("out of order"), "{text}");
    // An unknown i:type is the deserializer's known-types fault.
    let body = provision_body(
        "ProvisionAzureADSyncObjects",
        &[object("User", "Set", &["<c:KeyValueOfstringanyType><c:Key>SourceAnchor</c:Key><c:Value i:type=\"d:mustUnderstand\" xmlns:d=\"http://www.w3.org/2001/XMLSchema\">x</c:Value></c:KeyValueOfstringanyType>".to_owned()])],
    );
    env.call("ProvisionAzureADSyncObjects", &body)
        .await
        .expect_fault(500, "contains data from a type that maps to the name");
    // SyncObjectType is an enum: case matters.
    let body =
        provision_body("ProvisionAzureADSyncObjects", &[object("user", "Set", &[kv_string("SourceAnchor", "x")])]);
    env.call("ProvisionAzureADSyncObjects", &body).await.expect_fault(500, "SyncObjectType");
}

#[tokio::test]
async fn directory_sync_must_be_activated() {
    let env = start(samba_entra_sync::emulator::EmulatorConfig { dirsync_enabled: false, ..config() }).await;
    let op = "ReadBackAzureADSyncObjects2";
    env.call(op, &read_back_body(op, true))
        .await
        .expect_fault(500, "Identity synchronization is not yet activated for this company");
    // Graph PATCH /organization enables it.
    let graph = env.device_token(CLIENT_ID, "https://graph.microsoft.com/.default offline_access openid profile").await;
    let token = graph["access_token"].as_str().expect("token");
    let r = env
        .http
        .patch(env.url(&format!("/v1.0/organization/{}", env.tenant)))
        .bearer_auth(token)
        .json(&serde_json::json!({"OnPremisesSyncEnabled": true}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status().as_u16(), 204);
    assert!(read_back_objects(&env.call(op, &read_back_body(op, true)).await).is_empty());
}
