//! `sealpost queue list|show|retry|delete|bounce` on the queue of a running `sealpost
//! serve` whose worker is off (`[relay] enabled = false`), so what is queued stays queued.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{Server, Smtp, run, sealpost, text};

/// A server with alice on the submission port and no delivery worker.
fn start(dir: &Path) -> Server {
    sealpost().add_user(dir, "users", "alice", "correct horse");
    std::fs::write(
        dir.join("q.toml"),
        "hostname = \"a.test\"\ndomains = [\"a.test\"]\nusers = \"users\"\n\
         [listeners.smtp]\naddress = \"off\"\n[listeners.submission]\naddress = \"off\"\n\
         [listeners.smtps]\naddress = \"127.0.0.1:0\"\n[relay]\nenabled = false\n",
    )
    .unwrap();
    sealpost().serve(dir, &["--config", "q.toml"])
}

fn submit(server: &Server, dir: &Path, subject: &str) {
    let cert = dir.join("sealpost-data/tls/cert.pem");
    let mut c = Smtp::connect_tls(server.addr("smtps"), &cert, "localhost").unwrap();
    c.expect(220);
    c.send(b"EHLO client.example\r\n");
    c.expect(250);
    c.send(b"AUTH PLAIN AGFsaWNlAGNvcnJlY3QgaG9yc2U=\r\n");
    c.expect(235);
    c.send(b"MAIL FROM:<alice@a.test> RET=HDRS\r\nRCPT TO:<bob@remote.test> NOTIFY=FAILURE\r\nRCPT TO:<carol@remote.test>\r\nDATA\r\n");
    for code in [250, 250, 250, 354] {
        c.expect(code);
    }
    c.send(format!("Subject: {subject}\r\n\r\nbody\r\n.\r\n").as_bytes());
    c.expect(250);
}

/// Runs `sealpost queue ARGS --config q.toml`; (success, stdout, stderr).
fn queue(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["queue"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--config", "q.toml"]);
    let output = run(dir, &all, b"");
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

/// The ids of `sealpost queue list`.
fn ids(list: &str) -> Vec<String> {
    list.lines()
        .filter(|l| !l.starts_with("--"))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect()
}

#[test]
fn list_show_retry_bounce_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    submit(&server, dir.path(), "first");
    submit(&server, dir.path(), "second");

    let (ok, list, err) = queue(dir.path(), &["list"]);
    assert!(ok, "{err}");
    let ids = ids(&list);
    assert_eq!(ids.len(), 2, "{list}");
    let first = list.lines().next().unwrap();
    assert!(
        first.contains(
            " from <alice@a.test> to <bob@remote.test> [due now], <carol@remote.test> [due now]"
        ),
        "{list}"
    );
    assert!(list.ends_with("-- 2 message(s), 4 recipient(s)\n"), "{list}");

    let (ok, show, err) = queue(dir.path(), &["show", &ids[0]]);
    assert!(ok, "{err}");
    assert!(show.contains(&format!("id: {}\n", ids[0])), "{show}");
    assert!(show.contains("from: <alice@a.test> RET=HDRS\n"), "{show}");
    assert!(show.contains("to: <bob@remote.test> NOTIFY=FAILURE (Remote) [due now]"), "{show}");
    assert!(show.contains("user: alice\n"), "{show}");
    assert!(show.contains("Subject: "), "{show}");
    assert!(!show.contains("body"), "only the header section: {show}");

    let (ok, out, err) = queue(dir.path(), &["retry", &ids[0]]);
    assert!(ok && out.contains("due now"), "{out}{err}");

    // Bounce: both recipients fail; alice gets one notice (queued for her local mailbox).
    let (ok, out, err) = queue(dir.path(), &["bounce", &ids[0]]);
    assert!(ok, "{err}");
    assert!(out.contains("returned to the sender (2 recipient(s))"), "{out}");
    let (_, list, _) = queue(dir.path(), &["list"]);
    assert!(!list.contains(&ids[0]), "{list}");
    let notice = list.lines().find(|l| l.contains(" from <> to <alice@a.test>")).unwrap();
    let notice_id = notice.split(' ').next().unwrap();
    let (_, show, _) = queue(dir.path(), &["show", notice_id]);
    assert!(show.contains("(Local)"), "{show}");
    assert!(show.contains("Subject: Undelivered Mail Returned to Sender"), "{show}");

    let (ok, out, err) = queue(dir.path(), &["delete", &ids[1]]);
    assert!(ok && out.contains("deleted"), "{out}{err}");
    let (_, list, _) = queue(dir.path(), &["list"]);
    assert!(list.ends_with("-- 1 message(s), 1 recipient(s)\n"), "{list}");

    // Errors: a message that is gone, and a string that is no queue id.
    let (ok, _, err) = queue(dir.path(), &["delete", &ids[1]]);
    assert!(!ok && err.contains(&format!("no message {} in the queue", ids[1])), "{err}");
    let (ok, _, err) = queue(dir.path(), &["show", "../etc/passwd"]);
    assert!(!ok && err.contains("is not a queue id"), "{err}");
    assert!(server.stop().success());
}
