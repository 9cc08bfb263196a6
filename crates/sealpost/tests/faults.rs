//! Faults the `sealpost serve` process must survive, run against the real binary:
//!
//! - SIGKILL in the middle of concurrent deliveries: every message that got "250" is in the
//!   Maildir, complete, and nothing partial ever appears in `new/`.
//! - A Maildir that cannot be written: "451 4.3.0", and nothing acknowledged that was not
//!   stored. (The server-level cases, a full disk and a blocked queue or spool included,
//!   are in `crates/sealpost-server/tests/mta_faults.rs`; this is the same through the
//!   binary.)
//! - Clients that misbehave: garbage, overlong lines and bare LF floods, slow lorises, and
//!   connection floods above the limits, while a well-behaved client is still served.
//!
//! Every loop is bounded in count and time; all traffic goes to 127.0.0.1. Random choices
//! come from a seeded generator: `SEALPOST_FAULT_SEED=N` replays a run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod fault_client;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, new_messages, sealpost};
use fault_client::{Conn, Rng, message, stored_message};

/// Only the MX listener, on a free port.
const SMTP_ONLY: [&str; 6] = ["--smtp", "127.0.0.1:0", "--submission", "off", "--smtps", "off"];

/// Where mail for `bob@localhost` lands under the default data directory.
fn bob_new(dir: &Path) -> std::path::PathBuf {
    dir.join("sealpost-data/maildir/localhost/bob/new")
}

fn seed() -> u64 {
    let seed = std::env::var("SEALPOST_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5ea1_9057);
    eprintln!("fault seed: {seed} (set SEALPOST_FAULT_SEED to replay)");
    seed
}

/// Reads every file in `new`: each must be one complete message of this test. Returns the
/// ids found; fails if an acknowledged id is missing.
fn check_maildir(new: &Path, acknowledged: &HashSet<u64>) -> HashSet<u64> {
    let mut seen = HashSet::new();
    for path in new_messages(new) {
        let stored = std::fs::read(&path).unwrap();
        let Some((id, body)) = stored_message(&stored) else {
            panic!("{} is not a message of this test (or lacks its headers)", path.display());
        };
        assert!(seen.insert(id), "message {id:016x} is in new/ twice");
        let expected = message(id);
        assert!(
            body == expected.as_slice(),
            "{} is not the complete message {id:016x}: {} octets stored, {} sent",
            path.display(),
            body.len(),
            expected.len()
        );
    }
    for id in acknowledged {
        assert!(seen.contains(id), "message {id:016x} got 250 but is not in {}", new.display());
    }
    seen
}

/// Kill rounds, and what bounds each.
const ROUNDS: u64 = 4;
const CLIENTS: u64 = 8;
const MESSAGES_PER_CLIENT: u64 = 40;
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn sigkill_during_deliveries_loses_no_acknowledged_message_and_leaves_nothing_partial() {
    let mut rng = Rng(seed());
    let dir = tempfile::tempdir().unwrap();
    let new = bob_new(dir.path());
    let spool = dir.path().join("sealpost-data/spool");
    let mut acknowledged = HashSet::new();
    let mut killed_in_data = 0;
    for round in 0..ROUNDS {
        let mut server = sealpost().serve(dir.path(), &SMTP_ONLY);
        assert!(new_messages(&spool).is_empty(), "a restart must clear what SIGKILL left");
        let addr = server.addr("smtp");
        let acked = Arc::new(Mutex::new(Vec::new()));
        let in_data = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (acked, in_data, stop) = (acked.clone(), in_data.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = 0;
                    // A new connection every two messages: both reuse and fresh sessions.
                    while n < MESSAGES_PER_CLIENT && !stop.load(Ordering::Relaxed) {
                        let Ok(mut conn) = Conn::connect(addr) else { return };
                        if conn.hello().is_err() {
                            return;
                        }
                        for _ in 0..2 {
                            let id = (round << 48) | (client << 32) | n;
                            n += 1;
                            match conn.transaction("bob@localhost", id, Some(&in_data)) {
                                Ok(250) => acked.lock().unwrap().push(id),
                                Ok(_) | Err(_) => return,
                            }
                        }
                        let _ = conn.quit();
                    }
                })
            })
            .collect();
        // The kill moment: after a seeded number of acknowledged messages (the server is
        // in its stride), a seeded delay, and only while a client is sending data.
        let wait_acks = 1 + rng.below(6) as usize;
        let delay = Duration::from_millis(rng.below(250));
        let deadline = Instant::now() + ROUND_TIMEOUT;
        while acked.lock().unwrap().len() < wait_acks && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(delay);
        while in_data.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        let sending = in_data.load(Ordering::SeqCst);
        server.signal("KILL");
        assert!(server.wait(Duration::from_secs(10)).is_some(), "SIGKILL did not end serve");
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.join().unwrap();
        }
        killed_in_data += usize::from(sending > 0);
        let acked = acked.lock().unwrap();
        assert!(acked.len() >= wait_acks, "round {round}: the server was too slow");
        acknowledged.extend(acked.iter().copied());
        let found = check_maildir(&new, &acknowledged);
        eprintln!(
            "round {round}: killed after {} acknowledged ({} sending); {} in new/ in all",
            acked.len(),
            sending,
            found.len()
        );
    }
    assert!(killed_in_data > 0, "no kill happened while data was in flight");

    // After the last kill: a restart clears the spool, keeps the mail, and serves.
    let server = sealpost().serve(dir.path(), &SMTP_ONLY);
    assert!(new_messages(&spool).is_empty());
    let mut conn = Conn::connect(server.addr("smtp")).unwrap();
    conn.hello().unwrap();
    let last = u64::MAX >> 8;
    assert_eq!(conn.transaction("bob@localhost", last, None).unwrap(), 250);
    conn.quit().unwrap();
    acknowledged.insert(last);
    check_maildir(&new, &acknowledged);
    assert!(server.stop().success());
}

