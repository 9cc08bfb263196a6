//! [`QueueStore`] for [`PostgresQueue`]: each method one short transaction (see the
//! module documentation of [`super`] for the schema and the locking order).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use deadpool_postgres::{GenericClient, Object, Transaction};
use tokio_postgres::IsolationLevel;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PostgresQueue, db_error, finish};
use crate::queue::{
    Body, Claim, ClaimedRecipient, Lease, NewMessage, QueueError, QueueId, QueueStore,
    QueuedEnvelope, QueuedMessage, RecipientStatus, Settlement,
};

/// Runs `$body` (a future over `$client`, a pooled connection) within the operation
/// timeout, and puts the connection back or throws it away (see [`finish`]).
macro_rules! with_client {
    ($queue:expr, $what:expr, |$client:ident| $body:expr) => {{
        let mut pooled = $queue.client().await?;
        let result = {
            let $client: &mut Object = &mut pooled;
            $queue.bounded($what, $body).await
        };
        finish(pooled, &result);
        result
    }};
}

/// Durations are stored as milliseconds, at most a century (a larger wait is a
/// mistake, and would overflow the timestamp).
fn millis(duration: Duration) -> i64 {
    const CENTURY_MS: u128 = 100 * 365 * 24 * 3600 * 1000;
    i64::try_from(duration.as_millis().min(CENTURY_MS)).unwrap_or(i64::MAX)
}

fn corrupt(id: &str, reason: impl ToString) -> QueueError {
    QueueError::Corrupt { id: id.to_owned(), reason: reason.to_string() }
}

fn envelope(id: &str, json: &str) -> Result<QueuedEnvelope, QueueError> {
    serde_json::from_str(json).map_err(|e| corrupt(id, format!("envelope: {e}")))
}

fn index(id: &str, idx: i32) -> Result<usize, QueueError> {
    usize::try_from(idx).map_err(|_| corrupt(id, format!("recipient index {idx}")))
}

fn size(size: i64) -> u64 {
    u64::try_from(size).unwrap_or(0)
}

/// A statement through the connection's cache of prepared statements.
async fn query(
    client: &impl GenericClient,
    what: &str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, QueueError> {
    let statement = client.prepare_cached(sql).await.map_err(db_error(what))?;
    client.query(&statement, params).await.map_err(db_error(what))
}

async fn execute(
    client: &impl GenericClient,
    what: &str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, QueueError> {
    let statement = client.prepare_cached(sql).await.map_err(db_error(what))?;
    client.execute(&statement, params).await.map_err(db_error(what))
}

async fn begin<'a>(client: &'a mut Object) -> Result<Transaction<'a>, QueueError> {
    client.transaction().await.map_err(db_error("start a transaction"))
}

async fn commit(tx: Transaction<'_>) -> Result<(), QueueError> {
    tx.commit().await.map_err(db_error("commit"))
}

/// A message ready to insert: everything read and encoded before the transaction.
struct Prepared {
    id: String,
    arrived: SystemTime,
    size: i64,
    envelope: String,
    body: Bytes,
    recipients: i32,
}

impl Prepared {
    async fn new(message: NewMessage) -> Result<Prepared, QueueError> {
        let id = message.id.as_str().to_owned();
        let body = match message.body {
            Body::Memory(bytes) => bytes,
            Body::Spooled { path, offset } => {
                let context = format!("read the spooled message {}", path.display());
                let bytes = tokio::fs::read(&path).await.map_err(QueueError::io(&context))?;
                let offset = usize::try_from(offset).unwrap_or(usize::MAX);
                if offset > bytes.len() {
                    return Err(QueueError::Io {
                        context,
                        source: std::io::Error::other("the file is shorter than its offset"),
                    });
                }
                Bytes::from(bytes).slice(offset..)
            }
        };
        // The arrival is kept in the envelope; the column orders listings (clamped to
        // the year 9999, which every timestamp type holds).
        let arrived_secs = message.envelope.arrived.min(253_402_300_799);
        Ok(Prepared {
            arrived: UNIX_EPOCH + Duration::from_secs(arrived_secs),
            size: i64::try_from(body.len()).unwrap_or(i64::MAX),
            envelope: serde_json::to_string(&message.envelope).map_err(|e| corrupt(&id, e))?,
            recipients: i32::try_from(message.envelope.recipients.len())
                .map_err(|_| corrupt(&id, "too many recipients"))?,
            body,
            id,
        })
    }

