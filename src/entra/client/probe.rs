//! The start-up compatibility probe: does the service still speak the protocol this client
//! knows? If not, the daemon stops in an "api-incompatible" state instead of sending half a
//! change set.

use super::{SyncClient, SyncError, TokenProvider};
use crate::entra::ops::{CompanyConfiguration, ServiceCapabilities};
use crate::entra::soap::Fault;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiCompatibility {
    Compatible {
        configuration: Box<CompanyConfiguration>,
        /// `None` when the service does not answer `Capabilities` (it is optional).
        capabilities: Option<ServiceCapabilities>,
    },
    Incompatible {
        reason: String,
    },
}

/// Why an error means incompatibility, or `None` if it does not.
fn incompatibility(error: &SyncError, build: &str) -> Option<String> {
    match error {
        SyncError::Fault(Fault::OutdatedClient { message }) => {
            Some(format!("the sync API no longer accepts client build {build}: {message}"))
        }
        SyncError::Fault(Fault::Deserialization { message }) => {
            Some(format!("the sync API cannot read this client's requests: {message}"))
        }
        SyncError::Fault(Fault::Other { code: Some(code), reason }) if code.contains("ActionNotSupported") => {
            Some(format!("the sync API no longer offers an operation this client uses: {reason}"))
        }
        SyncError::Response(e) if error.is_api_incompatible() => {
            Some(format!("the sync API's answer is not in the format this client knows: {e}"))
        }
        _ => None,
    }
}

impl<T: TokenProvider> SyncClient<T> {
    /// `GetCompanyConfiguration`, then `Capabilities`. Errors that say nothing about
    /// compatibility (network, throttling, access denied) are returned as errors.
    pub async fn probe(&self) -> Result<ApiCompatibility, SyncError> {
        let build = self.settings.identity.build_number.clone();
        let incompatible = |reason| Ok(ApiCompatibility::Incompatible { reason });
        let configuration = match self.get_company_configuration().await {
            Ok(configuration) => configuration,
            Err(e) => return incompatibility(&e, &build).map_or(Err(e), incompatible),
        };
        if configuration.dirsync_features.is_none()
            && configuration.tenant_id.is_none()
            && configuration.is_dir_syncing.is_none()
        {
            return incompatible("the GetCompanyConfiguration result has none of the members this client knows".into());
        }
        let capabilities = match self.capabilities().await {
            Ok(capabilities) if capabilities.blacklists(&build) => {
                return incompatible(format!("the sync API's capabilities black-list client build {build}"));
            }
            Ok(capabilities) => Some(capabilities),
            Err(e) => match incompatibility(&e, &build) {
                Some(reason) => return incompatible(reason),
                None if matches!(e, SyncError::Fault(_)) => {
                    tracing::info!("the sync API did not answer Capabilities ({e}); carrying on without them");
                    None
                }
                None => return Err(e),
            },
        };
        Ok(ApiCompatibility::Compatible { configuration: Box::new(configuration), capabilities })
    }
}
