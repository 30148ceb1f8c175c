//! TLS on every gRPC link (issue 16, item 10): callers, nodes and validators dial routers, and
//! every daemon dials its chain node, across networks nobody controls. `https://` peers get TLS
//! (rustls, ring); `http://` is allowed only to loopback unless a config says
//! `allow_plaintext = true`; a router listening beyond loopback needs a certificate, or the same
//! explicit opt-out (behind a TLS-terminating proxy, say).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// How a daemon or the CLI dials its peers (`[tls]`, or `[chain.tls]` for the chain node).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientTls {
    /// PEM file of the certificate authorities trusted for `https://` peers; unset: the public
    /// web's roots (Mozilla's, built in).
    pub ca_file: Option<PathBuf>,
    /// The name the peer's certificate must carry, when it is not the url's host.
    pub domain: Option<String>,
    /// Dial `http://` peers that are not on loopback (only on a network you trust end to end).
    pub allow_plaintext: bool,
}

/// A server's certificate chain and key, PEM (`[tls]` in the router's config).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("bad url {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "{url} is plaintext to a host that is not loopback: use https:// (with [tls] ca_file for a private CA), or set allow_plaintext = true on a network you trust"
    )]
    PlaintextToRemote { url: String },
    #[error(
        "listening on {addr}, beyond loopback, without TLS: set [tls] cert_file and key_file, or allow_plaintext = true behind a TLS proxy"
    )]
    PlaintextListen { addr: SocketAddr },
    #[error("cannot read the {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("TLS setup for {what}: {reason}")]
    Setup { what: String, reason: String },
}

/// An endpoint for `url` as `tls` says: TLS for `https://`, plaintext `http://` only to loopback
/// or where allowed. Check every configured url with it at start-up, so a bad one stops the
/// daemon with one line instead of a reconnect loop.
pub fn endpoint(url: &str, tls: &ClientTls) -> Result<Endpoint, TlsError> {
    let bad = |reason: String| TlsError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let endpoint = Endpoint::from_shared(url.to_string()).map_err(|e| bad(e.to_string()))?;
    let uri = endpoint.uri();
    let host = uri.host().ok_or_else(|| bad("no host".into()))?;
    match uri.scheme_str() {
        Some("https") => {
            let mut cfg = ClientTlsConfig::new();
            cfg = match &tls.ca_file {
                Some(path) => cfg.ca_certificate(Certificate::from_pem(read("CA file", path)?)),
                None => cfg.with_webpki_roots(),
            };
            if let Some(domain) = &tls.domain {
                cfg = cfg.domain_name(domain.clone());
            }
            endpoint.tls_config(cfg).map_err(|e| TlsError::Setup {
                what: url.to_string(),
                reason: e.to_string(),
            })
        }
        Some("http") if tls.allow_plaintext || is_loopback(host) => Ok(endpoint),
        Some("http") => Err(TlsError::PlaintextToRemote {
            url: url.to_string(),
        }),
        other => Err(bad(format!(
            "scheme {other:?}: use https:// (or http:// to loopback)"
        ))),
    }
}

/// The server TLS for a listener at `listen`: `tls` when set; none on loopback, or beyond it
/// only when `allow_plaintext`.
pub fn server_config(
    listen: SocketAddr,
    tls: Option<&ServerTls>,
    allow_plaintext: bool,
) -> Result<Option<ServerTlsConfig>, TlsError> {
    match tls {
        Some(t) => {
            let identity = Identity::from_pem(
                read("certificate file", &t.cert_file)?,
                read("key file", &t.key_file)?,
            );
            Ok(Some(ServerTlsConfig::new().identity(identity)))
        }
        None if allow_plaintext || listen.ip().is_loopback() => Ok(None),
        None => Err(TlsError::PlaintextListen { addr: listen }),
    }
}

/// `localhost` or a loopback address (`uri.host()` keeps IPv6 brackets).
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_goes_only_to_loopback_unless_allowed() {
        let none = ClientTls::default();
        for url in [
            "http://127.0.0.1:7600",
            "http://127.8.9.10:7600",
            "http://localhost:7600",
            "http://[::1]:7600",
        ] {
            assert!(endpoint(url, &none).is_ok(), "{url}");
        }
        for url in [
            "http://10.0.0.5:7600",
            "http://router.example:7600",
            "http://localhost.evil.example:7600",
            "http://[2001:db8::1]:7600",
        ] {
            let err = endpoint(url, &none).unwrap_err();
            assert!(matches!(err, TlsError::PlaintextToRemote { .. }), "{url}");
            assert!(err.to_string().contains("allow_plaintext"), "{err}");
        }
        let allowed = ClientTls {
            allow_plaintext: true,
            ..ClientTls::default()
        };
        assert!(endpoint("http://10.0.0.5:7600", &allowed).is_ok());
    }

    #[test]
    fn https_and_bad_urls() {
        assert!(endpoint("https://router.example:443", &ClientTls::default()).is_ok());
        let missing = ClientTls {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..ClientTls::default()
        };
        let err = endpoint("https://router.example", &missing).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        for url in ["ftp://router.example", "not a url", "http://"] {
            assert!(
                matches!(
                    endpoint(url, &ClientTls::default()),
                    Err(TlsError::BadUrl { .. })
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn a_listener_beyond_loopback_needs_tls_or_an_explicit_opt_out() {
        let public: SocketAddr = "0.0.0.0:7600".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:7600".parse().unwrap();
        assert!(server_config(local, None, false).unwrap().is_none());
        let err = server_config(public, None, false).unwrap_err();
        assert!(err.to_string().contains("cert_file"), "{err}");
        assert!(server_config(public, None, true).unwrap().is_none());
        let missing = ServerTls {
            cert_file: "/nonexistent/cert.pem".into(),
            key_file: "/nonexistent/key.pem".into(),
        };
        let err = server_config(public, Some(&missing), false).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }
}
