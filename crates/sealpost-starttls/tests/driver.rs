//! The shared session loop with a stand-in session: the STARTTLS hand-off passes the
//! unread octets to the upgrade (which refuses them), and the read deadline is for a
//! whole step except inside data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sealpost_codec::{Session, SessionPhase};
use sealpost_starttls::driver::{DriveError, SessionDriver, Wake};
use sealpost_starttls::{CertStore, CertificateFiles, ClientAuth, MaybeTls, TlsError, TlsServer};
use tokio::io::{AsyncWriteExt, DuplexStream};

/// A session that never reports anything: it only counts what it is given.
#[derive(Default)]
struct Stub {
    phase: Option<SessionPhase>,
    unread: usize,
    established: bool,
}

impl Session for Stub {
    type Event = ();

    fn handle_input(&mut self, bytes: &[u8]) {
        self.unread += bytes.len();
    }

    fn handle_eof(&mut self) {
        self.phase = Some(SessionPhase::Closed);
    }

    fn poll_event(&mut self) -> Option<()> {
        None
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        None
    }

    fn is_closed(&self) -> bool {
        self.phase == Some(SessionPhase::Closed)
    }

    fn phase(&self) -> SessionPhase {
        self.phase.unwrap_or(SessionPhase::Command)
    }

    fn is_awaiting_tls(&self) -> bool {
        self.phase == Some(SessionPhase::TlsHandshake)
    }

    fn buffered(&self) -> usize {
        self.unread
    }

    fn is_tls(&self) -> bool {
        self.established
    }

    fn tls_established(&mut self) {
        self.established = true;
    }
}

type Driver = SessionDriver<Stub, DuplexStream, fn(SessionPhase) -> Duration>;

fn driver(stub: Stub) -> (Driver, DuplexStream) {
    let (near, far) = tokio::io::duplex(1024);
    let deadlines: fn(SessionPhase) -> Duration = |_| Duration::from_millis(100);
    (SessionDriver::new(stub, MaybeTls::Plain(near), deadlines), far)
}

/// The committed test PKI's server certificate (any certificate would do: the
/// handshake is refused before it starts).
fn tls_server() -> TlsServer {
    let pki = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki");
    let files = CertificateFiles::new(pki.join("server-chain.pem"), pki.join("server-key.pem"));
    let store = Arc::new(CertStore::load(files, vec![]).unwrap());
    TlsServer::new(store, ClientAuth::Off).unwrap()
}

#[tokio::test]
async fn octets_read_ahead_of_the_handshake_reach_the_upgrade_which_refuses_them() {
    let server = tls_server();
    let stub = Stub { phase: Some(SessionPhase::TlsHandshake), unread: 5, ..Stub::default() };
    let (mut driver, _far) = driver(stub);
    let result = driver.start_tls(|plain, buffered| server.upgrade(plain, buffered)).await;
    assert!(matches!(result, Ok(Err(TlsError::InjectedBytes(5)))), "{result:?}");
    assert!(!driver.session().is_tls(), "the session never hears of TLS");
    assert!(driver.stream().is_none(), "the connection is gone");
}

#[tokio::test]
async fn no_upgrade_unless_the_session_waits_for_one() {
    let server = tls_server();
    let (mut driver, _far) = driver(Stub::default());
    let result = driver.start_tls(|plain, buffered| server.upgrade(plain, buffered)).await;
    assert!(matches!(result, Err(DriveError::NoUpgradeDue)), "{result:?}");
    assert!(driver.stream().is_some());
}

/// Sends one octet every 30 ms for `total`, then keeps the stream open (returned).
async fn trickle(mut far: DuplexStream, total: Duration) -> DuplexStream {
    let start = tokio::time::Instant::now();
    while start.elapsed() < total {
        tokio::time::sleep(Duration::from_millis(30)).await;
        if far.write_all(b"x").await.is_err() {
            break;
        }
    }
    far
}

#[tokio::test(start_paused = true)]
async fn a_trickling_peer_cannot_stretch_a_command_deadline() {
    let (mut driver, far) = driver(Stub::default());
    let _peer = tokio::spawn(trickle(far, Duration::from_secs(10)));
    let start = tokio::time::Instant::now();
    let wake = driver.next_event().await.unwrap();
    assert!(matches!(wake, Wake::TimedOut(SessionPhase::Command)), "{wake:?}");
    assert!(start.elapsed() < Duration::from_millis(150), "{:?}", start.elapsed());
    assert!(driver.session().unread >= 3, "the octets were read meanwhile");
}

#[tokio::test(start_paused = true)]
async fn inside_data_every_read_renews_the_deadline() {
    let stub = Stub { phase: Some(SessionPhase::Data), ..Stub::default() };
    let (mut driver, far) = driver(stub);
    // The task's result keeps the stream open until the test ends.
    let _peer = tokio::spawn(trickle(far, Duration::from_secs(1)));
    let start = tokio::time::Instant::now();
    let wake = driver.next_event().await.unwrap();
    assert!(matches!(wake, Wake::TimedOut(SessionPhase::Data)), "{wake:?}");
    assert!(start.elapsed() >= Duration::from_secs(1), "{:?}", start.elapsed());
}
