//! The hickory-resolver adapter against a tiny DNS responder on loopback (no real
//! network): record conversion, NXDOMAIN vs NODATA, server failures, and DNSSEC status of
//! answers that carry no signatures.
// Needs the hickory-resolver adapter (feature `dns`).
#![cfg(feature = "dns")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sealpost_starttls::dane::{CertUsage, MatchingType, Selector};
use sealpost_starttls::dns::{Answer, DnsError, DnsResolver, Dnssec, HickoryResolver, Mx};
use tokio::net::UdpSocket;

const A: u16 = 1;
const AAAA: u16 = 28;
const MX: u16 = 15;
const TXT: u16 = 16;
const TLSA: u16 = 52;

/// What the responder says for one (name, type).
#[derive(Clone)]
enum Reply {
    Records(Vec<Vec<u8>>),
    Rcode(u8),
}

/// Answers UDP queries from a table: (lowercase name without the final dot, type) ->
/// reply; anything else is NXDOMAIN. Records every question asked.
async fn responder(
    table: HashMap<(String, u16), Reply>,
) -> (SocketAddr, Arc<Mutex<Vec<(String, u16)>>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        // Bounded: no test asks more than a few hundred questions.
        for _ in 0..1000 {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else { return };
            let Some((name, qtype, question_end)) = parse_question(&buf[..n]) else { continue };
            log.lock().unwrap().push((name.clone(), qtype));
            let reply = table.get(&(name, qtype)).cloned().unwrap_or(Reply::Rcode(3));
            let response = build_response(&buf[..question_end], &reply);
            let _ = socket.send_to(&response, peer).await;
        }
    });
    (addr, asked)
}

