//! The engine's ports ([`Tenant`], [`CredentialPusher`]) over the real sync client: converts the
//! engine's objects to the wire's, and the wire's outcomes to the engine's. Every write goes
//! through the write budget first.

use std::sync::Arc;

use super::model::{AttrValue, ExportObject, ObjectType};
use super::passwords::{CredentialPush, CredentialPusher, PushOutcome};
use super::scheduler::{Lane, WriteBudget};
use super::tenant::{CloudObject, ExportResult, Tenant, TenantConfig, TenantError};
use crate::entra::client::{SyncClient, SyncError, TokenProvider};
use crate::entra::ops::{
    self, CredentialChange, CredentialOutcome, CredentialTarget, PropertyValue, ProvisionVersion, ReadBack, SyncObject,
    SyncOperation,
};

pub struct EntraPort<T: TokenProvider> {
    client: SyncClient<T>,
    budget: Arc<WriteBudget>,
}

impl<T: TokenProvider> EntraPort<T> {
    pub fn new(client: SyncClient<T>, budget: Arc<WriteBudget>) -> Self {
        EntraPort { client, budget }
    }

    pub fn client(&self) -> &SyncClient<T> {
        &self.client
    }
}

fn wire_type(t: ObjectType) -> ops::ObjectType {
    match t {
        ObjectType::User => ops::ObjectType::User,
        ObjectType::Group => ops::ObjectType::Group,
        ObjectType::Contact => ops::ObjectType::Contact,
        ObjectType::Device => ops::ObjectType::Device,
    }
}

fn engine_type(t: ops::ObjectType) -> ObjectType {
    match t {
        ops::ObjectType::User => ObjectType::User,
        ops::ObjectType::Group => ObjectType::Group,
        ops::ObjectType::Contact => ObjectType::Contact,
        ops::ObjectType::Device => ObjectType::Device,
    }
}

fn wire_value(v: &AttrValue) -> PropertyValue {
    match v {
        AttrValue::Str(s) => PropertyValue::String(s.clone()),
        AttrValue::Bool(b) => PropertyValue::Bool(*b),
        AttrValue::Long(n) => PropertyValue::Long(*n),
        AttrValue::Bytes(b) => PropertyValue::Base64(b.clone()),
        AttrValue::StrList(l) => PropertyValue::StringList(l.clone()),
        AttrValue::BytesList(l) if l.is_empty() => PropertyValue::Base64List(Vec::new()),
        AttrValue::BytesList(l) => PropertyValue::Base64List(l.clone()),
        AttrValue::Null => PropertyValue::Nil,
    }
}

/// An engine object as a `Set` (upsert) with its whole attribute catalogue; a group's
/// members as the full list of member anchors (replacement semantics).
pub fn to_sync_object(o: &ExportObject) -> SyncObject {
    let mut s = SyncObject::new(wire_type(o.object_type), SyncOperation::Set);
    for (k, v) in o.attributes.iter() {
        s = s.with(k, wire_value(v));
    }
    if let Some(members) = &o.members {
        let v = if members.is_empty() { PropertyValue::EmptyList } else { PropertyValue::StringList(members.clone()) };
        s = s.with("member", v);
    }
    s
}

/// A read-back object in the engine's terms; `None` without a source anchor (not ours).
fn cloud_object(o: SyncObject) -> Option<CloudObject> {
    let anchor = o.source_anchor()?.to_string();
    let cloud_anchor = o.cloud_anchor().map(String::from);
    let attributes = o.properties.into_iter().filter_map(|(k, v)| engine_value(v).map(|v| (k, v))).collect();
    Some(CloudObject { object_type: engine_type(o.object_type), anchor, cloud_anchor, attributes })
}

/// A read-back value in the engine's terms; `None` for values the engine never sends.
fn engine_value(v: PropertyValue) -> Option<AttrValue> {
    Some(match v {
        PropertyValue::String(s) => AttrValue::Str(s),
        PropertyValue::Bool(b) => AttrValue::Bool(b),
        PropertyValue::Long(n) => AttrValue::Long(n),
        PropertyValue::Base64(b) => AttrValue::Bytes(b),
        PropertyValue::StringList(l) => AttrValue::StrList(l),
        PropertyValue::Base64List(l) => AttrValue::BytesList(l),
        PropertyValue::Nil | PropertyValue::EmptyList => AttrValue::Null,
        _ => return None,
    })
}

fn tenant_error(e: SyncError) -> TenantError {
    if e.is_api_incompatible() {
        TenantError::Incompatible(e.to_string())
    } else if e.needs_sign_in() {
        TenantError::SignIn(e.to_string())
    } else if e.is_transient() {
        TenantError::Transient { message: e.to_string(), retry_after: e.retry_after() }
    } else {
        TenantError::Refused(e.to_string())
    }
}