    /// Stores the message and its recipients in one statement: on its own it is one
    /// transaction and one round trip (an enqueue), inside a transaction a part of it (the
    /// notices of a settlement).
    async fn insert(&self, client: &impl GenericClient) -> Result<(), QueueError> {
        let body: &[u8] = &self.body;
        execute(
            client,
            "store the message",
            "WITH message AS (
                 INSERT INTO messages (id, arrived, size, envelope, body)
                 VALUES ($1, $2, $3, $4::text::json, $5)
                 RETURNING id
             )
             INSERT INTO recipients (message_id, idx)
             SELECT message.id, generate_series(0, $6::integer - 1) FROM message",
            &[&self.id, &self.arrived, &self.size, &self.envelope, &body, &self.recipients],
        )
        .await
        .map(drop)
    }
}

async fn prepare_all(messages: Vec<NewMessage>) -> Result<Vec<Prepared>, QueueError> {
    let mut prepared = Vec::with_capacity(messages.len());
    for message in messages {
        prepared.push(Prepared::new(message).await?);
    }
    Ok(prepared)
}

/// The claimed recipients of one message (rows of `idx, attempts, last_error`), in
/// envelope order.
fn claimed(id: &str, rows: &[&Row]) -> Result<Vec<ClaimedRecipient>, QueueError> {
    let mut recipients = Vec::with_capacity(rows.len());
    for row in rows {
        recipients.push(ClaimedRecipient {
            index: index(id, row.get("idx"))?,
            attempts: u32::try_from(row.get::<_, i32>("attempts")).unwrap_or(0),
            last_error: row.get("last_error"),
        });
    }
    recipients.sort_by_key(|r| r.index);
    Ok(recipients)
}

/// The lease columns of the rows of one claim (they share token and expiry).
fn lease_of(id: &QueueId, owner: &str, row: &Row) -> Lease {
    Lease {
        id: id.clone(),
        token: u64::try_from(row.get::<_, i64>("lease_token")).unwrap_or(0),
        owner: owner.to_owned(),
        expires: row.get("lease_expires"),
    }
}

const LEASE_RETURNING: &str = "RETURNING message_id, idx, attempts, last_error, lease_token, \
                               lease_expires";

async fn claim_due(
    client: &mut Object,
    owner: &str,
    lease: Duration,
    max_messages: usize,
) -> Result<Vec<Claim>, QueueError> {
    let limit = i64::try_from(max_messages).unwrap_or(i64::MAX);
    // How many due rows to look at: enough for `max_messages` messages with several
    // recipients each, even when other workers hold a few of them right now.
    let window = limit.saturating_mul(8).saturating_add(64);
    let tx = begin(client).await?;
    let locked = query(
        &tx,
        "find due messages",
        "WITH candidates AS (
             SELECT message_id, min(due) AS first_due
             FROM (SELECT message_id, due FROM recipients
                   WHERE due <= now() ORDER BY due LIMIT $2) AS due_rows
             GROUP BY message_id
         )
         SELECT m.id, m.size, m.envelope::text AS envelope
         FROM messages m JOIN candidates c ON c.message_id = m.id
         ORDER BY c.first_due, m.id
         LIMIT $1
         FOR UPDATE OF m SKIP LOCKED",
        &[&limit, &window],
    )
    .await?;
    let mut messages = Vec::with_capacity(locked.len());
    for row in &locked {
        let id: &str = row.get("id");
        // An unreadable entry stays queued for an administrator, untouched (not leased);
        // the rest of the queue goes on.
        let readable = QueueId::try_from(id.to_owned())
            .map_err(|e| corrupt(id, e))
            .and_then(|queue_id| Ok((queue_id, envelope(id, row.get("envelope"))?)));
        match readable {
            Ok((queue_id, envelope)) => messages.push((queue_id, size(row.get("size")), envelope)),
            Err(e) => tracing::warn!(queue_id = %id, error = %e, "unreadable queue entry"),
        }
    }
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = messages.iter().map(|(id, _, _)| id.as_str()).collect();
    // One token per message, drawn once (a CTE with a volatile function is evaluated
    // once per row of it).
    let sql = format!(
        "WITH tokens AS (SELECT id, nextval('lease_tokens') AS token
                         FROM unnest($1::text[]) AS id)
         UPDATE recipients r
         SET lease_owner = $2, lease_token = t.token,
             lease_expires = now() + $3::bigint * interval '1 millisecond'
         FROM tokens t
         WHERE r.message_id = t.id AND r.due <= now()
         {LEASE_RETURNING}"
    );
    let leased = query(&tx, "lease the recipients", &sql, &[&ids, &owner, &millis(lease)]).await?;
    commit(tx).await?;
    let mut by_message: HashMap<&str, Vec<&Row>> = HashMap::new();
    for row in &leased {
        by_message.entry(row.get("message_id")).or_default().push(row);
    }
    let mut claims = Vec::with_capacity(messages.len());
    for (id, size, envelope) in messages {
        // A message whose due recipients another claim took meanwhile has no rows.
        let Some(rows) = by_message.get(id.as_str()) else { continue };
        claims.push(Claim {
            lease: lease_of(&id, owner, rows[0]),
            envelope,
            recipients: claimed(id.as_str(), rows)?,
            size,
        });
    }
    Ok(claims)
}