/// The question's name, type, and the end of the question section.
fn parse_question(msg: &[u8]) -> Option<(String, u16, usize)> {
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*msg.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(msg.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
    Some((labels.join("."), qtype, pos + 4))
}

fn build_response(query_head: &[u8], reply: &Reply) -> Vec<u8> {
    let mut out = query_head.to_vec();
    let qtype = [query_head[query_head.len() - 4], query_head[query_head.len() - 3]];
    // QR, opcode 0, AA, RD copied, RA; RCODE.
    let rcode = match reply {
        Reply::Records(_) => 0,
        Reply::Rcode(r) => *r,
    };
    out[2] = 0x84 | (query_head[2] & 0x01);
    out[3] = 0x80 | rcode;
    let answers: &[Vec<u8>] = match reply {
        Reply::Records(r) => r,
        Reply::Rcode(_) => &[],
    };
    out[4..6].copy_from_slice(&1u16.to_be_bytes());
    out[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
    out[8..12].fill(0);
    for rdata in answers {
        out.extend_from_slice(&[0xc0, 0x0c]); // the question's name
        out.extend_from_slice(&qtype);
        out.extend_from_slice(&[0x00, 0x01]); // IN
        out.extend_from_slice(&300u32.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }
    out
}

fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn mx_rdata(pref: u16, host: &str) -> Vec<u8> {
    let mut out = pref.to_be_bytes().to_vec();
    out.extend(wire_name(host));
    out
}

fn txt_rdata(strings: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in strings {
        out.push(s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    }
    out
}

fn table() -> HashMap<(String, u16), Reply> {
    let mut t = HashMap::new();
    t.insert(
        ("example.test".into(), MX),
        Reply::Records(vec![mx_rdata(10, "mx1.example.test"), mx_rdata(20, "MX2.Example.Test")]),
    );
    t.insert(("nodata.example.test".into(), MX), Reply::Records(vec![]));
    t.insert(("mx1.example.test".into(), A), Reply::Records(vec![vec![192, 0, 2, 25]]));
    t.insert(
        ("mx1.example.test".into(), AAAA),
        Reply::Records(vec![[&[0x20, 0x01, 0x0d, 0xb8][..], &[0; 11], &[0x19]].concat()]),
    );
    t.insert(("v4only.example.test".into(), A), Reply::Records(vec![vec![192, 0, 2, 4]]));
    t.insert(("v4only.example.test".into(), AAAA), Reply::Records(vec![]));
    t.insert(("broken6.example.test".into(), A), Reply::Records(vec![vec![192, 0, 2, 6]]));
    t.insert(("broken6.example.test".into(), AAAA), Reply::Rcode(2));
    t.insert(("servfail.example.test".into(), MX), Reply::Rcode(2));
    t.insert(
        ("_25._tcp.mx1.example.test".into(), TLSA),
        Reply::Records(vec![[&[3u8, 1, 1][..], &[0xab; 32]].concat()]),
    );
    t.insert(
        ("_mta-sts.example.test".into(), TXT),
        Reply::Records(vec![txt_rdata(&["v=STSv1; ", "id=20240101"])]),
    );
    t
}

/// A non-validating resolver: the responder signs nothing, so this is how record
/// conversion and negative answers can be checked offline.
async fn resolver() -> (HickoryResolver, Arc<Mutex<Vec<(String, u16)>>>) {
    let (addr, asked) = responder(table()).await;
    (HickoryResolver::without_validation(&[addr], Duration::from_millis(500)).unwrap(), asked)
}

#[test]
fn needs_a_name_server() {
    assert!(matches!(
        HickoryResolver::new(&[], Duration::from_secs(1)),
        Err(DnsError::Failure { .. })
    ));
    assert!(matches!(
        HickoryResolver::without_validation(&[], Duration::from_secs(1)),
        Err(DnsError::Failure { .. })
    ));
}

#[tokio::test]
async fn records_are_converted() {
    let (r, asked) = resolver().await;
    let mx = r.mx("example.test").await.unwrap();
    assert_eq!(mx.dnssec(), Dnssec::Insecure);
    let mut hosts: Vec<Mx> = mx.records().to_vec();
    hosts.sort_by_key(|m| m.preference);
    assert_eq!(
        hosts,
        [
            Mx { preference: 10, exchange: "mx1.example.test".into() },
            Mx { preference: 20, exchange: "mx2.example.test".into() }
        ]
    );
    let tlsa = r.tlsa(25, "MX1.example.test.").await.unwrap();
    let t = &tlsa.records()[0];
    assert_eq!(
        (t.usage, t.selector, t.matching),
        (CertUsage::DaneEe, Selector::Spki, MatchingType::Sha256)
    );
    assert_eq!(t.data, [0xab; 32]);
    let txt = r.txt("_mta-sts.example.test").await.unwrap();
    assert_eq!(txt.records()[0].concatenated(), b"v=STSv1; id=20240101");
    let asked = asked.lock().unwrap().clone();
    assert!(asked.contains(&("_25._tcp.mx1.example.test".into(), TLSA)), "{asked:?}");
}

/// With validation on, the responder's unsigned answers cannot be chained to the root
/// trust anchor (it serves no DNSKEY or DS records, and the root's key is not its own):
/// hickory withholds them and the adapter reports them as bogus, never as records.
#[tokio::test]
async fn validating_resolver_reports_unsigned_answers_as_bogus() {
    let (addr, asked) = responder(table()).await;
    let r = HickoryResolver::new(&[addr], Duration::from_millis(500)).unwrap();
    for answer in [
        r.mx("example.test").await.map(|a| (a.dnssec(), a.records().len())),
        r.tlsa(25, "mx1.example.test").await.map(|a| (a.dnssec(), a.records().len())),
    ] {
        assert_eq!(answer, Ok((Dnssec::Bogus, 0)));
    }
    // It did try to validate: besides the MX and TLSA questions it looked for the zone
    // cuts (NS) whose keys it would need.
    let asked = asked.lock().unwrap().clone();
    assert!(asked.iter().any(|(_, t)| *t == 2), "no zone-cut query in {asked:?}");
}

#[tokio::test]
async fn negative_answers_and_failures_are_typed() {
    let (r, _) = resolver().await;
    let nx = r.mx("nowhere.example.test").await;
    assert!(matches!(nx, Ok(Answer::NxDomain { .. })), "{nx:?}");
    let nodata = r.mx("nodata.example.test").await;
    assert!(matches!(nodata, Ok(Answer::NoRecords { .. })), "{nodata:?}");
    let fail = r.mx("servfail.example.test").await;
    assert!(
        matches!(fail, Err(DnsError::Failure { .. }) | Err(DnsError::Timeout { .. })),
        "{fail:?}"
    );
    let bad = r.mx("bad..name").await;
    assert!(matches!(bad, Err(DnsError::InvalidName { .. })), "{bad:?}");
}

#[tokio::test]
async fn addresses_combine_a_and_aaaa() {
    let (r, _) = resolver().await;
    let both = r.ip("mx1.example.test").await.unwrap();
    let mut addrs: Vec<String> = both.records().iter().map(ToString::to_string).collect();
    addrs.sort();
    assert_eq!(addrs, ["192.0.2.25", "2001:db8::19"]);
    let v4 = r.ip("v4only.example.test").await.unwrap();
    assert_eq!(v4.records().iter().map(ToString::to_string).collect::<Vec<_>>(), ["192.0.2.4"]);
    // One family failing leaves the other's addresses usable.
    let half = r.ip("broken6.example.test").await.unwrap();
    assert_eq!(half.records().len(), 1);
    assert_eq!(half.dnssec(), Dnssec::Insecure);
    assert!(matches!(r.ip("nowhere.example.test").await, Ok(Answer::NxDomain { .. })));
}

#[test]
fn resolv_conf_errors_are_typed() {
    let missing = std::path::Path::new("/nonexistent/sealpost/resolv.conf");
    assert!(matches!(
        HickoryResolver::from_resolv_conf(missing, Duration::from_secs(1)),
        Err(DnsError::Failure { .. })
    ));
    let dir = std::env::temp_dir().join(format!("sealpost-resolv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("resolv.conf");
    std::fs::write(&file, "search example.com\noptions edns0\n").unwrap();
    let no_servers = HickoryResolver::from_resolv_conf(&file, Duration::from_secs(1));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(no_servers, Err(DnsError::Failure { .. })));
}