#[test]
fn an_unwritable_maildir_gives_451_and_acknowledges_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = sealpost().serve(dir.path(), &SMTP_ONLY);
    // Tests run as root, where permission bits do not stop writes: a regular file where
    // the domain's directory should be does.
    let domain = dir.path().join("sealpost-data/maildir/localhost");
    std::fs::write(&domain, b"in the way").unwrap();
    let mut conn = Conn::connect(server.addr("smtp")).unwrap();
    conn.hello().unwrap();
    let (code, text) = conn.transaction_reply("bob@localhost", 1).unwrap();
    assert_eq!(code, 451, "{text}");
    assert!(text.starts_with("451 4.3.0 "), "{text}");
    assert_eq!(std::fs::read(&domain).unwrap(), b"in the way");
    assert!(new_messages(&dir.path().join("sealpost-data/spool")).is_empty());

    // The same session goes on once the store works again; only that message is there.
    std::fs::remove_file(&domain).unwrap();
    assert_eq!(conn.transaction("bob@localhost", 2, None).unwrap(), 250);
    conn.quit().unwrap();
    let found = check_maildir(&bob_new(dir.path()), &HashSet::from([2]));
    assert_eq!(found, HashSet::from([2]));
    assert!(server.stop().success());
}

/// Starts `serve` with `config` (TOML) as its configuration file.
fn start_with_config(dir: &Path, config: &str) -> Server {
    std::fs::write(dir.join("sealpost.toml"), config).unwrap();
    let mut args = SMTP_ONLY.to_vec();
    args.extend(["--config", "sealpost.toml"]);
    sealpost().serve(dir, &args)
}

