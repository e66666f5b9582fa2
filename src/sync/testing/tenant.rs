//! An in-memory tenant: implements [`Tenant`] and [`CredentialPusher`], holds what was
//! exported and pushed, counts every call (and the lane of every write), and fails on script.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use crate::sync::anchor::Anchor;
use crate::sync::model::{AttrValue, ExportObject, ObjectType};
use crate::sync::passwords::{CredentialPush, CredentialPusher, PushOutcome};
use crate::sync::scheduler::Lane;
use crate::sync::tenant::{CloudObject, ExportResult, ObjectFault, Tenant, TenantConfig, TenantError};

/// What the fake saw, call by call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantCalls {
    pub configuration: u64,
    pub upsert_calls: u64,
    pub upserted: u64,
    pub delete_calls: u64,
    pub deleted: u64,
    pub read_backs: u64,
    pub pushes: u64,
    /// Objects written in each lane (upserts and deletes).
    pub urgent_objects: u64,
    pub bulk_objects: u64,
    /// FinalizeExport calls and the counts of the last one (total, successful).
    pub finalizes: u64,
    pub last_finalize: (u64, u64),
}

struct Held {
    cloud_anchor: String,
    attributes: Vec<(String, AttrValue)>,
}

struct Inner {
    config: TenantConfig,
    objects: BTreeMap<(ObjectType, Anchor), Held>,
    /// Anchor → credentials acknowledged.
    passwords: BTreeMap<Anchor, u32>,
    calls: TenantCalls,
    /// The next this many writes (upsert or delete calls) fail as transient.
    failing_writes: u32,
    /// The next this many reads back fail as transient.
    failing_read_backs: u32,
    /// Objects whose upsert is refused.
    refused: HashSet<Anchor>,
    /// Outcomes the next pushes get instead of the normal one.
    push_script: VecDeque<PushOutcome>,
    /// Runs while each push is in flight (before it is answered).
    while_pushing: Option<Arc<dyn Fn() + Send + Sync>>,
    next_id: u64,
}

pub struct FakeTenant {
    inner: Mutex<Inner>,
}

impl Default for FakeTenant {
    fn default() -> Self {
        Self::new()
    }
}

fn transient() -> TenantError {
    TenantError::Transient { message: "503 Service Unavailable (scripted)".into(), retry_after: None }
}

