//! The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2) in front of a
//! listener: a TCP load balancer starts each connection with a header that names the real
//! client, and the session then sees that client instead of the balancer.

mod header;

use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use ipnet::IpNet;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

pub(crate) use header::Header;
use header::{HeaderError, V2_MAX};

/// A listener that requires a PROXY protocol header (v1 or v2, told apart by their
/// signatures) at the start of every connection, before the greeting, and believes it only
/// from the load balancers in [`ProxyPolicy::trusted`].
///
/// The address in the header becomes the client's address everywhere:
/// [`SessionInfo::peer`](crate::SessionInfo::peer), relay decisions, the AUTH failure
/// limit, the per-address connection limit, logs and the Received header. The balancer's
/// own address stays in [`SessionInfo::proxy`](crate::SessionInfo::proxy).
///
/// A connection from an untrusted address, or one whose header is missing, malformed,
/// too long (v1: 107 bytes; v2: 4096 bytes with its TLVs) or not complete within
/// [`Timeouts::proxy_header`](crate::Timeouts::proxy_header), is closed without a greeting
/// and logged with the reason. The header is read exactly: the bytes after it stay for
/// the SMTP session (or, on an implicit-TLS listener, for the TLS handshake).
///
/// v1 `UNKNOWN`, v2 `LOCAL` (the balancer's health checks) and v2 headers for AF_UNSPEC
/// or AF_UNIX keep the TCP peer as the client, as the specification asks. v2 TLVs are
/// checked for their lengths and otherwise ignored: nothing in them is trusted.
///
/// ```
/// use std::net::SocketAddr;
/// use sealpost_server::{IpNet, ListenerConfig, ProxyPolicy, Role};
///
/// let balancers: Vec<IpNet> = vec!["10.0.0.0/24".parse()?, "2001:db8::/64".parse()?];
/// let policy = ProxyPolicy::new(balancers);
/// assert!(policy.trusts("10.0.0.7".parse()?));
/// assert!(!policy.trusts("192.0.2.1".parse()?));
///
/// let addr: SocketAddr = "0.0.0.0:25".parse()?;
/// let listener = ListenerConfig::new(addr, Role::Mx, None).with_proxy(policy);
/// assert!(listener.proxy.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyPolicy {
    /// The networks that may send the header: the load balancers. Never empty on a bound
    /// listener ([`BoundServer::bind`](crate::BoundServer::bind) refuses that), so no
    /// configuration trusts everyone by accident; `0.0.0.0/0` and `::/0` say it on
    /// purpose.
    pub trusted: Vec<IpNet>,
}

impl ProxyPolicy {
    /// A policy that trusts headers from `trusted`.
    pub fn new(trusted: impl IntoIterator<Item = IpNet>) -> Self {
        ProxyPolicy { trusted: trusted.into_iter().collect() }
    }

    /// True when a connection from `ip` may send the header. An IPv4 balancer that
    /// reaches a dual-stack socket appears as `::ffff:a.b.c.d`; it counts as `a.b.c.d`.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }
}

/// Why a connection on a PROXY protocol listener was closed before its greeting.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// The TCP peer is not a trusted balancer.
    #[error("{0} is not a trusted load balancer, and only those may connect here")]
    Untrusted(IpAddr),
    /// The header did not arrive in time.
    #[error("no complete PROXY header within {0:?}")]
    Timeout(Duration),
    /// The peer closed the connection inside the header.
    #[error("connection closed after {0} bytes of the PROXY header")]
    Closed(usize),
    /// What arrived is not a header.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// Reading failed.
    #[error("reading the PROXY header: {0}")]
    Io(#[from] io::Error),
}

impl ProxyError {
    /// True for a connection that closed before it sent a single byte: a TCP port check
    /// (a balancer's plain health check, a scanner), not a broken header. Worth a debug
    /// line, not a warning every few seconds.
    pub(crate) fn is_port_check(&self) -> bool {
        matches!(self, ProxyError::Closed(0))
    }
}

/// Checks the TCP peer against `policy` and reads the header, within `timeout`.
pub(crate) async fn accept(
    tcp: &mut TcpStream,
    peer: SocketAddr,
    policy: &ProxyPolicy,
    timeout: Duration,
) -> Result<Header, ProxyError> {
    if !policy.trusts(peer.ip()) {
        return Err(ProxyError::Untrusted(peer.ip()));
    }
    match tokio::time::timeout(timeout, read_header(tcp)).await {
        Ok(result) => result,
        Err(_) => Err(ProxyError::Timeout(timeout)),
    }
}

/// Reads exactly one header and nothing after it.
///
/// Each round peeks at what has arrived, lets the parser decide, and then consumes only
/// header bytes: all that was peeked while the header is still incomplete (every such byte
/// is part of it), or exactly up to its end. A v1 header has no length field, so reading
/// blindly would swallow whatever follows its CRLF; peeking costs one extra system call
/// per round instead of one read per byte.
async fn read_header(tcp: &mut TcpStream) -> Result<Header, ProxyError> {
    let mut header: Vec<u8> = Vec::with_capacity(header::V1_MAX);
    let mut peeked = vec![0u8; V2_MAX];
    loop {
        // The parser decides by V2_MAX at the latest, so there is always room.
        let room = V2_MAX.saturating_sub(header.len());
        let n = match tcp.peek(&mut peeked[..room]).await {
            Ok(n) => n,
            // A reset is a close too (port checks often end that way).
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                0
            }
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err(ProxyError::Closed(header.len()));
        }
        let before = header.len();
        header.extend_from_slice(&peeked[..n]);
        match header::parse(&header)? {
            Some((parsed, len)) => {
                tcp.read_exact(&mut peeked[..len.saturating_sub(before)]).await?;
                return Ok(parsed);
            }
            None => {
                tcp.read_exact(&mut peeked[..n]).await?;
            }
        }
    }
}
