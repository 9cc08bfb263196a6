//! PROXY protocol listeners over real loopback sockets: v1 and v2 headers as a load
//! balancer (HAProxy `send-proxy`, `send-proxy-v2`) sends them, the client address they
//! carry reaching the session, and every way a connection is closed before the greeting.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::{Client, MESSAGE, Running, settings, start_with};
use sealpost_server::{IpNet, ProxyPolicy, Role, ServerSettings};
use tokio::io::AsyncWriteExt;

const LOOPBACK_TRUSTED: &str = "127.0.0.0/8";

fn policy(trusted: &str) -> ProxyPolicy {
    ProxyPolicy::new([trusted.parse::<IpNet>().unwrap()])
}

/// Every listener requires a header from `trusted`; headers are awaited for one second.
async fn server_trusting(trusted: &str, mut settings: ServerSettings) -> Running {
    settings.timeouts.proxy_header = Duration::from_secs(1);
    let policy = policy(trusted);
    start_with(settings, move |listener| listener.with_proxy(policy.clone())).await
}

async fn server() -> Running {
    server_trusting(LOOPBACK_TRUSTED, settings()).await
}

const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// A v2 header: version/command byte, family/protocol byte, then the block.
fn v2(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.extend_from_slice(&[command, family]);
    out.extend_from_slice(&u16::try_from(block.len()).unwrap().to_be_bytes());
    out.extend_from_slice(block);
    out
}

/// TLVs as HAProxy 2.6 may send them with send-proxy-v2 and proxy-v2-options: a unique
/// id, SSL details with a version sub-TLV, a network namespace, NOOP padding.
const TLVS: &[u8] = &[
    0x05, 0, 4, b'u', b'i', b'd', b'1', // PP2_TYPE_UNIQUE_ID
    0x20, 0, 12, 0x01, 0, 0, 0, 0, 0x21, 0, 4, b'T', b'L', b'S', b'3', // PP2_TYPE_SSL
    0x30, 0, 2, b'n', b's', // PP2_TYPE_NETNS
    0x04, 0, 5, 0, 0, 0, 0, 0, // PP2_TYPE_NOOP
];

/// PROXY over AF_INET/STREAM from 192.0.2.1:50000 to 198.51.100.7:25, with `tlvs`.
fn v2_ipv4(tlvs: &[u8]) -> Vec<u8> {
    let mut block = vec![192, 0, 2, 1, 198, 51, 100, 7, 0xc3, 0x50, 0, 25];
    block.extend_from_slice(tlvs);
    v2(0x21, 0x11, &block)
}

/// PROXY over AF_INET6/STREAM from [2001:db8::1]:50000 to [2001:db8::25]:25, with `tlvs`.
fn v2_ipv6(tlvs: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    block.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
    block.extend_from_slice(&"2001:db8::25".parse::<Ipv6Addr>().unwrap().octets());
    block.extend_from_slice(&[0xc3, 0x50, 0, 25]);
    block.extend_from_slice(tlvs);
    v2(0x21, 0x21, &block)
}

const V1_TCP4: &[u8] = b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25\r\n";
const V1_TCP6: &[u8] = b"PROXY TCP6 2001:db8::1 2001:db8::25 50000 25\r\n";

