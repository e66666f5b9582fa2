//! The engine's ports ([`Tenant`], [`CredentialPusher`]) over the real sync client: converts the
//! engine's objects to the wire's, and the wire's outcomes to the engine's. Every write goes
//! through the write budget first.

use std::sync::Arc;

use super::model::{AttrValue, ExportObject, ObjectType};
use super::passwords::{CredentialPush, CredentialPusher, PushOutcome};
use super::scheduler::{Lane, WriteBudget};
use super::tenant::{CloudObject, ExportResult, ObjectFault, Tenant, TenantConfig, TenantError};
use crate::entra::auth::USER_SIGN_IN_RETIREMENT;
use crate::entra::client::{SyncClient, SyncError, TokenProvider};
use crate::entra::ops::{
    self, CredentialChange, CredentialOutcome, CredentialTarget, PropertyValue, ProvisionVersion, ReadBack, SyncObject,
    SyncOperation,
};
use crate::sync::anchor::Anchor;

pub struct EntraPort<T: TokenProvider> {
    client: SyncClient<T>,
    budget: Arc<WriteBudget>,
    /// The client signs in with a user token (`method = "refresh_token"`).
    user_token: bool,
}

impl<T: TokenProvider> EntraPort<T> {
    pub fn new(client: SyncClient<T>, budget: Arc<WriteBudget>) -> Self {
        EntraPort { client, budget, user_token: false }
    }

    /// Marks the client as signing in with a user token: a refusal that is the service's end of
    /// user sign-in then says so (and that `register-app` fixes it), not "sign in again".
    pub fn with_user_token(mut self, user_token: bool) -> Self {
        self.user_token = user_token;
        self
    }

    fn tenant_error(&self, e: SyncError) -> TenantError {
        match tenant_error(e) {
            TenantError::SignIn(m) => TenantError::SignIn(sign_in_refusal(&m, self.user_token, unix_now())),
            other => other,
        }
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
        // An empty multi-valued attribute (proxyAddresses, userCertificate, …) is an empty
        // `c:ArrayOfstring`, the form known to work (the Python port sends nothing else).
        AttrValue::StrList(l) if l.is_empty() => PropertyValue::EmptyList,
        AttrValue::BytesList(l) if l.is_empty() => PropertyValue::EmptyList,
        AttrValue::StrList(l) => PropertyValue::StringList(l.clone()),
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
        let v = if members.is_empty() {
            PropertyValue::EmptyList
        } else {
            PropertyValue::StringList(members.iter().map(|m| m.to_string()).collect())
        };
        s = s.with("member", v);
    }
    s
}

/// A read-back object in the engine's terms; `None` without a source anchor (not ours).
fn cloud_object(o: SyncObject) -> Option<CloudObject> {
    let anchor = Anchor::from(o.source_anchor()?);
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

/// 2027-04-07T00:00:00Z: the service stops taking user tokens from sync clients (Learn
/// `security-updates-pks`: "configure application-based authentication by April 7, 2027").
pub const USER_SIGN_IN_END_UNIX: i64 = 1_807_056_000;

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The message of a refused sign-in. On a user token it is the end of user sign-in when the
/// service's text says so (it names application-based authentication) or once the date has
/// passed here: then the sentence of [`USER_SIGN_IN_RETIREMENT`] replaces "sign in again".
pub fn sign_in_refusal(message: &str, user_token: bool, now_unix: i64) -> String {
    let names_aba = message.to_ascii_lowercase().contains("application-based authentication");
    if user_token && (names_aba || now_unix >= USER_SIGN_IN_END_UNIX) {
        format!("the service refuses the user token ({message}): {USER_SIGN_IN_RETIREMENT}")
    } else {
        message.to_owned()
    }
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

fn results(anchors: &[Anchor], wire: Vec<ops::SyncObjectResult>) -> Vec<ExportResult> {
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
            Some(r) => {
                let text = r.error_description.clone().unwrap_or_else(|| "refused without a reason".into());
                ExportResult {
                    anchor: anchor.clone(),
                    cloud_anchor: r.cloud_anchor.clone(),
                    warning: None,
                    error: Some(ObjectFault::Refused(text)),
                }
            }
            None => ExportResult {
                anchor: anchor.clone(),
                cloud_anchor: None,
                warning: None,
                error: Some(ObjectFault::Refused("the service returned no result for this object".into())),
            },
        })
        .collect()
}