/// Sends `bytes` in pieces while a second thread collects the replies; stops sending when
/// the server closes. Returns the replies (code and text) after the greeting.
fn send_garbage(conn: Conn, bytes: &[u8], then: &[u8]) -> Vec<(u16, String)> {
    let mut reader = conn.try_clone().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let seen_close = done.clone();
    let replies = std::thread::spawn(move || {
        let mut replies = Vec::new();
        while let Ok(reply) = reader.reply() {
            let last = reply.0 == 421 || reply.0 == 221;
            replies.push(reply);
            if last {
                break;
            }
        }
        seen_close.store(true, Ordering::SeqCst);
        replies
    });
    let mut conn = conn;
    for piece in bytes.chunks(4096).chain([then]) {
        if done.load(Ordering::SeqCst) || conn.send(piece).is_err() {
            break;
        }
    }
    let _ = conn.shutdown_write();
    let mut replies = replies.join().unwrap();
    assert_eq!(replies.first().map(|r| r.0), Some(220), "{replies:?}");
    replies.remove(0);
    replies
}

#[test]
fn malformed_input_gets_errors_and_a_well_behaved_client_is_served_meanwhile() {
    let mut rng = Rng(seed() ^ 0xbad);
    let dir = tempfile::tempdir().unwrap();
    let server = sealpost().serve(dir.path(), &SMTP_ONLY);
    let addr = server.addr("smtp");

    // Random octets with a CRLF now and then; the generator is seeded.
    let mut random = Vec::with_capacity(64 * 1024);
    while random.len() < 64 * 1024 {
        random.push(rng.next_u64() as u8);
        if rng.below(100) == 0 {
            random.extend_from_slice(b"\r\n");
        }
    }
    let garbage: Vec<(&str, Vec<u8>, &[u8])> = vec![
        ("random octets", random, b"\r\n"),
        ("one overlong line", vec![b'A'; 1 << 20], b"\r\nQUIT\r\n"),
        ("a bare LF flood", vec![b'\n'; 1 << 20], b"\r\nQUIT\r\n"),
        ("commands with bare LF", b"MAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\r\n".repeat(64), b""),
    ];
    let clients: Vec<_> = garbage
        .into_iter()
        .map(|(name, bytes, then)| {
            std::thread::spawn(move || {
                (name, send_garbage(Conn::connect(addr).unwrap(), &bytes, then))
            })
        })
        .collect();
    for id in 1..=3 {
        let mut conn = Conn::connect(addr).unwrap();
        conn.hello().unwrap();
        assert_eq!(conn.transaction("bob@localhost", id, None).unwrap(), 250);
        conn.quit().unwrap();
    }
    for client in clients {
        let (name, replies) = client.join().unwrap();
        assert!(!replies.is_empty(), "{name}: no reply at all");
        let (last, rest) = replies.split_last().unwrap();
        for (code, text) in rest {
            assert!(*code >= 500, "{name}: a positive reply to garbage: {text}");
        }
        match name {
            "random octets" => assert!(last.1.starts_with("421 4.7.0 "), "{name}: {replies:?}"),
            "one overlong line" | "a bare LF flood" => {
                assert_eq!(rest.len(), 1, "{name}: {replies:?}");
                assert!(rest[0].1.starts_with("500 5.5.6 "), "{name}: {replies:?}");
                assert_eq!(last.0, 221, "{name}: the session goes on: {replies:?}");
            }
            _ => {
                assert!(rest.iter().all(|r| r.1.starts_with("500 5.5.2 ")), "{name}: {replies:?}");
                assert!(last.1.starts_with("421 4.7.0 "), "{name}: {replies:?}");
            }
        }
    }
    let mut conn = Conn::connect(addr).unwrap();
    conn.hello().unwrap();
    assert_eq!(conn.transaction("bob@localhost", 4, None).unwrap(), 250);
    conn.quit().unwrap();
    let found = check_maildir(&bob_new(dir.path()), &HashSet::from([1, 2, 3, 4]));
    assert_eq!(found.len(), 4);
    assert!(server.stop().success());
}

