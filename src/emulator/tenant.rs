//! The emulated tenant: its settings and synced objects, with the indexes the service's rules
//! need (anchors, UPNs, proxy addresses), written through to the [`Store`].
//!
//! Everything here runs under one lock (see `server.rs`), so every call sees and leaves a
//! consistent tenant.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use uuid::Uuid;

use super::clock;
use super::model::*;
use super::store::{Store, StoreError};

/// What a provision call depends on besides the request.
#[derive(Debug, Clone)]
pub(crate) struct ProvisionContext {
    pub now_ms: i64,
    /// Objects younger than this are invisible to member resolution and ProvisionCredentials.
    pub replication_delay_ms: i64,
    /// Report member anchors that do not resolve in ResultErrorDescription (else drop silently).
    pub report_unresolved_members: bool,
    /// A Delete of an object not held answers `Failure`; else `Success` with nothing changed.
    pub unknown_delete_fails: bool,
    /// The delta member form is accepted (ProvisionAzureADSyncObjects2 only).
    pub delta_members_allowed: bool,
    /// Most member links one call may carry (MaxLinksSupportedAcrossBatchInProvision2).
    pub max_links: Option<usize>,
    /// Which of the service's dated rules are in force (role holders, hard-match hardening).
    pub service_date: super::timeline::ServiceDate,
}

/// Settings a new tenant starts with; a tenant read back from `--data` keeps its own.
#[derive(Debug, Clone)]
pub(crate) struct TenantSeed {
    pub tenant_id: Option<Uuid>,
    pub display_name: String,
    pub initial_domain: String,
    pub dirsync_enabled: bool,
    pub dirsync_features: i64,
    /// `--anchor-attribute`: a tenant that already synced with this source anchor.
    pub anchor_attribute: Option<String>,
}

/// Tenant-wide settings (what `GetCompanyConfiguration` reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TenantInfo {
    pub tenant_id: Uuid,
    pub display_name: String,
    pub initial_domain: String,
    pub dirsync_features: i64,
    pub dirsync_enabled: bool,
    pub last_application_id: Option<String>,
    pub last_build: Option<String>,
    pub last_export_ms: Option<i64>,
    /// `DirSyncConfiguration/AnchorAttribute`: none for a tenant that never synced.
    pub anchor_attribute: Option<String>,
    /// The counts of the last `FinalizeExport` (total, successful).
    pub last_export_counts: Option<(i64, i64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the data directory holds tenant {stored}, but --tenant-id asks for {requested}; use another --data directory"
    )]
    TenantMismatch { stored: Uuid, requested: Uuid },
    #[error("the data directory names an invalid tenant id {0:?}")]
    BadTenantId(String),
}

pub(crate) struct Tenant {
    pub info: TenantInfo,
    pub(super) objects: HashMap<Uuid, SyncObject>,
    /// (type, SourceAnchor) → object: anchors are unique per object type and case-sensitive.
    pub(super) anchors: HashMap<(ObjectType, String), Uuid>,
    /// Lower-cased UPN → user.
    pub(super) upns: HashMap<String, Uuid>,
    /// Lower-cased proxy address (prefix included) → object.
    pub(super) proxies: HashMap<String, Uuid>,
    /// (type, onPremisesImmutableId) → cloud-only object, for the hard match (a scan of every
    /// object per new anchor made an initial sync quadratic in the tenant's size).
    pub(super) immutable_ids: HashMap<(ObjectType, String), Uuid>,
    pub(super) store: Store,
    /// `seq` of the next object created.
    pub(super) next_seq: u64,
    /// Credentials accepted per user since the emulator started (identical resends included):
    /// how tests see that a password change was pushed exactly once, whichever DC sent it.
    pub(super) credential_pushes: HashMap<Uuid, u64>,
}

