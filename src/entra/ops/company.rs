//! Tenant-level operations: `GetCompanyConfiguration`, `SetCompanyDirsyncFeatures` and
//! `FinalizeExport`.

use std::time::Duration;

use super::{Operation, bool_text, member, member_bool, member_number, member_token, operation_element};
use crate::entra::nbfx::{Element, ElementRef};
use crate::entra::soap::{ResponseError, is_nil};
use crate::entra::timefmt::parse_xs_duration;

/// Bits of the `DirSyncFeatures` mask.
pub mod features {
    pub const PASSWORD_HASH_SYNC: u32 = 1;
    pub const PASSWORD_WRITEBACK: u32 = 2;
    pub const DIRECTORY_EXTENSIONS: u32 = 4;
    pub const DUPLICATE_UPN_RESILIENCY: u32 = 8;
    pub const ENABLE_SOFT_MATCH_ON_UPN: u32 = 16;
    pub const DUPLICATE_PROXY_ADDRESS_RESILIENCY: u32 = 32;
    pub const ENFORCE_CLOUD_PASSWORD_POLICY_FOR_PASSWORD_SYNCED_USERS: u32 = 512;
    pub const UNIFIED_GROUP_WRITEBACK: u32 = 1024;
    pub const USER_WRITEBACK: u32 = 2048;
    pub const DEVICE_WRITEBACK: u32 = 4096;
    pub const SYNCHRONIZE_UPN_FOR_MANAGED_USERS: u32 = 8192;
    pub const ENABLE_USER_FORCE_PASSWORD_CHANGE_ON_LOGON: u32 = 16384;
    pub const PASS_THROUGH_AUTHENTICATION: u32 = 131_072;
    pub const BLOCK_SOFT_MATCH: u32 = 524_288;
    pub const BLOCK_CLOUD_OBJECT_TAKEOVER_THROUGH_HARD_MATCH: u32 = 1_048_576;

    /// `mask` with `bit` set or cleared, the way the ports do it (the mask stays a positive
    /// 31-bit value).
    pub fn with(mask: u32, bit: u32, enabled: bool) -> u32 {
        if enabled { mask | bit } else { mask & (0x7FFF_FFFF ^ bit) }
    }
}

/// Reads the tenant's sync configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetCompanyConfiguration {
    pub include_license_information: bool,
}

/// `Writeback` containers (nil on most tenants).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Writeback {
    pub user_container: Option<String>,
    pub unified_group_container: Option<String>,
}

/// The members of `GetCompanyConfigurationResult` the client uses. Missing members are `None`
/// (the real result may differ from what the open-source ports read); unknown ones are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompanyConfiguration {
    pub dirsync_features: Option<u32>,
    pub is_password_syncing: Option<bool>,
    pub is_dir_syncing: Option<bool>,
    pub anchor_attribute: Option<String>,
    pub application_version: Option<String>,
    pub client_version: Option<String>,
    pub tenant_id: Option<String>,
    pub display_name: Option<String>,
    /// `SynchronizationInterval` as sent (`PT30M`).
    pub synchronization_interval: Option<String>,
    pub max_links_supported_across_batch_in_provision2: Option<u32>,
    pub allowed_features: Vec<String>,
    pub writeback: Writeback,
}

impl CompanyConfiguration {
    /// Whether password hash sync is on: the feature bit, or `IsPasswordSyncing`.
    pub fn password_hash_sync_enabled(&self) -> bool {
        self.dirsync_features.is_some_and(|m| m & features::PASSWORD_HASH_SYNC != 0)
            || self.is_password_syncing == Some(true)
    }

    /// `SynchronizationInterval` as a duration, if it has a day/time form.
    pub fn interval(&self) -> Option<Duration> {
        self.synchronization_interval.as_deref().and_then(parse_xs_duration)
    }
}

impl Operation for GetCompanyConfiguration {
    type Output = CompanyConfiguration;

