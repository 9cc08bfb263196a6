//! Two `sealpost serve` nodes on one PostgreSQL queue (a private cluster started by the
//! test): what one node accepts, the other may deliver; every accepted message is
//! delivered once; `sealpost queue` sees the same queue from either node's configuration;
//! and while the database is down a node answers 451 4.3.0, so nothing is acknowledged
//! that was not committed, and it accepts again when the database is back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Server, Smtp, new_messages, run, sealpost, text, wait_for};
use sealpost_test_support::postgres::PgCluster;

/// A node: MX on a free port for `shared.test`, the queue in `db`, its own data directory.
fn node(dir: &Path, name: &str, db: &PgCluster) -> Server {
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!(
            "hostname = \"{name}.shared.test\"\ndomains = [\"shared.test\"]\n\
             data_dir = \"{name}-data\"\n\
             [listeners.smtp]\naddress = \"127.0.0.1:0\"\n\
             [listeners.submission]\naddress = \"off\"\n[listeners.smtps]\naddress = \"off\"\n\
             [queue]\nbackend = \"postgres\"\nurl = \"{}\"\npassword = \"file:db-password\"\n\
             node = \"{name}\"\nlease = 10\n\
             [relay]\nscan_interval = 1\n",
            db.url()
        ),
    )
    .unwrap();
    sealpost().serve(dir, &["--config", &format!("{name}.toml")])
}

fn send(server: &Server, to: &str, subject: &str) -> (u16, String) {
    let mut c = Smtp::connect(server.addr("smtp"));
    c.expect(220);
    c.send(b"EHLO client.test\r\n");
    c.expect(250);
    c.send(format!("MAIL FROM:<sender@client.test>\r\nRCPT TO:<{to}>\r\nDATA\r\n").as_bytes());
    c.expect(250);
    c.expect(250);
    c.expect(354);
    c.send(format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n.\r\n").as_bytes());
    c.reply()
}

/// Every message in the Maildirs of both nodes for `user@shared.test`.
fn delivered(dir: &Path, user: &str) -> Vec<String> {
    ["a", "b"]
        .iter()
        .flat_map(|n| new_messages(&dir.join(format!("{n}-data/maildir/shared.test/{user}/new"))))
        .map(|p| text(&std::fs::read(p).unwrap()))
        .collect()
}

#[test]
fn two_nodes_share_one_postgresql_queue() {
    let mut db = PgCluster::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db-password"), format!("{}\n", PgCluster::PASSWORD)).unwrap();
    let a = node(dir.path(), "a", &db);
    let b = node(dir.path(), "b", &db);

    // Accepted by either node, delivered once by whichever worker claimed it.
    for i in 0..10 {
        let server = if i % 2 == 0 { &a } else { &b };
        let (code, reply) = send(server, "alice@shared.test", &format!("shared {i}"));
        assert_eq!(code, 250, "{reply}");
    }
    wait_for("ten deliveries", Duration::from_secs(30), || {
        delivered(dir.path(), "alice").len() >= 10
    });
    let mail = delivered(dir.path(), "alice");
    for i in 0..10 {
        let copies = mail.iter().filter(|m| m.contains(&format!("body of shared {i}\r\n"))).count();
        assert_eq!(copies, 1, "message {i}");
    }
    assert!(mail.iter().all(|m| m.starts_with("Return-Path: <sender@client.test>\r\n")));

    // A message over a megabyte goes through a spool file on its way into the database
    // (smaller ones stay in memory); it arrives whole.
    let big_line = "x".repeat(998);
    let big_body: String = (0..1500).map(|i| format!("{i:06}{big_line}\r\n")).collect();
    let mut c = Smtp::connect(b.addr("smtp"));
    c.expect(220);
    c.send(b"EHLO client.test\r\n");
    c.expect(250);
    c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<bob@shared.test>\r\nDATA\r\n");
    for code in [250, 250, 354] {
        c.expect(code);
    }
    c.send(format!("Subject: big\r\n\r\n{big_body}.\r\n").as_bytes());
    c.expect(250);
    wait_for("the big message", Duration::from_secs(30), || {
        delivered(dir.path(), "bob").len() == 1
    });
    let big = &delivered(dir.path(), "bob")[0];
    assert!(big.len() > 1_500_000 && big.ends_with(&big_body), "{} octets", big.len());

    // The queue is empty, as `sealpost queue list` sees it from node a's configuration.
    let list = run(dir.path(), &["queue", "list", "--config", "a.toml"], b"");
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert!(
        text(&list.stdout).ends_with("-- 0 message(s), 0 recipient(s)\n"),
        "{}",
        text(&list.stdout)
    );

    // The database goes away: 451 4.3.0, nothing stored, no 250.
    db.stop();
    let (code, reply) = send(&a, "alice@shared.test", "while down");
    assert_eq!(code, 451, "{reply}");
    assert!(reply.contains("4.3.0"), "{reply}");
    let list = run(dir.path(), &["queue", "list", "--config", "b.toml"], b"");
    assert!(!list.status.success());
    assert!(text(&list.stderr).contains("queue"), "{}", text(&list.stderr));

    // Back again: the same node accepts, and the message is delivered.
    db.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, reply) = send(&a, "alice@shared.test", "after the outage");
        if code == 250 {
            break;
        }
        assert!(Instant::now() < deadline, "still {reply} after the database came back");
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_for("the message after the outage", Duration::from_secs(30), || {
        delivered(dir.path(), "alice").iter().any(|m| m.contains("body of after the outage"))
    });
    assert!(!delivered(dir.path(), "alice").iter().any(|m| m.contains("while down")));
    assert!(a.stop().success(), "{}", "node a");
    assert!(b.stop().success(), "{}", "node b");
}