async fn claim_one(
    client: &mut Object,
    id: &QueueId,
    owner: &str,
    lease: Duration,
) -> Result<Claim, QueueError> {
    let tx = begin(client).await?;
    let found = query(
        &tx,
        "lock the message",
        "SELECT size, envelope::text AS envelope FROM messages WHERE id = $1 FOR UPDATE",
        &[&id.as_str()],
    )
    .await?;
    let Some(message) = found.first() else { return Err(QueueError::NotFound(id.clone())) };
    let held = query(
        &tx,
        "look for leases",
        "SELECT lease_owner FROM recipients
         WHERE message_id = $1 AND lease_expires > now() LIMIT 1",
        &[&id.as_str()],
    )
    .await?;
    if let Some(row) = held.first() {
        return Err(QueueError::Busy { id: id.clone(), owner: row.get("lease_owner") });
    }
    let sql = format!(
        "UPDATE recipients
         SET lease_owner = $2, lease_token = (SELECT nextval('lease_tokens')),
             lease_expires = now() + $3::bigint * interval '1 millisecond'
         WHERE message_id = $1
         {LEASE_RETURNING}"
    );
    let leased =
        query(&tx, "lease the recipients", &sql, &[&id.as_str(), &owner, &millis(lease)]).await?;
    let Some(first) = leased.first() else { return Err(QueueError::NotFound(id.clone())) };
    let claim = Claim {
        lease: lease_of(id, owner, first),
        envelope: envelope(id.as_str(), message.get("envelope"))?,
        recipients: claimed(id.as_str(), &leased.iter().collect::<Vec<_>>())?,
        size: size(message.get("size")),
    };
    commit(tx).await?;
    Ok(claim)
}

/// The outcomes by recipient, as three lists for `unnest` (the first outcome given for
/// an index counts, as in the file queue).
#[derive(Default)]
struct Outcomes {
    done: Vec<i32>,
    deferred: Vec<i32>,
    deferred_ms: Vec<i64>,
    deferred_errors: Vec<String>,
}

