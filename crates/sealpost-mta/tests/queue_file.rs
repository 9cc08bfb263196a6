//! The queue behaviour suite (`queue_suite`) on [`FileQueue`]: a queue directory in a
//! temporary folder; "another node" is another handle on the same directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod queue_suite;

use std::path::{Path, PathBuf};

use sealpost_mta::FileQueue;
use tempfile::TempDir;

struct Files {
    dir: TempDir,
}

impl Files {
    fn new() -> Self {
        Files { dir: tempfile::tempdir().unwrap() }
    }

    fn queue_dir(&self) -> PathBuf {
        self.dir.path().join("queue")
    }
}

impl queue_suite::Harness for Files {
    type Q = FileQueue;

    async fn open(&self) -> FileQueue {
        FileQueue::open(self.queue_dir()).unwrap()
    }

    /// The file queue serves one node: its workers share the server's handle, and a
    /// wake-up reaches the handle that enqueued.
    async fn peer(&self, queue: &FileQueue) -> FileQueue {
        queue.clone()
    }

    fn scratch(&self) -> &Path {
        self.dir.path()
    }
}

#[tokio::test]
async fn round_trip() {
    queue_suite::round_trip(&Files::new()).await;
}

#[tokio::test]
async fn settle_outcomes() {
    queue_suite::settle_outcomes(&Files::new()).await;
}

#[tokio::test]
async fn notices_and_release() {
    queue_suite::notices_and_release(&Files::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims() {
    queue_suite::concurrent_claims(&Files::new()).await;
}

#[tokio::test]
async fn dead_worker() {
    queue_suite::dead_worker(&Files::new()).await;
}

#[tokio::test]
async fn renew_keeps_the_lease() {
    queue_suite::renew_keeps_the_lease(&Files::new()).await;
}

#[tokio::test]
async fn claim_message_and_delete() {
    queue_suite::claim_message_and_delete(&Files::new()).await;
}

#[tokio::test]
async fn restart() {
    queue_suite::restart(&Files::new()).await;
}

#[tokio::test]
async fn wake_on_enqueue() {
    queue_suite::wake_on_enqueue(&Files::new()).await;
}
