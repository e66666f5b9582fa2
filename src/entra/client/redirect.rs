//! `BindingRedirectionFault` targets: like AADInternals, take the host of the fault's
//! `Url` and call `https://{host}/provisioningservice.svc` there; `a:To` follows the new host.

use reqwest::Url;

use super::error::SyncError;
use super::settings::RedirectPolicy;
use crate::entra::soap::SERVICE_PATH;

/// Where calls go now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// The URL requests are posted to.
    pub url: String,
    /// `a:To`.
    pub to: String,
}

/// The service URL on the host a redirect names, if the policy allows following it.
pub(crate) fn redirect_target(
    fault_url: &str,
    current: &str,
    configured: &str,
    policy: &RedirectPolicy,
) -> Result<String, SyncError> {
    let refused = |reason| SyncError::RedirectRefused { url: fault_url.to_owned(), reason };
    let current = Url::parse(current).map_err(|_| refused("the current endpoint is not a URL"))?;
    // AADInternals only needs the host; a bare host name is taken on the current scheme.
    let target = if fault_url.contains("://") {
        Url::parse(fault_url)
    } else {
        Url::parse(&format!("{}://{}", current.scheme(), fault_url.trim_matches('/')))
    }
    .map_err(|_| refused("it is not a URL"))?;
    if target.scheme() != current.scheme() {
        return Err(refused("it changes the URL scheme"));
    }
    let host = target.host_str().ok_or_else(|| refused("it names no host"))?.to_ascii_lowercase();
    let configured_host = Url::parse(configured).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let allowed = Some(host.as_str()) == current.host_str().map(str::to_ascii_lowercase).as_deref()
        || Some(&host) == configured_host.as_ref()
        || policy.allowed_host_suffixes.iter().any(|suffix| {
            let suffix = suffix.trim_start_matches('.').to_ascii_lowercase();
            host == suffix || host.ends_with(&format!(".{suffix}"))
        });
    if !allowed {
        return Err(refused("the host is not the endpoint's and not in the allowed redirect hosts"));
    }
    if target.scheme() != "https" && !crate::config::is_loopback_url(target.as_str()) {
        return Err(refused("plain http goes only to a loopback address"));
    }
    let port = target.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(format!("{}://{host}{port}{SERVICE_PATH}", target.scheme()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = "https://adminwebservice.microsoftonline.com/provisioningservice.svc";

    fn target(url: &str, current: &str) -> Result<String, SyncError> {
        redirect_target(url, current, REAL, &RedirectPolicy::default())
    }

    #[test]
    fn follows_service_hosts_only() {
        assert_eq!(
            target("https://adminwebservice-s1-co2.microsoftonline.com/provisioningservice.svc", REAL).expect("ok"),
            "https://adminwebservice-s1-co2.microsoftonline.com/provisioningservice.svc"
        );
        // Only the host of the fault's URL counts.
        assert_eq!(
            target("https://x.microsoftonline.com/elsewhere?q=1", REAL).expect("ok"),
            "https://x.microsoftonline.com/provisioningservice.svc"
        );
        assert_eq!(
            target("x.microsoftonline.com", REAL).expect("ok"),
            "https://x.microsoftonline.com/provisioningservice.svc"
        );
        assert!(matches!(
            target("https://evil.example/provisioningservice.svc", REAL),
            Err(SyncError::RedirectRefused { .. })
        ));
        assert!(matches!(target("https://evilmicrosoftonline.com/", REAL), Err(SyncError::RedirectRefused { .. })));
        assert!(matches!(target("http://x.microsoftonline.com/", REAL), Err(SyncError::RedirectRefused { .. })));
        assert!(matches!(target("https://", REAL), Err(SyncError::RedirectRefused { .. })));
    }

    #[test]
    fn a_local_endpoint_may_move_to_another_port() {
        let here = "http://127.0.0.1:8080/provisioningservice.svc";
        assert_eq!(
            target("http://127.0.0.1:9090/provisioningservice.svc", here).expect("ok"),
            "http://127.0.0.1:9090/provisioningservice.svc"
        );
        assert!(matches!(target("http://10.0.0.1:9090/", here), Err(SyncError::RedirectRefused { .. })));
        // A loopback endpoint may not send the client to a service host in cleartext.
        assert!(matches!(
            target("http://x.microsoftonline.com/provisioningservice.svc", here),
            Err(SyncError::RedirectRefused { .. })
        ));
    }
}