impl<T: TokenProvider + 'static> Tenant for EntraPort<T> {
    async fn configuration(&self) -> Result<TenantConfig, TenantError> {
        let c = self.client.get_company_configuration().await.map_err(|e| self.tenant_error(e))?;
        Ok(TenantConfig {
            anchor_attribute: c.anchor_attribute.clone(),
            password_sync_enabled: c.password_hash_sync_enabled(),
            features: i64::from(c.dirsync_features.unwrap_or(0)),
        })
    }

    async fn upsert(&self, objects: &[&ExportObject], lane: Lane) -> Result<Vec<ExportResult>, TenantError> {
        self.budget.acquire(lane, objects.len() as u32).await;
        let wire: Vec<SyncObject> = objects.iter().map(|o| to_sync_object(o)).collect();
        let anchors: Vec<Anchor> = objects.iter().map(|o| o.anchor.clone()).collect();
        let r = self.client.provision(&wire, ProvisionVersion::V1).await.map_err(|e| self.tenant_error(e))?;
        Ok(results(&anchors, r))
    }

    async fn delete(&self, objects: &[(ObjectType, Anchor)], lane: Lane) -> Result<Vec<ExportResult>, TenantError> {
        self.budget.acquire(lane, objects.len() as u32).await;
        let wire: Vec<SyncObject> =
            objects.iter().map(|(t, a)| SyncObject::delete(wire_type(*t), a.to_string())).collect();
        let anchors: Vec<Anchor> = objects.iter().map(|(_, a)| a.clone()).collect();
        let r = self.client.provision(&wire, ProvisionVersion::V1).await.map_err(|e| self.tenant_error(e))?;
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
            .map_err(|e| self.tenant_error(e))?;
        if tally.skipped_count > 0 {
            tracing::warn!(
                skipped = tally.skipped_count,
                first = ?tally.skipped,
                "the read-back had objects or values this build cannot read"
            );
        }
        Ok(())
    }

    async fn finalize_export(&self, total: u64, successful: u64) -> Result<(), TenantError> {
        self.finalize(total, successful).await
    }
}

impl<T: TokenProvider + 'static> EntraPort<T> {
    async fn finalize(&self, total: u64, successful: u64) -> Result<(), TenantError> {
        self.client.finalize_export(total, successful).await.map_err(|e| self.tenant_error(e))
    }
}

impl<T: TokenProvider + 'static> CredentialPusher for EntraPort<T> {
    async fn push(&self, push: CredentialPush) -> PushOutcome {
        self.budget.acquire(if push.backfill { Lane::Bulk } else { Lane::Urgent }, 1).await;
        let item = CredentialChange {
            target: CredentialTarget::SourceAnchor(push.anchor.to_string()),
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
            Err(e) if e.needs_sign_in() => {
                PushOutcome::SignIn { error: sign_in_refusal(&e.to_string(), self.user_token, unix_now()) }
            }
            Err(e) => PushOutcome::Failed { error: e.to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_is_a_refusal_with_the_services_words_and_a_warning_is_no_failure() {
        let wire = |code, text: &str| ops::SyncObjectResult {
            source_anchor: None,
            cloud_anchor: None,
            code,
            error_description: Some(text.to_owned()),
        };
        let anchors: Vec<Anchor> = ["a", "b", "c", "d"].into_iter().map(Anchor::from).collect();
        let got = results(
            &anchors,
            vec![
                wire(ops::ResultCode::Failure, "User 'a' does not exist in the tenant (object not found)."),
                wire(ops::ResultCode::Failure, "InvalidSoftMatch"),
                wire(ops::ResultCode::Success, "with some modified properties"),
            ],
        );
        // Not even a text that says "not found" is read: the tenant's listing decides that.
        assert_eq!(
            got[0].error,
            Some(ObjectFault::Refused("User 'a' does not exist in the tenant (object not found).".into()))
        );
        assert_eq!(got[1].error, Some(ObjectFault::Refused("InvalidSoftMatch".into())));
        assert_eq!((got[2].error.as_ref(), got[2].warning.as_deref()), (None, Some("with some modified properties")));
        assert!(matches!(got[3].error, Some(ObjectFault::Refused(_))), "no result for an object is a refusal");
    }

    #[test]
    fn an_empty_multi_valued_attribute_goes_out_as_an_empty_array_never_nil() {
        use crate::sync::model::{AttrValue, Attributes, ExportObject};
        let mut attributes = Attributes::default();
        attributes.insert("proxyAddresses", AttrValue::StrList(Vec::new()));
        attributes.insert("userCertificate", AttrValue::BytesList(Vec::new()));
        attributes.insert("mail", AttrValue::Null);
        let o = ExportObject {
            object_type: ObjectType::Device,
            anchor: "a".into(),
            dn: "CN=a".into(),
            name: "a".into(),
            attributes,
            members: None,
        };
        let wire = to_sync_object(&o);
        let value = |k: &str| wire.properties.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(value("proxyAddresses"), Some(PropertyValue::EmptyList));
        assert_eq!(value("userCertificate"), Some(PropertyValue::EmptyList));
        // A single-valued attribute with no value is still cleared with i:nil.
        assert_eq!(value("mail"), Some(PropertyValue::Nil));
    }

    #[test]
    fn a_refused_user_token_says_when_user_sign_in_ends_and_what_switches() {
        let before = USER_SIGN_IN_END_UNIX - 86_400;
        let generic = "the sync service refused the sign-in: Access to Azure Active Directory has been denied.";
        // Before the date a plain refusal is an expired or revoked sign-in: `login` fixes it.
        assert_eq!(sign_in_refusal(generic, true, before), generic);
        // On or after it, on a user token, it is the end of user sign-in.
        let after = sign_in_refusal(generic, true, USER_SIGN_IN_END_UNIX);
        assert!(after.contains("stops working on 7 April 2027") && after.contains("register-app"), "{after}");
        // The service saying so is enough, whatever our clock says.
        let told = "denied: configure application-based authentication";
        assert!(sign_in_refusal(told, true, before).contains("register-app"));
        // An app token is never told to register an app.
        assert_eq!(sign_in_refusal(told, false, USER_SIGN_IN_END_UNIX), told);
        assert!(!crate::sync::tenant::with_sign_in_fix(&after).contains("login --config"));
        assert!(crate::sync::tenant::with_sign_in_fix(generic).contains("login --config"));
    }
}
