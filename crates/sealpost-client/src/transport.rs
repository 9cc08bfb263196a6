//! What a connection runs over: TCP, or (for LMTP) a Unix-domain stream socket. One
//! stream type for both, so that one driver loop serves either.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

/// The address a connection was made to: an IP address and port, or the path of a
/// Unix-domain socket (LMTP to a local mailbox server).
///
/// Displayed as `127.0.0.1:24`, `[::1]:24` or `unix:/run/dovecot/lmtp`.
///
/// ```
/// use sealpost_client::ServerAddr;
///
/// let tcp = ServerAddr::from("[::1]:24".parse::<std::net::SocketAddr>().unwrap());
/// assert_eq!(tcp.to_string(), "[::1]:24");
/// assert_eq!(tcp.tcp().map(|a| a.port()), Some(24));
/// let unix = ServerAddr::Unix("/run/dovecot/lmtp".into());
/// assert_eq!(unix.to_string(), "unix:/run/dovecot/lmtp");
/// assert_eq!(unix.tcp(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerAddr {
    /// A TCP connection to this address.
    Tcp(SocketAddr),
    /// A Unix-domain stream socket at this path (never under TLS).
    Unix(PathBuf),
}

impl ServerAddr {
    /// The TCP address, `None` for a Unix-domain socket.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            ServerAddr::Tcp(addr) => Some(*addr),
            ServerAddr::Unix(_) => None,
        }
    }
}

impl From<SocketAddr> for ServerAddr {
    fn from(addr: SocketAddr) -> Self {
        ServerAddr::Tcp(addr)
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerAddr::Tcp(addr) => write!(f, "{addr}"),
            ServerAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Any stream a connection can run over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The open stream under the (possibly TLS) stream of a connection: TCP or Unix-domain,
/// behind one pointer (a call through a vtable per read or write costs nothing next to
/// the system call).
pub(crate) type Transport = Box<dyn Io>;

/// Connects to `addr`. A Unix-domain socket on a platform without them is an error of
/// kind `Unsupported`.
pub(crate) async fn connect(addr: &ServerAddr) -> io::Result<Transport> {
    match addr {
        ServerAddr::Tcp(addr) => {
            let tcp = TcpStream::connect(addr).await?;
            // Commands are small and pipelined in one write; do not let Nagle hold them.
            let _ = tcp.set_nodelay(true);
            Ok(Box::new(tcp))
        }
        #[cfg(unix)]
        ServerAddr::Unix(path) => Ok(Box::new(UnixStream::connect(path).await?)),
        #[cfg(not(unix))]
        ServerAddr::Unix(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Unix-domain sockets are not available on this platform",
        )),
    }
}
