//! MtaHandler when storage fails: "451 4.3.0", and nothing acknowledged or left behind.
//!
//! Tests run as root, where permission bits do not stop writes, so an "unwritable" store
//! is a regular file where a directory is expected. A full disk is a small tmpfs mounted
//! over the store, which needs the right to mount; where that is missing, the tmpfs test
//! says so and stops (the sink's unit tests cover a full disk with /dev/full anywhere).

// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use sealpost_server::Role;
use support::{Client, MESSAGE, delivered, files, start, tempdir};

/// Replaces the directory `path` (if any) with a regular file.
fn block(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
    std::fs::write(path, b"in the way").unwrap();
}

#[tokio::test]
async fn a_maildir_that_cannot_be_written_gives_451_and_no_half_delivery() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    let bob = dir.path().join("maildir/mail.test/bob");
    std::fs::create_dir_all(bob.join("tmp")).unwrap();
    block(&bob.join("new"));
    block(&dir.path().join("maildir/other.test"));
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    for to in [["alice@mail.test", "bob@mail.test"], ["alice@mail.test", "carol@other.test"]] {
        let reply = c.transaction("s@client.test", &to, MESSAGE).await;
        assert_eq!(reply.code().get(), 451, "{reply}");
        assert_eq!(reply.enhanced_status().unwrap().to_string(), "4.3.0");
        // alice came first and was placed; the failure took it back.
        assert!(files(&dir.path().join("maildir/mail.test/alice/new")).is_empty());
        assert!(files(&dir.path().join("maildir/mail.test/alice/tmp")).is_empty());
        assert!(files(&dir.path().join("spool")).is_empty());
    }
    // The store works again for what can be stored.
    let reply = c.transaction("s@client.test", &["alice@mail.test"], MESSAGE).await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    delivered(dir.path(), "mail.test", "alice");
    server.stop().await;
}

#[tokio::test]
async fn a_queue_that_cannot_be_written_gives_451_and_nothing_delivered() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    block(&dir.path().join("queue"));
    let mut c = Client::submission(server.addr(Role::Submission), "alice", "secret").await;
    let to = ["alice@mail.test", "bob@elsewhere.test"];
    let reply = c.transaction("alice@mail.test", &to, MESSAGE).await;
    assert_eq!(reply.code().get(), 451, "{reply}");
    assert_eq!(reply.enhanced_status().unwrap().to_string(), "4.3.0");
    assert!(files(&dir.path().join("maildir/mail.test/alice/new")).is_empty());
    assert!(files(&dir.path().join("spool")).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_spool_that_cannot_be_written_refuses_the_data() {
    let dir = tempdir();
    let server = start(dir.path(), |_| {}).await;
    block(&dir.path().join("spool"));
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    c.send(b"MAIL FROM:<s@client.test>\r\nRCPT TO:<alice@mail.test>\r\nDATA\r\n").await;
    c.expect(250).await;
    c.expect(250).await;
    c.expect_status(451, "4.3.0").await;
    assert!(!dir.path().join("maildir/mail.test/alice").exists());
    c.send(b"QUIT\r\n").await;
    c.expect(221).await;
    server.stop().await;
}

/// A tmpfs mounted for the life of the value.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `at`. The test suite runs as root (CI does); a machine
    /// where mounting is not allowed fails this test loudly rather than skipping it.
    fn mount(at: &Path, size: &str) -> Tmpfs {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(at)
            .status();
        match status {
            Ok(s) if s.success() => Tmpfs(at.to_owned()),
            other => panic!(
                "cannot mount a tmpfs ({other:?}): the full-disk test needs root with \
                 CAP_SYS_ADMIN (run the tests as root, as CI does)"
            ),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A message of about `size` octets, dot-terminated.
fn big_message(size: usize) -> Vec<u8> {
    let mut out = b"Subject: big\r\n\r\n".to_vec();
    while out.len() < size {
        out.extend_from_slice(&[b'x'; 76]);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[tokio::test]
async fn a_full_disk_gives_451_and_leaves_nothing_behind() {
    // 1. Only the Maildirs are full: the spool is on another file system, so the message
    //    is copied (not linked) into tmp/, and the copy fails.
    let dir = tempdir();
    std::fs::create_dir_all(dir.path().join("maildir")).unwrap();
    let mount = Tmpfs::mount(&dir.path().join("maildir"), "64k");
    let server = start(dir.path(), |_| {}).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    let reply = c.transaction("s@client.test", &["alice@mail.test"], &big_message(200_000)).await;
    assert_eq!(reply.code().get(), 451, "{reply}");
    assert_eq!(reply.enhanced_status().unwrap().to_string(), "4.3.0");
    let alice = dir.path().join("maildir/mail.test/alice");
    assert!(files(&alice.join("new")).is_empty() && files(&alice.join("tmp")).is_empty());
    assert!(files(&dir.path().join("spool")).is_empty());
    // A message that fits is delivered by copy.
    let reply = c.transaction("s@client.test", &["alice@mail.test"], MESSAGE).await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    let content = delivered(dir.path(), "mail.test", "alice");
    assert!(content.ends_with(b"\r\nSubject: test\r\n\r\nHello\r\n"));
    assert!(files(&alice.join("tmp")).is_empty());
    drop(c);
    server.stop().await;
    drop(mount);

    // 2. The whole data directory is full: the spool fills up while the data arrives.
    let dir = tempdir();
    let mount = Tmpfs::mount(dir.path(), "64k");
    let server = start(dir.path(), |_| {}).await;
    let mut c = Client::greeted(server.addr(Role::Mx)).await;
    let reply = c.transaction("s@client.test", &["alice@mail.test"], &big_message(300_000)).await;
    assert_eq!(reply.code().get(), 451, "{reply}");
    assert_eq!(reply.enhanced_status().unwrap().to_string(), "4.3.0");
    assert!(files(&dir.path().join("maildir/mail.test/alice/new")).is_empty());
    assert!(files(&dir.path().join("spool")).is_empty());
    let reply = c.transaction("s@client.test", &["alice@mail.test"], MESSAGE).await;
    assert_eq!(reply.code().get(), 250, "{reply}");
    delivered(dir.path(), "mail.test", "alice");
    drop(c);
    server.stop().await;
    drop(mount);
}