/// The usual header of each version: v1 TCP4, v2 IPv4 with TLVs; the same client.
fn v1_and_v2() -> [Vec<u8>; 2] {
    [V1_TCP4.to_vec(), v2_ipv4(TLVS)]
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// Greeting, EHLO, one message to a local recipient; the stored message.
async fn deliver(c: &mut Client, server: &Running) -> String {
    c.expect(220).await;
    c.send(b"EHLO client.test\r\n").await;
    c.expect(250).await;
    c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<b@mail.test>\r\nDATA\r\n").await;
    c.expect(250).await;
    c.expect(250).await;
    c.expect(354).await;
    c.send(MESSAGE).await;
    c.expect(250).await;
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    let stored = server.stored.lock().unwrap().clone();
    String::from_utf8(stored.last().unwrap().content.clone()).unwrap()
}

/// The client and balancer addresses the handler saw in its last session.
fn last_session(server: &Running) -> (SocketAddr, Option<SocketAddr>) {
    let info = server.sessions.lock().unwrap().last().cloned().unwrap();
    (info.peer, info.proxy)
}

/// Waits for the summary of the session with client `peer` and gives its log line.
async fn summary_of(server: &Running, peer: SocketAddr) -> String {
    for _ in 0..200 {
        let summaries = server.summaries.lock().unwrap().clone();
        if let Some(summary) = summaries.iter().find(|s| s.peer == peer) {
            return summary.to_string();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no summary for {peer}");
}

async fn closed_without_greeting(c: &mut Client) {
    assert!(c.reply().await.is_none(), "expected no reply at all");
    assert!(c.input.is_empty(), "the server sent {:?}", String::from_utf8_lossy(&c.input));
}

fn loopback(proxy: Option<SocketAddr>) -> bool {
    proxy.is_some_and(|p| p.ip() == IpAddr::from([127, 0, 0, 1]))
}

#[tokio::test]
async fn v1_tcp4_client_is_the_session_peer_everywhere() {
    let server = server().await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.send(V1_TCP4).await;
    let content = deliver(&mut c, &server).await;
    assert!(content.starts_with("Received: from client.test ([192.0.2.1])\r\n"), "{content}");
    let (peer, proxy) = last_session(&server);
    assert_eq!(peer, addr("192.0.2.1:50000"));
    assert!(loopback(proxy), "{proxy:?}");
    let line = summary_of(&server, peer).await;
    assert!(line.contains("peer=192.0.2.1:50000 proxy=127.0.0.1:"), "{line}");
    server.stop().await;
}

#[tokio::test]
async fn v1_tcp6_client_is_the_session_peer() {
    let server = server().await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.send(V1_TCP6).await;
    let content = deliver(&mut c, &server).await;
    assert!(
        content.starts_with("Received: from client.test ([IPv6:2001:db8::1])\r\n"),
        "{content}"
    );
    let (peer, proxy) = last_session(&server);
    assert_eq!(peer, addr("[2001:db8::1]:50000"));
    assert!(loopback(proxy));
    server.stop().await;
}

#[tokio::test]
async fn v1_unknown_keeps_the_tcp_peer() {
    let server = server().await;
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.send(b"PROXY UNKNOWN\r\n").await;
    let content = deliver(&mut c, &server).await;
    assert!(content.starts_with("Received: from client.test ([127.0.0.1])\r\n"), "{content}");
    let (peer, proxy) = last_session(&server);
    assert_eq!((peer.ip(), proxy), (IpAddr::from([127, 0, 0, 1]), None));
    server.stop().await;
}

#[tokio::test]
async fn v2_ipv4_and_ipv6_with_tlvs() {
    let server = server().await;
    for (header, client, received) in [
        (v2_ipv4(TLVS), "192.0.2.1:50000", "[192.0.2.1]"),
        (v2_ipv6(TLVS), "[2001:db8::1]:50000", "[IPv6:2001:db8::1]"),
        (v2_ipv4(&[]), "192.0.2.1:50000", "[192.0.2.1]"),
    ] {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        c.send(&header).await;
        let content = deliver(&mut c, &server).await;
        assert!(content.starts_with(&format!("Received: from client.test ({received})")));
        let (peer, proxy) = last_session(&server);
        assert_eq!(peer, addr(client));
        assert!(loopback(proxy));
    }
    server.stop().await;
}

#[tokio::test]
async fn v2_local_and_unspecified_families_keep_the_tcp_peer() {
    let server = server().await;
    for header in [v2(0x20, 0x00, &[]), v2(0x20, 0x11, &v2_ipv4(&[])[16..]), v2(0x21, 0x00, TLVS)] {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        c.send(&header).await;
        c.expect(220).await;
        c.send(b"EHLO client.test\r\n").await;
        c.expect(250).await;
        let (peer, proxy) = last_session(&server);
        assert_eq!((peer.ip(), proxy), (IpAddr::from([127, 0, 0, 1]), None), "{header:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_header_from_an_untrusted_address_is_not_answered() {
    let server = server_trusting("192.0.2.0/24", settings()).await;
    for header in v1_and_v2() {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        c.send(&header).await;
        closed_without_greeting(&mut c).await;
    }
    assert!(server.sessions.lock().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_missing_malformed_or_oversized_header_is_not_answered() {
    let server = server().await;
    let mut too_long = b"PROXY UNKNOWN ".to_vec();
    too_long.resize(120, b'x');
    too_long.extend_from_slice(b"\r\n");
    let mut beyond_cap = V2_SIGNATURE.to_vec();
    beyond_cap.extend_from_slice(&[0x21, 0x11, 0x10, 0x00]);
    beyond_cap.extend_from_slice(&[0; 64]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no header", b"EHLO client.test\r\n".to_vec()),
        ("bad port", b"PROXY TCP4 192.0.2.1 198.51.100.7 65536 25\r\n".to_vec()),
        ("port with a sign", b"PROXY TCP4 192.0.2.1 198.51.100.7 +1 25\r\n".to_vec()),
        ("LF without CR", b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25\nEHLO x\r\n".to_vec()),
        ("v1 too long", too_long),
        ("v2 version 1", v2(0x11, 0x11, &v2_ipv4(&[])[16..])),
        ("v2 short addresses", v2(0x21, 0x21, &[0; 12])),
        ("v2 TLV past the end", v2_ipv4(&[0x05, 0, 200, 1, 2])),
        ("v2 beyond the cap", beyond_cap),
        ("v2 datagram", v2(0x21, 0x12, &v2_ipv4(&[])[16..])),
    ];
    for (what, bytes) in cases {
        let started = Instant::now();
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        c.send(&bytes).await;
        closed_without_greeting(&mut c).await;
        // Decided from the bytes, not by the timeout.
        assert!(started.elapsed() < Duration::from_millis(900), "{what}: {:?}", started.elapsed());
    }
    assert!(server.sessions.lock().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_truncated_header_is_not_answered() {
    let server = server().await;
    for header in v1_and_v2() {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        c.send(&header[..header.len() - 3]).await;
        // The balancer gives up: end of stream inside the header.
        c.stream.as_mut().unwrap().shutdown().await.unwrap();
        closed_without_greeting(&mut c).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_header_that_does_not_come_in_time_closes_the_connection() {
    let server = server().await;
    for partial in [&b""[..], &V1_TCP4[..10], &v2_ipv4(&[])[..20]] {
        let started = Instant::now();
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        if !partial.is_empty() {
            c.send(partial).await;
        }
        closed_without_greeting(&mut c).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_header_written_byte_by_byte_is_read_whole() {
    let server = server().await;
    for (header, client) in [
        (V1_TCP4.to_vec(), "192.0.2.1:50000"),
        (V1_TCP6.to_vec(), "[2001:db8::1]:50000"),
        (v2_ipv6(TLVS), "[2001:db8::1]:50000"),
    ] {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        for byte in &header {
            c.send(std::slice::from_ref(byte)).await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        c.expect(220).await;
        c.send(b"EHLO client.test\r\n").await;
        c.expect(250).await;
        assert_eq!(last_session(&server).0, addr(client));
    }
    server.stop().await;
}

/// The session gets every byte after the header: a command in the same write as the
/// header is answered after the greeting, as any command sent before the greeting is.
#[tokio::test]
async fn bytes_after_the_header_belong_to_the_session() {
    let server = server().await;
    for header in v1_and_v2() {
        let mut c = Client::connect(server.addr(Role::Mx)).await;
        c.send(&[header, b"EHLO client.test\r\n".to_vec()].concat()).await;
        c.expect(220).await;
        let ehlo = c.expect(250).await;
        assert!(ehlo.to_string().contains("PIPELINING"), "{ehlo}");
        let (peer, _) = last_session(&server);
        assert_eq!(peer, addr("192.0.2.1:50000"));
        // With PIPELINING negotiated, a whole transaction in one write.
        c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<b@mail.test>\r\nDATA\r\n").await;
        c.expect(250).await;
        c.expect(250).await;
        c.expect(354).await;
        c.send(MESSAGE).await;
        c.expect(250).await;
    }
    // A header, then a line that is not a command: the session answers it as SMTP.
    let mut c = Client::connect(server.addr(Role::Mx)).await;
    c.send(&[V1_TCP4, b"PROXY TCP4 192.0.2.9 198.51.100.7 1 25\r\n"].concat()).await;
    c.expect(220).await;
    c.expect(500).await;
    server.stop().await;
}

#[tokio::test]
async fn implicit_tls_starts_after_the_header() {
    let server = server().await;
    let mut c = Client::connect(server.addr(Role::Submissions)).await;
    c.send(&v2_ipv4(TLVS)).await;
    c.implicit_tls().await;
    c.expect(220).await;
    c.send(b"EHLO client.test\r\n").await;
    c.expect(250).await;
    let info = server.sessions.lock().unwrap().last().cloned().unwrap();
    assert_eq!(info.peer, addr("192.0.2.1:50000"));
    assert!(info.tls.is_some() && loopback(info.proxy));
    server.stop().await;
}

/// Behind a balancer every connection has the same TCP peer: the per-address limit
/// counts the address in the header, the total counts every connection.
#[tokio::test]
async fn the_per_address_limit_counts_the_proxied_client() {
    let mut limited = settings();
    limited.limits.max_connections_per_ip = 1;
    limited.limits.max_connections = 3;
    let server = server_trusting(LOOPBACK_TRUSTED, limited).await;
    let mx = server.addr(Role::Mx);
    let header = |ip: &str| format!("PROXY TCP4 {ip} 198.51.100.7 50000 25\r\n").into_bytes();

    let mut first = Client::connect(mx).await;
    first.send(&header("192.0.2.1")).await;
    first.expect(220).await;
    let mut same = Client::connect(mx).await;
    same.send(&header("192.0.2.1")).await;
    assert_eq!(same.expect(421).await.enhanced_status().unwrap().to_string(), "4.7.0");
    assert!(same.reply().await.is_none());
    let mut other = Client::connect(mx).await;
    other.send(&header("192.0.2.2")).await;
    other.expect(220).await;
    // The total: a third connection is refused at once, before any header.
    let mut third = Client::connect(mx).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fourth = Client::connect(mx).await;
    fourth.expect(421).await;
    third.send(&header("192.0.2.3")).await;
    third.expect(220).await;
    // A closed session gives its address back.
    first.send(b"QUIT\r\n").await;
    first.expect(221).await;
    assert!(first.reply().await.is_none());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = Client::connect(mx).await;
    again.send(&header("192.0.2.1")).await;
    again.expect(220).await;
    server.stop().await;
}

#[tokio::test]
async fn a_policy_that_trusts_nobody_is_refused_at_bind() {
    let handler = std::sync::Arc::new(common::MemoryHandler::default());
    let listener = sealpost_server::ListenerConfig::new(addr("127.0.0.1:0"), Role::Mx, None)
        .with_proxy(ProxyPolicy::new([]));
    let err =
        sealpost_server::BoundServer::bind(handler, settings(), vec![listener]).await.unwrap_err();
    assert!(err.to_string().contains("trusts no network"), "{err}");
}