async fn settle_lease(
    client: &mut Object,
    lease: &Lease,
    outcomes: &[(usize, Settlement)],
    notices: &[Prepared],
) -> Result<(), QueueError> {
    let lost = || QueueError::LeaseLost { id: lease.id.clone(), token: lease.token };
    let token = i64::try_from(lease.token).map_err(|_| lost())?;
    let mut first: BTreeMap<usize, &Settlement> = BTreeMap::new();
    for (index, settlement) in outcomes {
        first.entry(*index).or_insert(settlement);
    }
    let mut sorted = Outcomes::default();
    for (index, settlement) in first {
        let index = i32::try_from(index).map_err(|_| lost())?;
        match settlement {
            Settlement::Delivered | Settlement::Failed => sorted.done.push(index),
            Settlement::Deferred { retry_after, error } => {
                sorted.deferred.push(index);
                sorted.deferred_ms.push(millis(*retry_after));
                sorted.deferred_errors.push(error.clone());
            }
        }
    }
    let id = lease.id.as_str();
    let tx = begin(client).await?;
    // The message row first: the locking order of every writer (no deadlocks).
    let found =
        query(&tx, "lock the message", "SELECT 1 FROM messages WHERE id = $1 FOR UPDATE", &[&id])
            .await?;
    if found.is_empty() {
        return Err(lost());
    }
    let held: Vec<i32> = query(
        &tx,
        "check the lease",
        "SELECT idx FROM recipients
         WHERE message_id = $1 AND lease_token = $2 AND lease_owner = $3 FOR UPDATE",
        &[&id, &token, &lease.owner],
    )
    .await?
    .iter()
    .map(|row| row.get("idx"))
    .collect();
    let all_held = sorted.done.iter().chain(&sorted.deferred).all(|i| held.contains(i));
    if held.is_empty() || !all_held {
        // Dropping the transaction rolls it back: nothing was written.
        return Err(lost());
    }
    for notice in notices {
        notice.insert(&tx).await?;
    }
    execute(
        &tx,
        "remove finished recipients",
        "DELETE FROM recipients WHERE message_id = $1 AND lease_token = $2 AND idx = ANY($3)",
        &[&id, &token, &sorted.done],
    )
    .await?;
    execute(
        &tx,
        "defer recipients",
        "UPDATE recipients r
         SET attempts = LEAST(r.attempts, 2147483646) + 1,
             next_attempt = now() + d.ms * interval '1 millisecond',
             last_error = d.error,
             lease_owner = NULL, lease_token = NULL, lease_expires = NULL
         FROM unnest($3::integer[], $4::bigint[], $5::text[]) AS d(idx, ms, error)
         WHERE r.message_id = $1 AND r.lease_token = $2 AND r.idx = d.idx",
        &[&id, &token, &sorted.deferred, &sorted.deferred_ms, &sorted.deferred_errors],
    )
    .await?;
    // Claimed recipients without an outcome are due again at once.
    execute(
        &tx,
        "release recipients",
        "UPDATE recipients SET lease_owner = NULL, lease_token = NULL, lease_expires = NULL
         WHERE message_id = $1 AND lease_token = $2",
        &[&id, &token],
    )
    .await?;
    execute(
        &tx,
        "remove a finished message",
        "DELETE FROM messages
         WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM recipients WHERE message_id = $1)",
        &[&id],
    )
    .await?;
    commit(tx).await
}

/// Messages (`id, size, envelope`) and their recipients, in one snapshot; `only` limits
/// it to one message.
async fn messages(
    client: &mut Object,
    only: Option<&QueueId>,
) -> Result<Vec<Result<QueuedMessage, QueueError>>, QueueError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db_error("start a transaction"))?;
    let only = only.map(QueueId::as_str);
    let rows = query(
        &tx,
        "list the messages",
        "SELECT id, size, envelope::text AS envelope FROM messages
         WHERE $1::text IS NULL OR id = $1 ORDER BY arrived, id",
        &[&only],
    )
    .await?;
    let recipients = query(
        &tx,
        "list the recipients",
        "SELECT message_id, idx, attempts, next_attempt, last_error, lease_owner,
                lease_expires, lease_expires > now() AS live
         FROM recipients WHERE $1::text IS NULL OR message_id = $1 ORDER BY message_id, idx",
        &[&only],
    )
    .await?;
    commit(tx).await?;
    let mut pending: HashMap<&str, Vec<RecipientStatus>> = HashMap::new();
    for row in &recipients {
        let id: &str = row.get("message_id");
        let live: Option<bool> = row.get("live");
        let leased_to = match (live, row.get("lease_owner"), row.get("lease_expires")) {
            (Some(true), Some(owner), Some(expires)) => Some((owner, expires)),
            _ => None,
        };
        pending.entry(id).or_default().push(RecipientStatus {
            index: index(id, row.get("idx"))?,
            attempts: u32::try_from(row.get::<_, i32>("attempts")).unwrap_or(0),
            next_attempt: row.get("next_attempt"),
            last_error: row.get("last_error"),
            leased_to,
        });
    }
    Ok(rows
        .iter()
        .map(|row| {
            let id: &str = row.get("id");
            Ok(QueuedMessage {
                id: QueueId::try_from(id.to_owned()).map_err(|e| corrupt(id, e))?,
                envelope: envelope(id, row.get("envelope"))?,
                pending: pending.remove(id).unwrap_or_default(),
                size: size(row.get("size")),
            })
        })
        .collect())
}

impl QueueStore for PostgresQueue {
    /// The database keeps its own copy of every message.
    fn copies_content(&self) -> bool {
        true
    }

    async fn enqueue(&self, message: NewMessage) -> Result<(), QueueError> {
        let prepared = Prepared::new(message).await?;
        // One statement, committed on its own: the server answers 250 after this.
        with_client!(self, "enqueue", |client| prepared.insert(&*client))?;
        self.announce();
        Ok(())
    }

