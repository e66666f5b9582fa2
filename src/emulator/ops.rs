//! The operations of the sync API (docs/emulator.md, "Sync API"): request bodies read into typed requests
//! (`parse`, outside the tenant lock), executed against the tenant and answered (`run`).

use crate::entra::nbfx::{Element, ElementRef};

use super::contract::{self, members, optional_text, parse_bool, parse_int, required_text};
use super::model::*;
use super::soap::{ARRAYS_NS, COEXISTENCE_NS, Fault, FaultCode, OBJECTS_NS, SYNC_NS, XSD, XSI};
use super::tenant::{ProvisionContext, Tenant};

pub(super) const NOT_ACTIVATED: &str = "Identity synchronization is not yet activated for this company. Enable directory \
                                 synchronization for the tenant (Graph: PATCH /organization with \
                                 onPremisesSyncEnabled=true) and retry.";

/// Operations that change objects or credentials: the ones throttling counts.
pub(super) fn is_write(name: &str) -> bool {
    matches!(name, "ProvisionAzureADSyncObjects" | "ProvisionAzureADSyncObjects2" | "ProvisionCredentials")
}

/// A request body read into its typed form.
#[derive(Debug)]
pub(super) enum Parsed {
    GetCompanyConfiguration,
    SetCompanyDirsyncFeatures(i32),
    Provision { v2: bool, objects: Vec<ObjectChange> },
    ReadBack { v2: bool },
    ProvisionCredentials(Vec<CredentialChange>),
    FinalizeExport { total: i64, successful: i64 },
    Capabilities,
    NotEmulated(String),
}

/// Settings the operations need besides the tenant.
#[derive(Debug, Clone)]
pub(super) struct OpSettings {
    pub provision: ProvisionContext,
    pub require_phs_feature: bool,
    pub min_build: String,
    pub machine_name: String,
    /// Why the caller may not change the sync features (`SetCompanyDirsyncFeatures`), if it may not.
    pub features_refusal: Option<String>,
}

/// The answer of one operation and how many objects or credentials it changed.
pub(super) struct Outcome {
    pub result: Option<Reply>,
    pub writes: u64,
}

/// An operation's answer, built under the tenant lock, or a read-back's copy of the tenant
/// from which the answer is built once the lock is released: building the answer for a large
/// tenant takes seconds, and the other calls (password pushes) need not wait for it.
pub(super) enum Reply {
    Built(Element),
    ReadBack(ReadBackCopy),
}

impl Reply {
    pub(super) fn build(self) -> Element {
        match self {
            Reply::Built(e) => e,
            Reply::ReadBack(copy) => copy.build(),
        }
    }
}

fn formatter(parameter: &'static str) -> impl Fn(String) -> Fault {
    move |inner| Fault::formatter(parameter, &inner)
}

/// Reads the operation element of the body.
pub(super) fn parse(operation: &str, op: &ElementRef<'_>) -> Result<Parsed, Fault> {
    Ok(match operation {
        "GetCompanyConfiguration" => {
            let [include] =
                members(op, SYNC_NS, ["includeLicenseInformation"]).map_err(formatter("includeLicenseInformation"))?;
            if let Some(text) = optional_text(include).map_err(formatter("includeLicenseInformation"))? {
                parse_bool(&text, "includeLicenseInformation").map_err(formatter("includeLicenseInformation"))?;
            }
            Parsed::GetCompanyConfiguration
        }
        "SetCompanyDirsyncFeatures" => {
            let f = formatter("dirsyncFeatures");
            let [mask] = members(op, SYNC_NS, ["dirsyncFeatures"]).map_err(&f)?;
            let mask =
                parse_int(&required_text(mask, "dirsyncFeatures").map_err(&f)?, "dirsyncFeatures").map_err(&f)?;
            Parsed::SetCompanyDirsyncFeatures(mask)
        }
        "ProvisionAzureADSyncObjects" | "ProvisionAzureADSyncObjects2" => Parsed::Provision {
            v2: operation.ends_with('2'),
            objects: sync_request(op).map_err(formatter("syncRequest"))?,
        },
        "ReadBackAzureADSyncObjects" | "ReadBackAzureADSyncObjects2" => {
            let [include, cookie, full] =
                members(op, SYNC_NS, ["includeLicenseInformation", "inputCookie", "isFullSync"])
                    .map_err(formatter("includeLicenseInformation"))?;
            for (name, member) in [("includeLicenseInformation", include), ("isFullSync", full)] {
                if let Some(text) = optional_text(member).map_err(|e| Fault::formatter(name, &e))? {
                    parse_bool(&text, name).map_err(|e| Fault::formatter(name, &e))?;
                }
            }
            optional_text(cookie).map_err(formatter("inputCookie"))?;
            // isFullSync=false still returns everything: the emulator keeps no change log, and
            // clients expect every object back (interfaces.md).
            Parsed::ReadBack { v2: operation.ends_with('2') }
        }
        "ProvisionCredentials" => Parsed::ProvisionCredentials(credential_request(op).map_err(formatter("request"))?),
        "FinalizeExport" => {
            let [total, ok] =
                members(op, SYNC_NS, ["totalExported", "successfulExportCount"]).map_err(formatter("totalExported"))?;
            let total =
                parse_int(&required_text(total, "totalExported").map_err(formatter("totalExported"))?, "totalExported")
                    .map_err(formatter("totalExported"))?;
            let ok = required_text(ok, "successfulExportCount").map_err(formatter("successfulExportCount"))?;
            let successful = parse_int(&ok, "successfulExportCount").map_err(formatter("successfulExportCount"))?;
            Parsed::FinalizeExport { total: i64::from(total), successful: i64::from(successful) }
        }
        "Capabilities" => Parsed::Capabilities,
        other => Parsed::NotEmulated(other.to_owned()),
    })
}

