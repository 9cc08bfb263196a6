//! The database schema, created and upgraded by sealpost itself (see the module
//! documentation of [`super`] for what each table holds).
//!
//! `schema_version` holds one row: the number of [`MIGRATIONS`] applied. Every node runs
//! [`migrate`] when it connects; the steps it has not seen run in one transaction that
//! first takes a transaction-level advisory lock, so two nodes starting together apply
//! each step once (the second waits, then finds the work done), and a failed step leaves
//! the schema as it was.

use tokio_postgres::Client;

use super::db_error;
use crate::queue::QueueError;

/// The key of the advisory lock that serialises migrations ("sealpost" in ASCII, so it
/// does not collide with another application's small integers in the same database).
const MIGRATION_LOCK: i64 = 0x7365_616c_706f_7374;

/// The migrations in order; step `n` (1-based) brings the schema to version `n`.
/// Released steps are never edited: a change is a new step.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: messages, their recipients, and the fencing tokens.
    "CREATE TABLE messages (
        id text PRIMARY KEY,
        arrived timestamptz NOT NULL,
        size bigint NOT NULL,
        -- json, not jsonb: the envelope is read back whole, never searched, and json is
        -- only checked, not converted, on every enqueue.
        envelope json NOT NULL,
        body bytea NOT NULL
    );
    -- No index on arrived: only `sealpost queue list` orders by it, and every enqueue
    -- would pay for one more index entry.
    -- Bodies compress with lz4 where the server has it (several times cheaper than the
    -- default pglz, which dominated the database's CPU under load); else they are stored
    -- as they are, out of line, which costs no CPU at all.
    DO $$ BEGIN
        ALTER TABLE messages ALTER COLUMN body SET COMPRESSION lz4;
    EXCEPTION WHEN feature_not_supported THEN
        ALTER TABLE messages ALTER COLUMN body SET STORAGE EXTERNAL;
    END $$;
    CREATE TABLE recipients (
        message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        idx integer NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt timestamptz NOT NULL DEFAULT now(),
        last_error text,
        lease_owner text,
        lease_token bigint,
        lease_expires timestamptz,
        due timestamptz GENERATED ALWAYS AS (GREATEST(next_attempt, lease_expires)) STORED,
        PRIMARY KEY (message_id, idx)
    );
    CREATE INDEX recipients_due ON recipients (due);
    CREATE SEQUENCE lease_tokens AS bigint;",
];

/// Brings the database's schema to the version this crate writes.
///
/// Fails with [`QueueError::Config`] when the database was migrated by a newer sealpost
/// (its tables may mean something this one does not know).
pub(super) async fn migrate(client: &mut Client) -> Result<(), QueueError> {
    let tx = client.transaction().await.map_err(db_error("start the schema migration"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_error("lock the schema for migration"))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);
         INSERT INTO schema_version (version)
             SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version);",
    )
    .await
    .map_err(db_error("create the schema version table"))?;
    let row = tx
        .query_one("SELECT version FROM schema_version", &[])
        .await
        .map_err(db_error("read the schema version"))?;
    let current: i32 = row.get(0);
    let known = MIGRATIONS.len();
    let Ok(applied) = usize::try_from(current) else {
        return Err(QueueError::config(format!(
            "the database's schema version {current} is invalid"
        )));
    };
    if applied > known {
        return Err(QueueError::config(format!(
            "the database's schema is version {current}, newer than this sealpost knows \
             ({known}); upgrade sealpost on this node"
        )));
    }
    for (index, step) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(step)
            .await
            .map_err(db_error(format!("apply schema migration {}", index + 1)))?;
        tracing::info!(version = index + 1, "queue database schema migrated");
    }
    if applied < known {
        let version = i32::try_from(known).unwrap_or(i32::MAX);
        tx.execute("UPDATE schema_version SET version = $1", &[&version])
            .await
            .map_err(db_error("record the schema version"))?;
    }
    tx.commit().await.map_err(db_error("commit the schema migration"))
}