#[test]
fn slow_lorises_are_cut_off_by_the_command_timeout_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_config(dir.path(), "[timeouts]\ncommand = 2\n");
    let addr = server.addr("smtp");
    // Each loris sends one octet a second of a command it never finishes in time; the
    // timeout is for the whole command, so trickling must not keep the session alive.
    let lorises: Vec<_> = (0..3)
        .map(|_| {
            let mut conn = Conn::connect(addr).unwrap();
            assert_eq!(conn.reply().unwrap().0, 220);
            std::thread::spawn(move || {
                let started = Instant::now();
                conn.set_read_timeout(Duration::from_secs(1));
                for octet in b"EHLO a-very-slow-client.example\r\n" {
                    if let Ok(reply) = conn.reply() {
                        return (reply, started.elapsed(), conn.closed());
                    }
                    if conn.send(&[*octet]).is_err() {
                        break;
                    }
                }
                panic!("the slow client was never cut off ({:?})", started.elapsed());
            })
        })
        .collect();
    let served = Instant::now();
    for id in 1..=3 {
        let mut conn = Conn::connect(addr).unwrap();
        conn.hello().unwrap();
        assert_eq!(conn.transaction("bob@localhost", id, None).unwrap(), 250);
        conn.quit().unwrap();
    }
    let served = served.elapsed();
    for loris in lorises {
        let ((code, text), after, closed) = loris.join().unwrap();
        assert_eq!(code, 421, "{text}");
        assert!(text.starts_with("421 4.4.2 "), "{text}");
        assert!(closed, "the connection stays open after 421");
        assert!(after >= Duration::from_millis(1500), "cut off too early: {after:?}");
        assert!(after < Duration::from_secs(8), "cut off too late: {after:?}");
        assert!(served < after, "others were served only after the slow client left");
    }
    check_maildir(&bob_new(dir.path()), &HashSet::from([1, 2, 3]));
    assert!(server.stop().success());
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// Connects from `from` until the greeting is a 220 (a slot may take a moment to come
/// back after a close); bounded.
fn connect_when_free(from: IpAddr, addr: std::net::SocketAddr) -> Conn {
    for _ in 0..100 {
        let mut conn = Conn::connect_from(from, addr).unwrap();
        if conn.reply().unwrap().0 == 220 {
            return conn;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no free connection slot for {from}");
}

/// Opens `count` connections from `from` at once, from several threads: each must get
/// "421 4.7.0" and be closed.
fn flood_is_refused(from: IpAddr, addr: std::net::SocketAddr, count: usize) {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..count / 4 {
                    let mut conn = Conn::connect_from(from, addr).unwrap();
                    let (code, text) = conn.reply().unwrap();
                    assert_eq!(code, 421, "{from}: {text}");
                    assert!(text.starts_with("421 4.7.0 "), "{from}: {text}");
                    assert!(conn.closed(), "{from}: still open after 421");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn connection_floods_get_421_and_a_well_behaved_client_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_config(
        dir.path(),
        "[limits]\nmax_connections = 10\nmax_connections_per_ip = 5\n",
    );
    let addr = server.addr("smtp");

    // Per address: 127.0.0.1 holds its 5; a flood from it is refused...
    let held: Vec<Conn> = (0..5).map(|_| connect_when_free(loopback(1), addr)).collect();
    flood_is_refused(loopback(1), addr, 40);
    // ...while another address is served.
    let mut good = connect_when_free(loopback(2), addr);
    good.ehlo().unwrap();
    assert_eq!(good.transaction("bob@localhost", 1, None).unwrap(), 250);
    good.quit().unwrap();

    // In total: 127.0.0.3 takes the other 5; then everyone is refused...
    let full: Vec<Conn> = (0..5).map(|_| connect_when_free(loopback(3), addr)).collect();
    flood_is_refused(loopback(4), addr, 20);
    // ...until some leave.
    drop(held);
    let mut good = connect_when_free(loopback(4), addr);
    good.ehlo().unwrap();
    assert_eq!(good.transaction("bob@localhost", 2, None).unwrap(), 250);
    good.quit().unwrap();
    drop(full);

    check_maildir(&bob_new(dir.path()), &HashSet::from([1, 2]));
    assert!(server.stop().success());
}