fn sync_request(op: &ElementRef<'_>) -> contract::ContractResult<Vec<ObjectChange>> {
    let [request] = members(op, SYNC_NS, ["syncRequest"])?;
    let request = request.ok_or("The parameter 'syncRequest' is missing.")?;
    if contract::is_nil(&request) {
        return Err("The parameter 'syncRequest' is nil.".into());
    }
    let [objects] = members(&request, OBJECTS_NS, ["SyncObjects"])?;
    let Some(objects) = objects else { return Err("syncRequest has no SyncObjects.".into()) };
    let mut out = Vec::new();
    for object in objects.children() {
        if !object.is(OBJECTS_NS, "AzureADSyncObject") {
            return Err(format!(
                "SyncObjects may contain only AzureADSyncObject elements ({OBJECTS_NS}), not '{}'.",
                object.local_name()
            ));
        }
        let [values, kind, operation] =
            members(&object, OBJECTS_NS, ["PropertyValues", "SyncObjectType", "SyncOperation"])?;
        let kind_text = required_text(kind, "SyncObjectType")?;
        let object_type = ObjectType::parse(kind_text.trim()).ok_or_else(|| {
            format!("Invalid enum value '{kind_text}' cannot be deserialized into type 'SyncObjectType'.")
        })?;
        let operation_text = required_text(operation, "SyncOperation")?;
        let operation = SyncOperation::parse(operation_text.trim()).ok_or_else(|| {
            format!("Invalid enum value '{operation_text}' cannot be deserialized into type 'SyncOperation'.")
        })?;
        let values = values.ok_or("An AzureADSyncObject has no PropertyValues.")?;
        let mut properties = Vec::new();
        for entry in values.children() {
            if !entry.is(ARRAYS_NS, "KeyValueOfstringanyType") {
                return Err(format!(
                    "PropertyValues may contain only KeyValueOfstringanyType elements ({ARRAYS_NS}), not '{}'.",
                    entry.local_name()
                ));
            }
            let [key, value] = members(&entry, ARRAYS_NS, ["Key", "Value"])?;
            let key = required_text(key, "Key")?;
            if properties.iter().any(|p: &Property| p.key == key) {
                return Err(format!("An item with the same key has already been added. Key: {key}"));
            }
            let value = value.ok_or_else(|| format!("The entry '{key}' has no Value."))?;
            let value = contract::property_value(&value, &key)?;
            properties.push(Property { key, value });
        }
        out.push(ObjectChange { properties, object_type, operation });
    }
    Ok(out)
}