    async fn claim(
        &self,
        owner: &str,
        lease: Duration,
        max_messages: usize,
    ) -> Result<Vec<Claim>, QueueError> {
        if max_messages == 0 {
            return Ok(Vec::new());
        }
        with_client!(self, "claim", |client| claim_due(client, owner, lease, max_messages))
    }

    async fn claim_message(
        &self,
        id: &QueueId,
        owner: &str,
        lease: Duration,
    ) -> Result<Claim, QueueError> {
        with_client!(self, "claim a message", |client| claim_one(client, id, owner, lease))
    }

    async fn renew(&self, lease: &Lease, extension: Duration) -> Result<Lease, QueueError> {
        let lost = || QueueError::LeaseLost { id: lease.id.clone(), token: lease.token };
        let token = i64::try_from(lease.token).map_err(|_| lost())?;
        let rows = with_client!(self, "renew a lease", |client| async {
            query(
                &*client,
                "renew the lease",
                "UPDATE recipients
                 SET lease_expires = now() + $4::bigint * interval '1 millisecond'
                 WHERE message_id = $1 AND lease_token = $2 AND lease_owner = $3
                 RETURNING lease_expires",
                &[&lease.id.as_str(), &token, &lease.owner, &millis(extension)],
            )
            .await
        })?;
        let expires = rows.first().ok_or_else(lost)?.get("lease_expires");
        Ok(Lease { expires, ..lease.clone() })
    }

    async fn body(&self, id: &QueueId) -> Result<Bytes, QueueError> {
        let rows = with_client!(self, "read a message", |client| query(
            &*client,
            "read the message",
            "SELECT body FROM messages WHERE id = $1",
            &[&id.as_str()],
        ))?;
        let row = rows.first().ok_or_else(|| QueueError::NotFound(id.clone()))?;
        Ok(Bytes::from(row.get::<_, Vec<u8>>("body")))
    }

    async fn settle(
        &self,
        lease: &Lease,
        outcomes: &[(usize, Settlement)],
        notices: Vec<NewMessage>,
    ) -> Result<(), QueueError> {
        let notices = prepare_all(notices).await?;
        with_client!(self, "settle", |client| settle_lease(client, lease, outcomes, &notices))?;
        if !notices.is_empty() {
            self.announce();
        }
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<SystemTime>, QueueError> {
        let rows = with_client!(self, "find the next due time", |client| query(
            &*client,
            "find the next due time",
            "SELECT min(due) FROM recipients",
            &[],
        ))?;
        Ok(rows.first().and_then(|row| row.get(0)))
    }

    async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.inner.listener.wake.notified()).await;
    }

    async fn list(&self) -> Result<Vec<QueuedMessage>, QueueError> {
        let all = with_client!(self, "list the queue", |client| messages(client, None))?;
        Ok(all
            .into_iter()
            .filter_map(|message| {
                message.map_err(|e| tracing::warn!(error = %e, "unreadable queue entry")).ok()
            })
            .collect())
    }

    async fn show(&self, id: &QueueId) -> Result<QueuedMessage, QueueError> {
        let found = with_client!(self, "show a message", |client| messages(client, Some(id)))?;
        found.into_iter().next().unwrap_or_else(|| Err(QueueError::NotFound(id.clone())))
    }

    async fn retry(&self, id: &QueueId) -> Result<(), QueueError> {
        with_client!(self, "retry a message", |client| async {
            let tx = begin(client).await?;
            let found = query(
                &tx,
                "lock the message",
                "SELECT 1 FROM messages WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )
            .await?;
            if found.is_empty() {
                return Err(QueueError::NotFound(id.clone()));
            }
            execute(
                &tx,
                "make the message due",
                "UPDATE recipients SET next_attempt = LEAST(next_attempt, now())
                 WHERE message_id = $1",
                &[&id.as_str()],
            )
            .await?;
            commit(tx).await
        })?;
        self.announce();
        Ok(())
    }

    async fn delete(&self, id: &QueueId) -> Result<(), QueueError> {
        // One statement: its own transaction; the cascade removes the recipients.
        let deleted = with_client!(self, "delete a message", |client| execute(
            &*client,
            "delete the message",
            "DELETE FROM messages WHERE id = $1",
            &[&id.as_str()],
        ))?;
        if deleted == 0 { Err(QueueError::NotFound(id.clone())) } else { Ok(()) }
    }
}