fn results(anchors: &[String], wire: Vec<ops::SyncObjectResult>) -> Vec<ExportResult> {
    anchors
        .iter()
        .enumerate()
        .map(|(i, anchor)| match wire.get(i) {
            Some(r) if r.is_success() => ExportResult {
                anchor: anchor.clone(),
                cloud_anchor: r.cloud_anchor.clone(),
                warning: r.error_description.clone(),
                error: None,
            },
            Some(r) => ExportResult {
                anchor: anchor.clone(),
                cloud_anchor: r.cloud_anchor.clone(),
                warning: None,
                error: Some(r.error_description.clone().unwrap_or_else(|| "refused without a reason".into())),
            },
            None => ExportResult {
                anchor: anchor.clone(),
                cloud_anchor: None,
                warning: None,
                error: Some("the service returned no result for this object".into()),
            },
        })
        .collect()
}

impl<T: TokenProvider + 'static> Tenant for EntraPort<T> {
    async fn configuration(&self) -> Result<TenantConfig, TenantError> {
        let c = self.client.get_company_configuration().await.map_err(tenant_error)?;
        Ok(TenantConfig {
            anchor_attribute: c.anchor_attribute.clone(),
            password_sync_enabled: c.password_hash_sync_enabled(),
            features: i64::from(c.dirsync_features.unwrap_or(0)),
        })
    }

    async fn upsert(&self, objects: &[&ExportObject]) -> Result<Vec<ExportResult>, TenantError> {
        let wire: Vec<SyncObject> = objects.iter().map(|o| to_sync_object(o)).collect();
        let anchors: Vec<String> = objects.iter().map(|o| o.anchor.clone()).collect();
        let r = self.client.provision(&wire, ProvisionVersion::V1).await.map_err(tenant_error)?;
        Ok(results(&anchors, r))
    }

    async fn delete(&self, objects: &[(ObjectType, String)]) -> Result<Vec<ExportResult>, TenantError> {
        let wire: Vec<SyncObject> = objects.iter().map(|(t, a)| SyncObject::delete(wire_type(*t), a.clone())).collect();
        let anchors: Vec<String> = objects.iter().map(|(_, a)| a.clone()).collect();
        let r = self.client.provision(&wire, ProvisionVersion::V1).await.map_err(tenant_error)?;
        Ok(results(&anchors, r))
    }

    async fn read_back(&self, visit: &mut (dyn FnMut(CloudObject) + Send)) -> Result<(), TenantError> {
        let tally = self
            .client
            .read_back_each(ReadBack::default(), &mut |o| {
                if let Some(object) = cloud_object(o) {
                    visit(object);
                }
            })
            .await
            .map_err(tenant_error)?;
        if tally.skipped_count > 0 {
            tracing::warn!(
                skipped = tally.skipped_count,
                first = ?tally.skipped,
                "the read-back had objects or values this build cannot read"
            );
        }
        Ok(())
    }
}

impl<T: TokenProvider + 'static> CredentialPusher for EntraPort<T> {
    async fn push(&self, push: CredentialPush) -> PushOutcome {
        self.budget.acquire(if push.backfill { Lane::Bulk } else { Lane::Urgent }, 1).await;
        let item = CredentialChange {
            target: CredentialTarget::SourceAnchor(push.anchor.clone()),
            credential_data: push.credential,
            change_date: push.change_date,
            force_password_change_on_logon: push.force_change_on_logon,
        };
        match self.client.provision_credentials(std::slice::from_ref(&item)).await {
            Ok(results) => match results.first().map(|r| (r.outcome, r.extended_error_information.clone())) {
                Some((CredentialOutcome::Synced, _)) => PushOutcome::Acknowledged,
                Some((CredentialOutcome::UnknownObject, _)) => PushOutcome::UnknownObject,
                Some((CredentialOutcome::Failed { code }, info)) => PushOutcome::Failed {
                    error: format!(
                        "Entra answered Result {code}{}",
                        info.map(|i| format!(": {i}")).unwrap_or_default()
                    ),
                },
                None => PushOutcome::Retry { error: "the service returned no result".into(), after: None },
            },
            Err(e) if e.is_transient() => PushOutcome::Retry { error: e.to_string(), after: e.retry_after() },
            Err(e) if e.needs_sign_in() => PushOutcome::SignIn { error: e.to_string() },
            Err(e) => PushOutcome::Failed { error: e.to_string() },
        }
    }
}