fn credential_request(op: &ElementRef<'_>) -> contract::ContractResult<Vec<CredentialChange>> {
    let [request] = members(op, SYNC_NS, ["request"])?;
    let request = request.ok_or("The parameter 'request' is missing.")?;
    let [items] = members(&request, COEXISTENCE_NS, ["RequestItems"])?;
    let Some(items) = items else { return Err("request has no RequestItems.".into()) };
    let mut out = Vec::new();
    for item in items.children() {
        if !item.is(COEXISTENCE_NS, "SyncCredentialsChangeItem") {
            return Err(format!(
                "RequestItems may contain only SyncCredentialsChangeItem elements ({COEXISTENCE_NS}), not '{}'.",
                item.local_name()
            ));
        }
        let [change_date, cloud, data, force, source, legacy, supplemental] = members(
            &item,
            COEXISTENCE_NS,
            [
                "ChangeDate",
                "CloudAnchor",
                "CredentialData",
                "ForcePasswordChangeOnLogon",
                "SourceAnchor",
                "WindowsLegacyCredentials",
                "WindowsSupplementalCredentials",
            ],
        )?;
        let change_date = required_text(change_date, "ChangeDate")?;
        if !super::clock::is_xs_date_time(&change_date) {
            return Err(format!(
                "The value '{change_date}' cannot be parsed as the type 'DateTime' (ChangeDate); use \
                 YYYY-MM-DDThh:mm:ss with 0 to 7 fractional digits and an optional Z or offset."
            ));
        }
        let force = match optional_text(force)? {
            Some(text) => parse_bool(&text, "ForcePasswordChangeOnLogon")?,
            None => false,
        };
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        out.push(CredentialChange {
            change_date: change_date.trim().to_owned(),
            cloud_anchor: non_empty(optional_text(cloud)?),
            credential_data: optional_text(data)?,
            force_change_on_logon: force,
            source_anchor: non_empty(optional_text(source)?),
            windows_legacy_credentials: optional_text(legacy)?.is_some_and(|s| !s.is_empty()),
            windows_supplemental_credentials: optional_text(supplemental)?.is_some_and(|s| !s.is_empty()),
        });
    }
    Ok(out)
}

/// Executes a parsed operation against the tenant.
pub(super) fn run(
    tenant: &mut Tenant,
    operation: &str,
    parsed: Parsed,
    settings: &OpSettings,
) -> Result<Outcome, Fault> {
    let store_fault = |e: super::store::StoreError| {
        tracing::error!("{e}");
        Fault::service(FaultCode::Receiver, "An internal error occurred while processing the request.")
    };
    let needs_sync =
        matches!(parsed, Parsed::Provision { .. } | Parsed::ReadBack { .. } | Parsed::ProvisionCredentials(_));
    if needs_sync && !tenant.info.dirsync_enabled {
        return Err(Fault::service(FaultCode::Sender, NOT_ACTIVATED));
    }
    let nothing = |writes| Ok(Outcome { result: None, writes });
    let built = |e: Element| Some(Reply::Built(e));
    match parsed {
        Parsed::GetCompanyConfiguration => {
            Ok(Outcome { result: built(company_configuration(tenant, settings)), writes: 0 })
        }
        Parsed::SetCompanyDirsyncFeatures(mask) => {
            if let Some(refusal) = &settings.features_refusal {
                tracing::info!("SetCompanyDirsyncFeatures refused: {refusal}");
                return Err(Fault::service(FaultCode::Sender, refusal.clone()));
            }
            tenant.set_dirsync_features(i64::from(mask & 0x7FFF_FFFF)).map_err(store_fault)?;
            nothing(0)
        }
        Parsed::Provision { v2, objects } => {
            let mut ctx = settings.provision.clone();
            ctx.delta_members_allowed = v2;
            ctx.max_links = if v2 { Some(MAX_LINKS) } else { None };
            let (results, writes) = tenant.provision(&objects, &ctx).map_err(store_fault)?;
            Ok(Outcome { result: built(provision_result(operation, &results)), writes })
        }
        Parsed::ReadBack { v2 } => {
            Ok(Outcome { result: Some(Reply::ReadBack(ReadBackCopy::of(tenant, operation, v2))), writes: 0 })
        }
        Parsed::ProvisionCredentials(items) => {
            if settings.require_phs_feature && tenant.info.dirsync_features & 1 == 0 {
                return Err(Fault::service(
                    FaultCode::Sender,
                    "Password hash synchronization is not enabled for this company. Enable the PasswordHashSync \
                     feature (DirSyncFeatures bit 1) with SetCompanyDirsyncFeatures first.",
                ));
            }
            let (results, writes) = tenant.provision_credentials(&items, &settings.provision).map_err(store_fault)?;
            Ok(Outcome { result: built(credentials_result(&results)), writes })
        }
        Parsed::FinalizeExport { total, successful } => {
            tenant.finalize_export(settings.provision.now_ms, total, successful).map_err(store_fault)?;
            nothing(0)
        }
        Parsed::Capabilities => Ok(Outcome {
            result: built(Element::new("", "CapabilitiesResult").text(capabilities_document(&settings.min_build))),
            writes: 0,
        }),
        Parsed::NotEmulated(op) => Err(Fault::service(
            FaultCode::Receiver,
            format!("The operation {op} is part of the sync API but is not emulated by samba-entra-sync emulator."),
        )),
    }
}