impl Tenant {
    pub(crate) fn open(dir: Option<&Path>, seed: &TenantSeed) -> Result<Tenant, TenantError> {
        let store = Store::open(dir)?;
        let tenant_id = match store.meta("tenant_id")? {
            Some(text) => {
                let stored = Uuid::parse_str(&text).map_err(|_| TenantError::BadTenantId(text))?;
                if let Some(requested) = seed.tenant_id.filter(|r| *r != stored) {
                    return Err(TenantError::TenantMismatch { stored, requested });
                }
                stored
            }
            None => {
                let id = seed.tenant_id.unwrap_or_else(Uuid::new_v4);
                store.set_meta("tenant_id", &id.to_string())?;
                store.set_meta("display_name", &seed.display_name)?;
                store.set_meta("initial_domain", &seed.initial_domain)?;
                store.set_meta("dirsync_enabled", if seed.dirsync_enabled { "true" } else { "false" })?;
                store.set_meta("dirsync_features", &seed.dirsync_features.to_string())?;
                id
            }
        };
        if let Some(attribute) = &seed.anchor_attribute {
            store.set_meta("anchor_attribute", attribute)?;
        }
        let info = TenantInfo {
            tenant_id,
            display_name: store.meta("display_name")?.unwrap_or_else(|| seed.display_name.clone()),
            initial_domain: store.meta("initial_domain")?.unwrap_or_else(|| seed.initial_domain.clone()),
            dirsync_features: store
                .meta("dirsync_features")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(seed.dirsync_features),
            dirsync_enabled: store.meta("dirsync_enabled")?.map_or(seed.dirsync_enabled, |v| v == "true"),
            last_application_id: store.meta("last_application_id")?,
            last_build: store.meta("last_build")?,
            last_export_ms: store.meta("last_export_ms")?.and_then(|v| v.parse().ok()),
            anchor_attribute: store.meta("anchor_attribute")?.filter(|a| !a.is_empty()),
            last_export_counts: store.meta("last_export_counts")?.and_then(|v| {
                let (total, ok) = v.split_once(',')?;
                Some((total.parse().ok()?, ok.parse().ok()?))
            }),
        };
        let mut tenant = Tenant {
            info,
            objects: HashMap::new(),
            anchors: HashMap::new(),
            upns: HashMap::new(),
            proxies: HashMap::new(),
            immutable_ids: HashMap::new(),
            store,
            next_seq: 0,
            credential_pushes: HashMap::new(),
        };
        for object in tenant.store.load_objects()? {
            tenant.next_seq = tenant.next_seq.max(object.seq + 1);
            tenant.index(&object);
            tenant.objects.insert(object.object_id, object);
        }
        Ok(tenant)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// `SetCompanyDirsyncFeatures`.
    pub(crate) fn set_dirsync_features(&mut self, mask: i64) -> Result<(), StoreError> {
        self.store.set_meta("dirsync_features", &mask.to_string())?;
        self.info.dirsync_features = mask;
        Ok(())
    }

    /// Every stored credential forgotten, as after a tenant restore or a cloud-side reset: the
    /// objects stay, their passwords no longer sign in. Returns how many were wiped.
    pub(crate) fn wipe_credentials(&mut self) -> Result<usize, StoreError> {
        let ids: Vec<Uuid> = self.objects.iter().filter(|(_, o)| o.credential.is_some()).map(|(id, _)| *id).collect();
        for id in &ids {
            if let Some(o) = self.objects.get_mut(id) {
                o.credential = None;
            }
        }
        let objects = ids.iter().filter_map(|id| self.objects.get(id));
        self.store.persist(objects, &[])?;
        Ok(ids.len())
    }

    /// Graph `PATCH /organization` with `onPremisesSyncEnabled`.
    pub(crate) fn set_dirsync_enabled(&mut self, enabled: bool) -> Result<(), StoreError> {
        self.store.set_meta("dirsync_enabled", if enabled { "true" } else { "false" })?;
        self.info.dirsync_enabled = enabled;
        Ok(())
    }

    /// Records the calling client's ApplicationId and build (echoed by GetCompanyConfiguration).
    pub(crate) fn note_client(&mut self, application_id: &str, build: &str) -> Result<(), StoreError> {
        if self.info.last_application_id.as_deref() != Some(application_id) {
            self.store.set_meta("last_application_id", application_id)?;
            self.info.last_application_id = Some(application_id.to_owned());
        }
        if self.info.last_build.as_deref() != Some(build) {
            self.store.set_meta("last_build", build)?;
            self.info.last_build = Some(build.to_owned());
        }
        Ok(())
    }

    /// `FinalizeExport`: the time of the last completed export (the tenant's `LastDirSyncTime`)
    /// and its counts.
    pub(crate) fn finalize_export(&mut self, now_ms: i64, total: i64, successful: i64) -> Result<(), StoreError> {
        self.store.set_meta("last_export_ms", &now_ms.to_string())?;
        self.store.set_meta("last_export_counts", &format!("{total},{successful}"))?;
        self.info.last_export_ms = Some(now_ms);
        self.info.last_export_counts = Some((total, successful));
        Ok(())
    }

    /// The tenant's source anchor attribute, as the admin API sets it (how the real service
    /// records it is not known: docs/emulator.md).
    pub fn set_anchor_attribute(&mut self, attribute: &str) -> Result<(), StoreError> {
        self.store.set_meta("anchor_attribute", attribute)?;
        self.info.anchor_attribute = Some(attribute.to_owned()).filter(|a| !a.is_empty());
        Ok(())
    }

    pub(crate) fn object_count(&self) -> usize {
        self.objects.len()
    }

    pub(crate) fn credential_count(&self) -> usize {
        self.objects.values().filter(|o| o.credential.is_some()).count()
    }

    /// Objects (of one type, or all), oldest first.
    pub(crate) fn objects(&self, filter: Option<ObjectType>) -> Vec<&SyncObject> {
        let mut list: Vec<&SyncObject> =
            self.objects.values().filter(|o| filter.is_none_or(|t| o.object_type == t)).collect();
        list.sort_by_key(|o| o.seq);
        list
    }

    pub(crate) fn object(&self, id: &Uuid) -> Option<&SyncObject> {
        self.objects.get(id)
    }

    /// The object with this SourceAnchor; users win over groups, contacts and devices when
    /// objects of several types share an anchor.
    pub(crate) fn find_by_anchor(&self, anchor: &str) -> Option<&SyncObject> {
        ObjectType::ALL
            .into_iter()
            .find_map(|t| self.anchors.get(&(t, anchor.to_owned())))
            .and_then(|id| self.objects.get(id))
    }

    pub(crate) fn find_user_by_upn(&self, upn: &str) -> Option<&SyncObject> {
        self.upns.get(&upn.to_lowercase()).and_then(|id| self.objects.get(id))
    }

    /// The SourceAnchors of a group's members.
    pub(crate) fn member_anchors(&self, group: &SyncObject) -> Vec<String> {
        group.members.iter().filter_map(|id| self.objects.get(id)).filter_map(|m| m.source_anchor.clone()).collect()
    }

    pub(super) fn index(&mut self, object: &SyncObject) {
        let id = object.object_id;
        if let Some(anchor) = &object.source_anchor {
            self.anchors.insert((object.object_type, anchor.clone()), id);
        } else if let Some(immutable_id) = &object.cloud.immutable_id {
            self.immutable_ids.insert((object.object_type, immutable_id.clone()), id);
        }
        if object.object_type == ObjectType::User
            && let Some(upn) = object.string("userPrincipalName")
        {
            self.upns.insert(upn.to_lowercase(), id);
        }
        if let Some(Value::StringList(list)) = object.get("proxyAddresses") {
            for address in list {
                self.proxies.insert(address.to_lowercase(), id);
            }
        }
    }

    pub(super) fn unindex(&mut self, object: &SyncObject) {
        let id = object.object_id;
        if let Some(anchor) = &object.source_anchor {
            self.anchors.remove(&(object.object_type, anchor.clone()));
        }
        if let Some(immutable_id) = &object.cloud.immutable_id {
            let key = (object.object_type, immutable_id.clone());
            if self.immutable_ids.get(&key) == Some(&id) {
                self.immutable_ids.remove(&key);
            }
        }
        if let Some(upn) = object.string("userPrincipalName") {
            let key = upn.to_lowercase();
            if self.upns.get(&key) == Some(&id) {
                self.upns.remove(&key);
            }
        }
        if let Some(Value::StringList(list)) = object.get("proxyAddresses") {
            for address in list {
                let key = address.to_lowercase();
                if self.proxies.get(&key) == Some(&id) {
                    self.proxies.remove(&key);
                }
            }
        }
    }

    /// Whether an object created at `created_at_ms` is visible yet (replication delay).
    pub(super) fn visible(created_at_ms: i64, ctx: &ProvisionContext) -> bool {
        ctx.now_ms.saturating_sub(created_at_ms) >= ctx.replication_delay_ms
    }

    /// `ProvisionCredentials`: one result per item, and how many credentials changed.
    pub(crate) fn provision_credentials(
        &mut self,
        items: &[CredentialChange],
        ctx: &ProvisionContext,
    ) -> Result<(Vec<CredentialResult>, u64), StoreError> {
        let mut results = Vec::with_capacity(items.len());
        let mut changed: Vec<Uuid> = Vec::new();
        for item in items {
            let outcome = self.credential_item(item, ctx);
            let (result, extended_error) = match outcome {
                Ok(Some(id)) => {
                    *self.credential_pushes.entry(id).or_default() += 1;
                    if !changed.contains(&id) {
                        changed.push(id);
                    }
                    (credential_result::SUCCESS, None)
                }
                Ok(None) => {
                    if let Some(id) = self.credential_target(item) {
                        *self.credential_pushes.entry(id).or_default() += 1;
                    }
                    (credential_result::SUCCESS, None)
                }
                Err((code, text)) => (code, text),
            };
            results.push(CredentialResult {
                cloud_anchor: item.cloud_anchor.clone(),
                extended_error,
                result,
                source_anchor: item.source_anchor.clone(),
            });
        }
        let writes = changed.len() as u64;
        if !changed.is_empty() {
            let objects = changed.iter().filter_map(|id| self.objects.get(id));
            self.store.persist_credentials(objects)?;
        }
        Ok((results, writes))
    }

    /// The user a credential item names by its SourceAnchor.
    fn credential_target(&self, item: &CredentialChange) -> Option<Uuid> {
        self.anchors.get(&(ObjectType::User, item.source_anchor.clone()?)).copied()
    }

    /// How many credentials the user's object accepted since the emulator started.
    pub fn credential_pushes(&self, id: Uuid) -> u64 {
        self.credential_pushes.get(&id).copied().unwrap_or(0)
    }

    /// Ok(Some(id)) when the user's credential changed, Ok(None) when the same credential was
    /// sent again, Err((Result code, ExtendedErrorInformation)) otherwise.
    fn credential_item(
        &mut self,
        item: &CredentialChange,
        ctx: &ProvisionContext,
    ) -> Result<Option<Uuid>, (i32, Option<String>)> {
        let invalid = |text: &str| Err((credential_result::INVALID_ITEM, Some(text.to_owned())));
        let id = match (&item.source_anchor, &item.cloud_anchor) {
            (Some(_), Some(_)) => return invalid("Exactly one of SourceAnchor and CloudAnchor must be set, not both."),
            (None, None) => return invalid("Exactly one of SourceAnchor and CloudAnchor must be set; both are nil."),
            (Some(anchor), None) => self.anchors.get(&(ObjectType::User, anchor.clone())).copied(),
            (None, Some(cloud)) => match parse_cloud_anchor(cloud) {
                Some((ObjectType::User, id)) => Some(id),
                _ => None,
            },
        };
        let Some(data) = item.credential_data.as_deref().filter(|d| !d.is_empty()) else {
            return invalid("CredentialData is missing.");
        };
        if let Err(e) = crate::entra::credential::parse_credential_data(data) {
            return Err((
                credential_result::INVALID_ITEM,
                Some(format!("The credential data could not be read: {e}.")),
            ));
        }
        if item.windows_legacy_credentials || item.windows_supplemental_credentials {
            return invalid(
                "Windows legacy and supplemental credentials are accepted only for tenants with Entra Domain \
                 Services, which this tenant does not have.",
            );
        }
        // Result 2 with no extended information: what the service answers for a user it does not
        // know (yet), a cloud-only user, or one created too recently.
        let not_found = Err((credential_result::OBJECT_NOT_FOUND, None));
        let Some(object) = id.and_then(|id| self.objects.get_mut(&id)) else { return not_found };
        if object.object_type != ObjectType::User
            || object.source_anchor.is_none()
            || !Self::visible(object.created_at_ms, ctx)
        {
            return not_found;
        }
        if object.cloud.cloud_managed {
            return Err((credential_result::INVALID_ITEM, Some(super::rules::CLOUD_MANAGED.to_owned())));
        }
        if object.credential.as_ref().is_some_and(|c| c.credential_data == data && c.change_date == item.change_date) {
            return Ok(None);
        }
        object.credential = Some(StoredCredential {
            credential_data: data.to_owned(),
            change_date: item.change_date.clone(),
            received_at: clock::rfc3339_ms(ctx.now_ms),
            force_change_on_logon: item.force_change_on_logon,
        });
        Ok(Some(object.object_id))
    }

    /// The stored CredentialData of a user found by SourceAnchor or UPN: `None` when there is no
    /// such user, `Some(None)` when it has no credential.
    pub(crate) fn credential_of(
        &self,
        source_anchor: Option<&str>,
        upn: Option<&str>,
    ) -> Option<Option<StoredCredential>> {
        let user = match (source_anchor, upn) {
            (Some(anchor), _) => {
                self.anchors.get(&(ObjectType::User, anchor.to_owned())).and_then(|id| self.objects.get(id))
            }
            (None, Some(upn)) => self.find_user_by_upn(upn),
            (None, None) => None,
        }?;
        Some(user.credential.clone())
    }

    /// Attributes as a sorted map of the names the client used, for the admin API.
    pub(crate) fn attribute_map(object: &SyncObject) -> BTreeMap<String, serde_json::Value> {
        object.attributes.values().map(|a| (a.key.clone(), a.value.to_json())).collect()
    }
}
