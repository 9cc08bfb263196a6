//! The PostgreSQL cluster behind the `[queue] backend = "postgres"` contenders: the tests'
//! private cluster ([`PgCluster`]: its own data directory, a free loopback port, password
//! login for role `sealpost`), but durable as in production: the tests turn `fsync` off,
//! the benchmark turns it back on and checks that `fsync` and `synchronous_commit` are on
//! before any run. Each run gets a database of its own, dropped afterwards.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use sealpost_test_support::PgCluster;

/// The settings the report lists, in this order.
const REPORTED: &[&str] = &[
    "fsync",
    "synchronous_commit",
    "wal_sync_method",
    "full_page_writes",
    "commit_delay",
    "wal_level",
    "shared_buffers",
    "wal_buffers",
    "max_wal_size",
    "checkpoint_timeout",
];

/// A running private cluster.
pub(crate) struct Db {
    cluster: PgCluster,
    databases: usize,
}

/// Runs a [`PgCluster`] call, whose failures are panics, as a `Result`.
fn pg<T>(what: &str, call: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(call)).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        anyhow!("PostgreSQL: cannot {what}: {message}")
    })
}

impl Db {
    /// Starts a cluster with `fsync` on (and `synchronous_commit` at its default, on).
    pub(crate) fn start() -> Result<Db> {
        println!("$ initdb + pg_ctl start (a private PostgreSQL cluster, fsync on)");
        let cluster = pg("start a private cluster", PgCluster::new)?;
        let db = Db { cluster, databases: 0 };
        // ALTER SYSTEM cannot run in a transaction block: one statement per call.
        db.psql("turn fsync on", "ALTER SYSTEM SET fsync = on")?;
        db.psql("reload the configuration", "SELECT pg_reload_conf()")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let fsync = db.psql("read fsync", "SHOW fsync")?;
            let commit = db.psql("read synchronous_commit", "SHOW synchronous_commit")?;
            if fsync == "on" && commit == "on" {
                return Ok(db);
            }
            if Instant::now() > deadline {
                bail!("PostgreSQL still runs with fsync = {fsync}, synchronous_commit = {commit}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn psql(&self, what: &str, sql: &str) -> Result<String> {
        pg(what, || self.cluster.psql(sql))
    }

    /// A new, empty database owned by the role sealpost logs in as; its URL (without the
    /// password) and its name.
    pub(crate) fn fresh_database(&mut self) -> Result<(String, String)> {
        self.databases += 1;
        let name = format!("bench_{}", self.databases);
        self.psql(
            "create a database",
            &format!("CREATE DATABASE {name} OWNER {}", PgCluster::USER),
        )?;
        let url =
            format!("postgresql://{}@127.0.0.1:{}/{name}", PgCluster::USER, self.cluster.port());
        Ok((url, name))
    }

    /// Drops a database made by [`Db::fresh_database`] (its server must be stopped).
    pub(crate) fn drop_database(&self, name: &str) -> Result<()> {
        self.psql("drop a database", &format!("DROP DATABASE {name}")).map(drop)
    }

    /// A count (`SELECT count(*) ...`) in database `name`.
    pub(crate) fn count(&self, name: &str, sql: &str) -> Result<usize> {
        let out = pg("count", || self.cluster.psql_in(name, sql))?;
        out.trim().parse().map_err(|_| anyhow!("`{sql}` printed {out:?}, not a count"))
    }

    /// The server version and the settings that decide durability and write cost, for
    /// the report.
    pub(crate) fn settings(&self) -> Result<String> {
        let version = self.psql("read the version", "SHOW server_version")?;
        let mut out = format!("PostgreSQL {version}");
        for name in REPORTED {
            let value = self.psql("read a setting", &format!("SHOW {name}"))?;
            out.push_str(&format!(", `{name} = {value}`"));
        }
        Ok(out)
    }
}