/// MaxLinksSupportedAcrossBatchInProvision2 of the example tenant.
pub(super) const MAX_LINKS: usize = 15_000;

fn text(name: &str, value: impl AsRef<str> + Into<String>) -> Element {
    Element::new("", name).text(value)
}

fn nil(prefix: &str, name: &str) -> Element {
    Element::new(prefix, name).attr("i", "nil", "true")
}

fn optional(prefix: &str, name: &str, value: Option<&str>) -> Element {
    match value {
        Some(v) => Element::new(prefix, name).text(v),
        None => nil(prefix, name),
    }
}

fn company_configuration(tenant: &Tenant, settings: &OpSettings) -> Element {
    let info = &tenant.info;
    let features = info.dirsync_features;
    Element::new("", "GetCompanyConfigurationResult")
        .xmlns("i", XSI)
        .child(
            Element::new("", "AllowedFeatures")
                .xmlns("c", ARRAYS_NS)
                .child(Element::new("c", "string").text("ObjectWriteback"))
                .child(Element::new("c", "string").text("PasswordWriteback")),
        )
        .child(
            Element::new("", "DirSyncConfiguration")
                .child(optional("", "AnchorAttribute", info.anchor_attribute.as_deref()))
                .child(optional("", "ApplicationVersion", info.last_application_id.as_deref()))
                .child(optional("", "ClientVersion", info.last_build.as_deref()))
                .child(
                    Element::new("", "CurrentExport")
                        .child(text("DirSyncClientMachineName", settings.machine_name.as_str()))
                        .child(text("TotalConnectorSpaceObjects", tenant.object_count().to_string())),
                )
                .child(text("IsTrackingChanges", "false"))
                .child(
                    Element::new("", "PreventAccidentalDeletion")
                        .child(text("DeletionPrevention", "EnabledForCount"))
                        .child(text("ThresholdCount", "500"))
                        .child(text("ThresholdPercentage", "0")),
                )
                .child(
                    Element::new("", "Writeback")
                        .child(nil("", "UnifiedGroupContainer"))
                        .child(nil("", "UserContainer")),
                ),
        )
        .child(text("DirSyncFeatures", features.to_string()))
        .child(text("DisplayName", info.display_name.as_str()))
        .child(text("IsDirSyncing", bool_text(info.dirsync_enabled)))
        .child(text("IsPasswordSyncing", bool_text(features & 1 != 0)))
        .child(text("MaxLinksSupportedAcrossBatchInProvision2", MAX_LINKS.to_string()))
        .child(text("SynchronizationInterval", "PT30M"))
        .child(text("TenantId", info.tenant_id.to_string()))
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn provision_result(operation: &str, results: &[ObjectResult]) -> Element {
    let items = results.iter().map(|r| {
        Element::new("b", "AzureADSyncObjectResult")
            .child(optional("b", "CloudAnchor", r.cloud_anchor.as_deref()))
            .child(Element::new("b", "ResultCode").text(if r.success { "Success" } else { "Failure" }))
            .child(optional("b", "ResultErrorDescription", r.description.as_deref()))
            .child(optional("b", "SourceAnchor", r.source_anchor.as_deref()))
    });
    Element::new("", format!("{operation}Result"))
        .xmlns("b", OBJECTS_NS)
        .xmlns("i", XSI)
        .child(Element::new("b", "SyncObjectResults").children(items))
}

fn credentials_result(results: &[CredentialResult]) -> Element {
    let items = results.iter().map(|r| {
        let mut item = Element::new("b", "SyncCredentialsChangeResult").child(optional(
            "b",
            "CloudAnchor",
            r.cloud_anchor.as_deref(),
        ));
        if let Some(text) = &r.extended_error {
            item.push_child(Element::new("b", "ExtendedErrorInformation").text(text.as_str()));
        }
        item.child(Element::new("b", "Result").text(r.result.to_string())).child(optional(
            "b",
            "SourceAnchor",
            r.source_anchor.as_deref(),
        ))
    });
    Element::new("", "ProvisionCredentialsResult")
        .xmlns("b", COEXISTENCE_NS)
        .xmlns("i", XSI)
        .child(Element::new("b", "Results").children(items))
}

/// `Key` in PascalCase, as the read-back returns keys.
fn pascal(key: &str) -> String {
    let mut chars = key.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn typed_value(value: &Value) -> Element {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let simple = |ty: &str, text: String| Element::new("c", "Value").attr("i", "type", ty).xmlns("d", XSD).text(text);
    match value {
        Value::Null => nil("c", "Value"),
        Value::String(s) => simple("d:string", s.clone()),
        Value::Bool(b) => simple("d:boolean", bool_text(*b).to_owned()),
        Value::Long(n) => simple("d:long", n.to_string()),
        Value::Binary(b) => simple("d:base64Binary", b64(b)),
        Value::StringList(l) => Element::new("c", "Value")
            .attr("i", "type", "c:ArrayOfstring")
            .children(l.iter().map(|s| Element::new("c", "string").text(s.as_str()))),
        Value::BinaryList(l) => Element::new("c", "Value")
            .attr("i", "type", "c:ArrayOfbase64Binary")
            .children(l.iter().map(|b| Element::new("c", "base64Binary").text(b64(b)))),
    }
}

fn key_value(key: &str, value: &Value) -> Element {
    Element::new("c", "KeyValueOfstringanyType").child(Element::new("c", "Key").text(key)).child(typed_value(value))
}

/// What a read-back answers, copied from the tenant (see [`Reply`]).
pub(super) struct ReadBackCopy {
    operation: String,
    objects: Vec<ReadBackObject>,
}

struct ReadBackObject {
    object_type: ObjectType,
    cloud_anchor: String,
    source_anchor: String,
    /// (name as sent, value), without cleared attributes (and, in v2, empty ones).
    attributes: Vec<(String, Value)>,
    /// A group's members' SourceAnchors (`None` for other types, and in v2 when empty).
    members: Option<Vec<String>>,
}

impl ReadBackCopy {
    fn of(tenant: &Tenant, operation: &str, v2: bool) -> ReadBackCopy {
        let objects = tenant
            .objects(None)
            .into_iter()
            .filter_map(|o| {
                let source_anchor = o.source_anchor.clone()?;
                // Cleared attributes have no type to report; v2 also leaves out empty ones.
                let attributes = o
                    .attributes
                    .values()
                    .filter(|a| a.value != Value::Null && !(v2 && a.value.is_empty()))
                    .map(|a| (a.key.clone(), a.value.clone()))
                    .collect();
                let members = (o.object_type == ObjectType::Group)
                    .then(|| tenant.member_anchors(o))
                    .filter(|m| !(v2 && m.is_empty()));
                Some(ReadBackObject {
                    object_type: o.object_type,
                    cloud_anchor: o.cloud_anchor(),
                    source_anchor,
                    attributes,
                    members,
                })
            })
            .collect();
        ReadBackCopy { operation: operation.to_owned(), objects }
    }

    fn build(self) -> Element {
        let objects = self.objects.into_iter().map(|o| {
            let mut values = Element::new("b", "PropertyValues").xmlns("c", ARRAYS_NS);
            values.push_child(key_value("CloudAnchor", &Value::String(o.cloud_anchor)));
            values.push_child(key_value("SourceAnchor", &Value::String(o.source_anchor)));
            for (key, value) in &o.attributes {
                values.push_child(key_value(&pascal(key), value));
            }
            if let Some(members) = o.members {
                values.push_child(key_value("Member", &Value::StringList(members)));
            }
            Element::new("b", "AzureADSyncObject")
                .child(values)
                .child(Element::new("b", "SyncObjectType").text(o.object_type.as_str()))
                .child(Element::new("b", "SyncOperation").text("Set"))
        });
        Element::new("", format!("{}Result", self.operation))
            .xmlns("b", super::soap::OBJECTS_NS)
            .xmlns("i", XSI)
            .child(Element::new("b", "ResultObjects").children(objects))
    }
}

/// `CapabilitiesResult`: an XML document in a string.
fn capabilities_document(min_build: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-16\"?><ServiceCapability><MicrosoftOnline><Protocol><Application>\
         <LatestProductVersion>3.2</LatestProductVersion><MinimumProductVersion>1.0</MinimumProductVersion>\
         <MinimumDirSyncBuildNumber>{min_build}</MinimumDirSyncBuildNumber>\
         <BlackList><Enabled>true</Enabled><ClientVersion>1.5.29.0</ClientVersion></BlackList>\
         </Application></Protocol></MicrosoftOnline></ServiceCapability>"
    )
}