    fn name(&self) -> &'static str {
        "GetCompanyConfiguration"
    }

    fn body(&self) -> Element {
        operation_element(self.name())
            .child(Element::new("", "includeLicenseInformation").text(bool_text(self.include_license_information)))
    }

    fn parse(&self, result: Option<ElementRef<'_>>) -> Result<Self::Output, ResponseError> {
        let op = self.name();
        let result = result.ok_or_else(|| ResponseError::invalid(op, "the result is missing"))?;
        let dirsync = member(&result, "DirSyncConfiguration");
        // The open-source ports disagree on where Writeback lives: look in both places.
        let writeback = dirsync
            .as_ref()
            .and_then(|d| member(d, "Writeback").or_else(|| member(d, "WriteBack")))
            .or_else(|| member(&result, "Writeback").or_else(|| member(&result, "WriteBack")));
        let from_dirsync = |local: &str| dirsync.as_ref().and_then(|d| member_token(d, local));
        let features: Option<i64> = member_number(&result, "DirSyncFeatures", op)?;
        let dirsync_features = features
            .map(|f| {
                u32::try_from(f).map_err(|_| ResponseError::invalid(op, format!("DirSyncFeatures {f} is out of range")))
            })
            .transpose()?;
        Ok(CompanyConfiguration {
            dirsync_features,
            is_password_syncing: member_bool(&result, "IsPasswordSyncing", op)?,
            is_dir_syncing: member_bool(&result, "IsDirSyncing", op)?,
            anchor_attribute: from_dirsync("AnchorAttribute"),
            application_version: from_dirsync("ApplicationVersion"),
            client_version: from_dirsync("ClientVersion"),
            tenant_id: member_token(&result, "TenantId"),
            display_name: member_token(&result, "DisplayName"),
            synchronization_interval: member_token(&result, "SynchronizationInterval"),
            max_links_supported_across_batch_in_provision2: member_number(
                &result,
                "MaxLinksSupportedAcrossBatchInProvision2",
                op,
            )?,
            allowed_features: member(&result, "AllowedFeatures")
                .map(|list| list.children().filter(|c| !is_nil(c)).map(|c| c.text()).collect())
                .unwrap_or_default(),
            writeback: Writeback {
                user_container: writeback.as_ref().and_then(|w| member_token(w, "UserContainer")),
                unified_group_container: writeback.as_ref().and_then(|w| member_token(w, "UnifiedGroupContainer")),
            },
        })
    }
}

/// Writes the whole feature mask (read it first, change bits with [`features::with`]).
#[derive(Debug, Clone, Copy)]
pub struct SetCompanyDirsyncFeatures {
    pub features: u32,
}

impl Operation for SetCompanyDirsyncFeatures {
    type Output = ();

    fn name(&self) -> &'static str {
        "SetCompanyDirsyncFeatures"
    }

    fn body(&self) -> Element {
        operation_element(self.name()).child(Element::new("", "dirsyncFeatures").text(self.features.to_string()))
    }

    fn parse(&self, _result: Option<ElementRef<'_>>) -> Result<(), ResponseError> {
        // No open-source port reads this response; its presence is the success.
        Ok(())
    }
}

/// End-of-export bookkeeping; optional (the service works without it).
#[derive(Debug, Clone, Copy)]
pub struct FinalizeExport {
    pub total_exported: u64,
    pub successful_export_count: u64,
}

impl Operation for FinalizeExport {
    type Output = ();

    fn name(&self) -> &'static str {
        "FinalizeExport"
    }

    fn body(&self) -> Element {
        operation_element(self.name())
            .child(Element::new("", "totalExported").text(self.total_exported.to_string()))
            .child(Element::new("", "successfulExportCount").text(self.successful_export_count.to_string()))
    }

    fn parse(&self, _result: Option<ElementRef<'_>>) -> Result<(), ResponseError> {
        Ok(())
    }
}