impl FakeTenant {
    pub fn new() -> Self {
        FakeTenant {
            inner: Mutex::new(Inner {
                config: TenantConfig { anchor_attribute: None, password_sync_enabled: true, features: 0 },
                objects: BTreeMap::new(),
                passwords: BTreeMap::new(),
                calls: TenantCalls::default(),
                failing_writes: 0,
                failing_read_backs: 0,
                refused: HashSet::new(),
                push_script: VecDeque::new(),
                while_pushing: None,
                next_id: 1,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn calls(&self) -> TenantCalls {
        self.lock().calls.clone()
    }

    pub fn set_password_sync(&self, on: bool) {
        self.lock().config.password_sync_enabled = on;
    }

    pub fn set_anchor_attribute(&self, name: &str) {
        self.lock().config.anchor_attribute = Some(name.to_owned());
    }

    pub fn fail_writes(&self, n: u32) {
        self.lock().failing_writes = n;
    }

    pub fn fail_read_backs(&self, n: u32) {
        self.lock().failing_read_backs = n;
    }

    pub fn refuse(&self, anchor: &str) {
        self.lock().refused.insert(Anchor::from(anchor));
    }

    /// The tenant takes the object again.
    pub fn accept(&self, anchor: &str) {
        self.lock().refused.remove(anchor);
    }

    /// Runs `f` while each later push is in flight, before it is answered.
    pub fn while_pushing(&self, f: impl Fn() + Send + Sync + 'static) {
        self.lock().while_pushing = Some(Arc::new(f));
    }

    pub fn script_pushes(&self, outcomes: impl IntoIterator<Item = PushOutcome>) {
        self.lock().push_script.extend(outcomes);
    }

    /// The anchors held, of one type.
    pub fn anchors(&self, t: ObjectType) -> Vec<Anchor> {
        self.lock().objects.keys().filter(|(ot, _)| *ot == t).map(|(_, a)| a.clone()).collect()
    }

    /// An attribute of a held object, as sent (`None`: absent or not held).
    pub fn attribute(&self, t: ObjectType, anchor: &str, name: &str) -> Option<AttrValue> {
        let i = self.lock();
        let held = i.objects.get(&(t, Anchor::from(anchor)))?;
        held.attributes.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }

    /// Someone changes an attribute in Entra, outside the sync.
    pub fn change_in_cloud(&self, t: ObjectType, anchor: &str, name: &str, value: AttrValue) {
        let mut i = self.lock();
        let held = i.objects.get_mut(&(t, Anchor::from(anchor))).expect("not held");
        held.attributes.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        held.attributes.push((name.to_owned(), value));
    }

    /// Someone deletes an object in Entra, outside the sync.
    pub fn delete_in_cloud(&self, t: ObjectType, anchor: &str) {
        let mut i = self.lock();
        i.objects.remove(&(t, Anchor::from(anchor)));
        i.passwords.remove(anchor);
    }

    /// How many credentials of `anchor` were acknowledged (`None`: none).
    pub fn password_pushes(&self, anchor: &str) -> Option<u32> {
        self.lock().passwords.get(anchor).copied()
    }

    fn write(&self, i: &mut Inner, lane: Lane, n: usize) -> Result<(), TenantError> {
        match lane {
            Lane::Urgent => i.calls.urgent_objects += n as u64,
            Lane::Bulk => i.calls.bulk_objects += n as u64,
        }
        if i.failing_writes > 0 {
            i.failing_writes -= 1;
            return Err(transient());
        }
        Ok(())
    }
}

impl Tenant for FakeTenant {
    async fn configuration(&self) -> Result<TenantConfig, TenantError> {
        let mut i = self.lock();
        i.calls.configuration += 1;
        Ok(i.config.clone())
    }

    async fn upsert(&self, objects: &[&ExportObject], lane: Lane) -> Result<Vec<ExportResult>, TenantError> {
        let mut i = self.lock();
        i.calls.upsert_calls += 1;
        self.write(&mut i, lane, objects.len())?;
        i.calls.upserted += objects.len() as u64;
        let mut results = Vec::new();
        for o in objects {
            if i.refused.contains(&o.anchor) {
                results.push(ExportResult {
                    anchor: o.anchor.clone(),
                    cloud_anchor: None,
                    warning: None,
                    error: Some(ObjectFault::Refused("InvalidSoftMatch: refused (scripted)".into())),
                });
                continue;
            }
            let key = (o.object_type, o.anchor.clone());
            let id = i.next_id;
            let cloud_anchor =
                i.objects.get(&key).map_or_else(|| format!("{:?}_{id}", o.object_type), |h| h.cloud_anchor.clone());
            i.next_id += 1;
            let mut attributes: Vec<(String, AttrValue)> =
                o.attributes.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            if let Some(m) = &o.members {
                attributes.push(("member".into(), AttrValue::StrList(m.iter().map(|a| a.to_string()).collect())));
            }
            i.objects.insert(key, Held { cloud_anchor: cloud_anchor.clone(), attributes });
            results.push(ExportResult {
                anchor: o.anchor.clone(),
                cloud_anchor: Some(cloud_anchor),
                warning: None,
                error: None,
            });
        }
        Ok(results)
    }

    async fn delete(&self, objects: &[(ObjectType, Anchor)], lane: Lane) -> Result<Vec<ExportResult>, TenantError> {
        let mut i = self.lock();
        i.calls.delete_calls += 1;
        self.write(&mut i, lane, objects.len())?;
        i.calls.deleted += objects.len() as u64;
        Ok(objects
            .iter()
            .map(|(t, a)| {
                if i.refused.contains(a) {
                    let error = ObjectFault::Refused("Updates are blocked for this object (scripted)".into());
                    return ExportResult { anchor: a.clone(), cloud_anchor: None, warning: None, error: Some(error) };
                }
                let gone = i.objects.remove(&(*t, a.clone())).is_none();
                ExportResult {
                    anchor: a.clone(),
                    cloud_anchor: None,
                    warning: None,
                    // As the emulator answers: `Failure`, and words the engine must not read.
                    error: gone.then(|| ObjectFault::Refused(format!("'{a}' does not exist in the tenant (scripted)"))),
                }
            })
            .collect())
    }

    async fn finalize_export(&self, total: u64, successful: u64) -> Result<(), TenantError> {
        let mut i = self.lock();
        i.calls.finalizes += 1;
        i.calls.last_finalize = (total, successful);
        Ok(())
    }

    async fn read_back(&self, visit: &mut (dyn FnMut(CloudObject) + Send)) -> Result<(), TenantError> {
        let objects: Vec<CloudObject> = {
            let mut i = self.lock();
            i.calls.read_backs += 1;
            if i.failing_read_backs > 0 {
                i.failing_read_backs -= 1;
                return Err(transient());
            }
            i.objects
                .iter()
                .map(|((t, a), h)| CloudObject {
                    object_type: *t,
                    anchor: a.clone(),
                    cloud_anchor: Some(h.cloud_anchor.clone()),
                    attributes: h.attributes.iter().filter(|(_, v)| *v != AttrValue::Null).cloned().collect(),
                })
                .collect()
        };
        for o in objects {
            visit(o);
        }
        Ok(())
    }
}

impl CredentialPusher for FakeTenant {
    async fn push(&self, push: CredentialPush) -> PushOutcome {
        let in_flight = self.lock().while_pushing.clone();
        if let Some(f) = in_flight {
            f();
        }
        let mut i = self.lock();
        i.calls.pushes += 1;
        match push.backfill {
            true => i.calls.bulk_objects += 1,
            false => i.calls.urgent_objects += 1,
        }
        if let Some(o) = i.push_script.pop_front() {
            return o;
        }
        if !i.objects.contains_key(&(ObjectType::User, push.anchor.clone())) {
            return PushOutcome::UnknownObject;
        }
        *i.passwords.entry(push.anchor.clone()).or_default() += 1;
        PushOutcome::Acknowledged
    }
}
