//! The harness of the MtaHandler tests: a server with real sockets over a temporary data
//! directory and a file queue. The scripted client and the test PKI are the workspace's
//! shared ones (sealpost-test-support).

// Not every test file uses every helper.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sealpost_mta::{FileQueue, MtaConfig, MtaHandler, Users};
use sealpost_server::{BoundServer, ListenerConfig, Role, ServerSettings};
use sealpost_starttls::ClientAuth;
use sealpost_test_support::pki::tls_server;
use tokio::sync::oneshot;

#[allow(unused_imports)]
pub(crate) use sealpost_test_support::{Client, MESSAGE};

/// A temporary directory, removed on drop.
pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The files directly in `dir` (none when it does not exist), sorted, without the queue's
/// lock file.
pub(crate) fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().is_some_and(|n| n != ".lock"))
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// The one message in `maildir/<domain>/<user>/new`.
pub(crate) fn delivered(data: &Path, domain: &str, user: &str) -> Vec<u8> {
    let new = files(&data.join("maildir").join(domain).join(user).join("new"));
    assert_eq!(new.len(), 1, "{domain}/{user}: {new:?}");
    std::fs::read(&new[0]).unwrap()
}

/// A running server with an MtaHandler over `data`; users alice/secret and bob/hunter2.
pub(crate) struct Running {
    addrs: Vec<(Role, SocketAddr)>,
    /// The handler's queue.
    pub(crate) queue: Arc<FileQueue>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub(crate) fn addr(&self, role: Role) -> SocketAddr {
        self.addrs.iter().find(|(r, _)| *r == role).unwrap().1
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

/// The users file of the tests, written once per directory.
pub(crate) fn users(dir: &Path) -> Arc<Users> {
    let path = dir.join("users");
    Users::add(&path, "alice", "secret").unwrap();
    Users::add(&path, "bob", "hunter2").unwrap();
    Arc::new(Users::load(&path).unwrap())
}

/// The configuration of the tests: local domains `mail.test` and `other.test`.
pub(crate) fn config(data: &Path) -> MtaConfig {
    let domains = vec![String::from("Mail.Test"), String::from("other.test")];
    let mut config = MtaConfig::new(data, domains);
    config.hostname = String::from("mx.mail.test");
    config.node = String::from("node-a");
    config.users = Some(users(data));
    config
}

/// Starts a server over `data` (queue in `data/queue`), letting the test adjust the
/// configuration first.
pub(crate) async fn start(data: &Path, adjust: impl FnOnce(&mut MtaConfig)) -> Running {
    let mut config = config(data);
    adjust(&mut config);
    let queue = Arc::new(FileQueue::open(data.join("queue")).unwrap());
    let handler = Arc::new(MtaHandler::new(config, queue.clone()).unwrap());
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listeners = vec![
        // The MX listener asks for client certificates (any issuer), as a relay by
        // certificate fingerprint needs.
        ListenerConfig::new(local, Role::Mx, Some(tls_server(ClientAuth::Optional))),
        ListenerConfig::new(local, Role::Submission, Some(tls_server(ClientAuth::Off))),
    ];
    let server =
        BoundServer::bind(handler, ServerSettings::new("mx.mail.test"), listeners).await.unwrap();
    let addrs = server.local_addrs();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running { addrs, queue, stop: Some(tx), task }
}
