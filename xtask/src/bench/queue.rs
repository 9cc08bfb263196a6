//! Part **queue**: durable acceptance by queue backend. The durable part's load
//! (smtp-source, 5 KiB messages, a new connection per message and with `-d`) against
//! `sealpost serve` on the file backend (local mail into the Maildirs before 250), on the
//! PostgreSQL backend (local mail committed to the database before 250), and Postfix into
//! its queue; every sealpost contender with `[relay] enabled = false`, so what is measured
//! is acceptance, as with Postfix's hold queue.

use std::fmt::Write as _;

use anyhow::{Result, bail};

use super::db::Db;
use super::postfix::{Disposition, Postfix};
use super::procs::{Handler, QueueBackend, RelayWorker, Sealpost};
use super::report::{Ratio, Row, Run};
use super::{Bench, smtp_source_args};
use sealpost_test_support::PgCluster;

/// What the part measured.
pub(crate) struct QueueResults {
    pub(crate) rows: Vec<Row>,
    /// The PostgreSQL version and settings.
    pub(crate) postgres: String,
}

/// The contenders, in the order of the runs and the columns.
pub(crate) const FILE: &str = "sealpost, file backend (Maildir)";
pub(crate) const POSTGRES: &str = "sealpost, postgres backend";
pub(crate) const POSTFIX: &str = "Postfix, hold queue";

/// postgres / file (target 0.8) and postgres / Postfix (target 2).
pub(crate) fn ratios() -> Vec<Ratio> {
    vec![
        Ratio { label: "postgres / file", of: 1, to: 0, target: Some(0.8) },
        Ratio { label: "postgres / Postfix", of: 1, to: 2, target: Some(2.0) },
    ]
}

impl Bench<'_> {
    /// smtp-source against the three contenders in turns, each run on a fresh instance
    /// (and a fresh database), checked for every message stored.
    pub(super) fn queue(&self) -> Result<QueueResults> {
        println!("\n== queue: durable acceptance, file backend vs postgres backend vs Postfix");
        let messages = self.args.messages;
        let mut db = Db::start()?;
        let postgres = db.settings()?;
        let mut rows = Vec::new();
        for reuse in [false, true] {
            let mut file = Run::new(FILE, messages);
            let mut pg = Run::new(POSTGRES, messages);
            let mut postfix = Run::new(POSTFIX, messages);
            for run in 0..self.args.runs {
                let dir = self.scratch.join(format!("queue-file-{reuse}-{run}"));
                let mut config = self.sealpost_config(&dir, Handler::Maildir);
                config.relay = RelayWorker::Off;
                let sealpost = Sealpost::start(&config)?;
                file.times.push(self.smtp_source(sealpost.addr, reuse)?);
                let delivered = sealpost.delivered()?;
                sealpost.process.stop()?;
                if delivered != messages {
                    bail!("sealpost (file) stored {delivered} of {messages} messages");
                }
                let _ = std::fs::remove_dir_all(&dir);

                let dir = self.scratch.join(format!("queue-postgres-{reuse}-{run}"));
                let (url, database) = db.fresh_database()?;
                let mut config = self.sealpost_config(&dir, Handler::Maildir);
                config.relay = RelayWorker::Off;
                config.queue = QueueBackend::Postgres { url: &url, password: PgCluster::PASSWORD };
                let sealpost = Sealpost::start(&config)?;
                pg.times.push(self.smtp_source(sealpost.addr, reuse)?);
                let in_maildir = sealpost.delivered()?;
                sealpost.process.stop()?;
                let queued = db.count(&database, "SELECT count(*) FROM messages")?;
                if queued != messages || in_maildir != 0 {
                    bail!(
                        "sealpost (postgres) queued {queued} of {messages} messages and put \
                         {in_maildir} into the Maildir"
                    );
                }
                db.drop_database(&database)?;
                let _ = std::fs::remove_dir_all(&dir);

                let dir = self.scratch.join(format!("queue-postfix-{reuse}-{run}"));
                let instance = Postfix::start(self.sh, &dir, Disposition::Hold, None)?;
                postfix.times.push(self.smtp_source(instance.addr, reuse)?);
                let held = instance.held()?;
                instance.stop()?;
                if held != messages {
                    bail!("Postfix holds {held} of {messages} messages");
                }
                let _ = std::fs::remove_dir_all(&dir);
            }
            let what = if reuse {
                "one connection per session (-d)"
            } else {
                "new connection per message"
            };
            let args = smtp_source_args(messages, reuse, "PORT").join(" ");
            rows.push(Row {
                what: what.to_owned(),
                command: format!("`smtp-source {args}`"),
                runs: vec![file, pg, postfix],
            });
        }
        Ok(QueueResults { rows, postgres })
    }
}

impl QueueResults {
    /// The section of docs/performance.md.
    pub(crate) fn render(&self, out: &mut String) {
        out.push_str(
            "## Durable acceptance by queue backend: file vs postgres vs Postfix\n\n\
             The load of the durable runs, against three contenders in turns (file, \
             postgres, Postfix, file, ...), each run on a fresh instance:\n\n\
             - *file backend (Maildir)*: `sealpost serve` as in the durable runs \
             (`handler = \"maildir\"`, the default `[queue]`), plus `[relay] enabled = \
             false`. Local mail goes into the Maildir before 250 (spool file fsynced, linked \
             into `new/`, `new/` fsynced); the file queue is not involved, because with the \
             file backend and no `[delivery] lmtp` local mail never goes through the \
             queue.\n\
             - *postgres backend*: the same plus\n\n\
             ```toml\n[queue]\nbackend = \"postgres\"\n\
             url = \"postgresql://sealpost@127.0.0.1:PORT/bench_N\"   # a new database per run\n\
             password = \"env:SEALPOST_BENCH_DB_PASSWORD\"\nnode = \"bench\"\n\
             # pool_size: the default, 8 connections\n```\n\n\
             \x20 With a shared queue, local mail goes through the queue: before 250 the \
             message (kept in memory up to 1 MiB; no spool file) and its recipient rows \
             are written by one `INSERT` statement, committed on its own (body as `bytea`, \
             lz4-compressed; envelope as `json`); the `NOTIFY` that wakes other nodes goes \
             after the commit, at most one per node every 20 ms. The worker is off, so the \
             mail stays there: after each run the Maildir must be empty and `SELECT \
             count(*) FROM messages` must give every message.\n\
             - *Postfix, hold queue*: as in the durable runs.\n\n",
        );
        let _ = writeln!(
            out,
            "The database: a private cluster started by the benchmark (the tests' \
             `PgCluster`: `initdb`, 127.0.0.1 on a free port, password login for role \
             `sealpost`) in a directory on the same disk (ext4) as the other contenders' \
             data. The tests run it with `fsync = off`; the benchmark sets `ALTER SYSTEM SET \
             fsync = on` and checks `fsync` and `synchronous_commit` before the runs, so every \
             commit waits for its WAL flush, as in production. Nothing else is tuned: {}.\n",
            self.postgres
        );
        super::report::contest_table(out, &self.rows, &ratios(), "msg");
    }
}
