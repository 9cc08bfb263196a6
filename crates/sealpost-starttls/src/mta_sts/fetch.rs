//! Fetching the policy file over HTTPS (RFC 8461 section 3.3).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::policy::{PolicyError, StsPolicy};
use crate::Cause;
use crate::tlsrpt::ResultType;

/// The largest policy body accepted. RFC 8461 section 3.3 lets senders limit the size of
/// the policy; 64 KiB is far more than any real policy needs.
pub const DEFAULT_MAX_POLICY_SIZE: usize = 64 * 1024;

/// How long a fetch may take in total (connect, TLS, request, body). RFC 8461 section 3.3
/// suggests a timeout of about a minute; a queue runner can afford less.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a policy could not be fetched, each with its TLS-RPT result type
/// ([`result_type`](Self::result_type)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The policy host's name did not resolve, or the connection failed.
    #[error("cannot connect to {host}: {reason}")]
    Connect {
        /// The policy host.
        host: String,
        /// Why.
        reason: String,
        /// The resolver's or the operating system's error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// The policy host's certificate did not validate (web PKI, for the name
    /// `mta-sts.<domain>`).
    #[error("the certificate of {host} is not valid: {reason}")]
    Certificate {
        /// The policy host.
        host: String,
        /// Why.
        reason: String,
        /// Rustls's verdict on the certificate, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// The TLS handshake failed for another reason.
    #[error("TLS with {host} failed: {reason}")]
    Tls {
        /// The policy host.
        host: String,
        /// Why.
        reason: String,
        /// The TLS error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// The server answered with a redirect, which section 3.3 forbids following.
    #[error("the policy URL redirects (HTTP {status}) to {location:?}; redirects are not followed")]
    Redirect {
        /// The status code.
        status: u16,
        /// The `Location` header, if any.
        location: Option<String>,
    },
    /// The server answered with a status other than 200.
    #[error("the policy URL answered HTTP {0}")]
    Status(u16),
    /// The `Content-Type` is not `text/plain`.
    #[error("the policy has content type {0:?}, not text/plain")]
    ContentType(Option<String>),
    /// The body is larger than the limit.
    #[error("the policy is larger than {0} bytes")]
    TooLarge(usize),
    /// The fetch did not finish in time.
    #[error("fetching the policy timed out after {0:?}")]
    Timeout(Duration),
    /// The HTTP exchange failed.
    #[error("HTTP error: {0}")]
    Http(#[source] Cause),
    /// The body is not a valid policy.
    #[error("invalid policy: {0}")]
    Invalid(#[from] PolicyError),
}

impl FetchError {
    /// The TLS-RPT result type of this failure: `sts-webpki-invalid` for certificate
    /// failures, `sts-policy-invalid` for a body that does not parse, and
    /// `sts-policy-fetch-error` for everything else.
    ///
    /// ```
    /// use sealpost_starttls::mta_sts::FetchError;
    /// use sealpost_starttls::tlsrpt::ResultType;
    ///
    /// assert_eq!(FetchError::Status(404).result_type(), ResultType::StsPolicyFetchError);
    /// ```
    pub fn result_type(&self) -> ResultType {
        match self {
            FetchError::Certificate { .. } => ResultType::StsWebpkiInvalid,
            FetchError::Invalid(_) => ResultType::StsPolicyInvalid,
            _ => ResultType::StsPolicyFetchError,
        }
    }
}

/// A boxed future returned by [`PolicyFetcher::fetch`].
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<StsPolicy, FetchError>> + Send + 'a>>;

/// Gets and parses the MTA-STS policy of a domain.
pub trait PolicyFetcher: Send + Sync {
    /// Fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt` and parses it.
    fn fetch<'a>(&'a self, domain: &'a str) -> FetchFuture<'a>;
}

/// The policy URL of a domain.
///
/// ```
/// assert_eq!(
///     sealpost_starttls::mta_sts::policy_url("Example.com."),
///     "https://mta-sts.example.com/.well-known/mta-sts.txt"
/// );
/// ```
pub fn policy_url(domain: &str) -> String {
    format!("https://{}/.well-known/mta-sts.txt", policy_host(domain))
}

fn policy_host(domain: &str) -> String {
    format!("mta-sts.{}", crate::dns::normalize(domain))
}

/// A [`PolicyFetcher`] over hyper (HTTP/1.1) and tokio-rustls: web PKI validation against
/// the given roots, no redirects, `text/plain` only, a size limit and a timeout.
///
/// ```
/// use sealpost_starttls::mta_sts::HttpsPolicyFetcher;
/// use sealpost_starttls::rustls::RootCertStore;
///
/// let fetcher = HttpsPolicyFetcher::new(RootCertStore::empty())
///     .with_timeout(std::time::Duration::from_secs(10))
///     .with_max_size(16 * 1024);
/// # let _ = fetcher;
/// ```
#[derive(Clone)]
pub struct HttpsPolicyFetcher {
    tls: TlsConnector,
    timeout: Duration,
    max_size: usize,
    addresses: HashMap<String, SocketAddr>,
    resolver: Option<Arc<dyn crate::dns::DnsResolver>>,
}

impl std::fmt::Debug for HttpsPolicyFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsPolicyFetcher")
            .field("timeout", &self.timeout)
            .field("max_size", &self.max_size)
            .field("addresses", &self.addresses)
            .field("resolver", &self.resolver.is_some())
            .finish_non_exhaustive()
    }
}

impl HttpsPolicyFetcher {
    /// A fetcher trusting `roots` (for real use, the system's web PKI roots, e.g. read
    /// with [`read_chain`](crate::read_chain) from the system bundle).
    pub fn new(roots: RootCertStore) -> HttpsPolicyFetcher {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = match ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
            // The ring provider supports the default versions; fall back to rustls's own
            // defaults rather than fail if that ever changes.
            Err(_) => ClientConfig::builder()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        HttpsPolicyFetcher {
            tls: TlsConnector::from(Arc::new(config)),
            timeout: DEFAULT_FETCH_TIMEOUT,
            max_size: DEFAULT_MAX_POLICY_SIZE,
            addresses: HashMap::new(),
            resolver: None,
        }
    }

    /// A fetcher trusting the Mozilla root program (webpki-roots), the web PKI that
    /// MTA-STS policy hosts are certified under. Needs the `webpki-roots` feature
    /// (otherwise give the roots to [`HttpsPolicyFetcher::new`]).
    ///
    /// ```
    /// let fetcher = sealpost_starttls::mta_sts::HttpsPolicyFetcher::with_mozilla_roots();
    /// # let _ = fetcher;
    /// ```
    #[cfg(feature = "webpki-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "webpki-roots")))]
    pub fn with_mozilla_roots() -> HttpsPolicyFetcher {
        HttpsPolicyFetcher::new(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
    }

    /// Sets the total time limit of a fetch.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the largest body accepted.
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// Connects to `address` for the policy host of `domain` instead of resolving
    /// `mta-sts.<domain>` (the certificate must still be valid for that name). For tests
    /// and for pinned policy hosts.
    pub fn with_address(mut self, domain: &str, address: SocketAddr) -> Self {
        self.addresses.insert(policy_host(domain), address);
        self
    }

    /// Resolves the policy host through `resolver` (the one the delivery uses for MX and
    /// TXT records) instead of the system's resolver.
    pub fn with_resolver(mut self, resolver: Arc<dyn crate::dns::DnsResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// The addresses of the policy host, port 443.
    async fn addresses_of(&self, host: &str) -> Result<Vec<SocketAddr>, Cause> {
        if let Some(addr) = self.addresses.get(host) {
            return Ok(vec![*addr]);
        }
        let Some(resolver) = &self.resolver else {
            return Ok(tokio::net::lookup_host((host, 443)).await.map_err(Cause::new)?.collect());
        };
        let answer = resolver.ip(host).await.map_err(Cause::new)?;
        // The policy is authenticated by web PKI, not DNSSEC: any answer will do.
        Ok(answer.records().iter().map(|ip| SocketAddr::new(*ip, 443)).collect())
    }

    async fn fetch_inner(&self, domain: &str) -> Result<StsPolicy, FetchError> {
        let host = policy_host(domain);
        let connect_err = |source: Option<Cause>| FetchError::Connect {
            host: host.clone(),
            reason: source
                .as_ref()
                .map_or_else(|| "the name has no address".into(), |e| e.to_string()),
            source,
        };
        let server_name =
            ServerName::try_from(host.clone()).map_err(|e| connect_err(Some(Cause::new(e))))?;
        let addresses = self.addresses_of(&host).await.map_err(|e| connect_err(Some(e)))?;
        if addresses.is_empty() {
            return Err(connect_err(None));
        }
        let tcp = TcpStream::connect(&addresses[..])
            .await
            .map_err(|e| connect_err(Some(Cause::new(e))))?;
        let tls = self.tls.connect(server_name, tcp).await.map_err(|e| tls_error(&host, e))?;

        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| FetchError::Http(Cause::new(e)))?;
        let driver = tokio::spawn(connection);
        let result = self.exchange(&mut sender, &host).await;
        drop(sender);
        driver.abort();
        result
    }

    async fn exchange(
        &self,
        sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
        host: &str,
    ) -> Result<StsPolicy, FetchError> {
        let request = http::Request::get("/.well-known/mta-sts.txt")
            .header(HOST, host)
            .header(USER_AGENT, concat!("sealpost/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::Http(Cause::new(e)))?;
        let response =
            sender.send_request(request).await.map_err(|e| FetchError::Http(Cause::new(e)))?;
        let status = response.status();
        if status.is_redirection() {
            let location = header_text(response.headers().get(LOCATION));
            return Err(FetchError::Redirect { status: status.as_u16(), location });
        }
        if status != http::StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        let content_type = header_text(response.headers().get(CONTENT_TYPE));
        if !is_text_plain(content_type.as_deref()) {
            return Err(FetchError::ContentType(content_type));
        }
        let declared =
            header_text(response.headers().get(CONTENT_LENGTH)).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_size as u64) {
            return Err(FetchError::TooLarge(self.max_size));
        }
        let body = Limited::new(response.into_body(), self.max_size)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge(self.max_size)
                } else {
                    FetchError::Http(Cause::from_boxed(e))
                }
            })?
            .to_bytes();
        Ok(StsPolicy::parse(&body)?)
    }
}

impl PolicyFetcher for HttpsPolicyFetcher {
    fn fetch<'a>(&'a self, domain: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, self.fetch_inner(domain)).await {
                Ok(result) => result,
                Err(_) => Err(FetchError::Timeout(self.timeout)),
            }
        })
    }
}

fn header_text(value: Option<&http::HeaderValue>) -> Option<String> {
    value.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// `text/plain`, any parameters (RFC 8461 section 3.3 only names the media type).
fn is_text_plain(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        let media = ct.split(';').next().unwrap_or("").trim();
        media.eq_ignore_ascii_case("text/plain")
    })
}

/// Sorts a failed TLS connect into certificate failures and the rest.
fn tls_error(host: &str, error: io::Error) -> FetchError {
    let rustls_error = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(
            e @ (rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented),
        ) => FetchError::Certificate {
            host: host.to_owned(),
            reason: e.to_string(),
            source: Some(Cause::new(e.clone())),
        },
        _ => FetchError::Tls {
            host: host.to_owned(),
            reason: error.to_string(),
            source: Some(Cause::new(error)),
        },
    }
}
