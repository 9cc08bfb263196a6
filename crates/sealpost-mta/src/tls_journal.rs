//! The outbound TLS journal: one JSON line per relay connection attempt in
//! `DATA_DIR/tls-report/YYYY-MM-DD.jsonl` (UTC days), and what `sealpost serve
//! --tls-summary` makes of a day of it: how much mail went encrypted and verified, per
//! destination, and optionally the RFC 8460 (TLS-RPT) report of that day.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sealpost_starttls::tlsrpt::{Day, Failure, Policy, PolicyType, ReportCollector, ResultType};
use serde::{Deserialize, Serialize};

/// One connection attempt of the relay worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Entry {
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The recipient domain.
    pub domain: String,
    /// The host that was reached (or tried).
    pub mx: Option<String>,
    /// The level asked for.
    pub level: String,
    /// `verified`, `untrusted` or `none`.
    pub trust: String,
    /// TLS version and cipher, when there was a session.
    pub tls: Option<String>,
    /// The RFC 8460 result type of a TLS failure.
    pub result_type: Option<String>,
    /// Recipients delivered, deferred and failed by this attempt.
    pub delivered: usize,
    /// Recipients deferred by this attempt.
    pub deferred: usize,
    /// Recipients failed by this attempt.
    pub failed: usize,
    /// The published policy the attempt was held to (DANE TLSA or MTA-STS); absent when
    /// only the local configuration applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
}

impl Entry {
    /// An attempt at `time` for `domain` at `level`, with no TLS and no recipients yet.
    pub fn new(time: u64, domain: &str, level: String) -> Self {
        Entry {
            time,
            domain: domain.to_owned(),
            mx: None,
            level,
            trust: String::from("none"),
            tls: None,
            result_type: None,
            delivered: 0,
            deferred: 0,
            failed: 0,
            policy: None,
        }
    }
}

/// Why a day of the journal could not be read or reported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The day's file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line of the file is not an [`Entry`].
    #[error("{} line {line}: not a journal entry: {source}", path.display())]
    Entry {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The report could not be written as JSON.
    #[error("cannot write the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Appends entries to the day's file.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    lock: Mutex<()>,
}

/// Seconds since the Unix epoch (the journal's clock).
pub fn unix_now() -> u64 {
    crate::clock::unix_now()
}

fn today(time: u64) -> String {
    Day::from_unix(time).to_string()
}

impl Journal {
    /// The journal of the data directory `data_dir` (its `tls-report/` folder).
    pub fn new(data_dir: &Path) -> Self {
        Journal { dir: data_dir.join("tls-report"), lock: Mutex::new(()) }
    }

    /// Appends `entry`; a failure is logged, never fatal (the journal is a report).
    pub fn record(&self, entry: &Entry) {
        let _guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let path = self.dir.join(format!("{}.jsonl", today(entry.time)));
        let result = (|| {
            std::fs::create_dir_all(&self.dir)?;
            let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
            line.push(b'\n');
            std::fs::OpenOptions::new().create(true).append(true).open(&path)?.write_all(&line)
        })();
        if let Err(e) = result {
            tracing::warn!(file = %path.display(), error = %e, "cannot write the TLS journal");
        }
    }
}

/// Reads a day of the journal. The day is a [`Day`], never text: its file name is made
/// from it, so nothing but `YYYY-MM-DD` reaches the path.
pub fn read_day(data_dir: &Path, day: Day) -> Result<Vec<Entry>, JournalError> {
    let path = data_dir.join("tls-report").join(format!("{day}.jsonl"));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(JournalError::Read { path, source }),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|source| JournalError::Entry {
                path: path.clone(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// The summary `--tls-summary` prints.
pub fn summary(day: Day, entries: &[Entry]) -> String {
    #[derive(Default)]
    struct Counts {
        attempts: usize,
        verified: usize,
        untrusted: usize,
        none: usize,
        delivered: usize,
        delivered_verified: usize,
        delivered_encrypted: usize,
    }
    let add = |c: &mut Counts, e: &Entry| {
        c.attempts += 1;
        match e.trust.as_str() {
            "verified" => c.verified += 1,
            "untrusted" => c.untrusted += 1,
            _ => c.none += 1,
        }
        c.delivered += e.delivered;
        if e.trust == "verified" {
            c.delivered_verified += e.delivered;
        }
        if e.trust != "none" {
            c.delivered_encrypted += e.delivered;
        }
    };
    let mut all = Counts::default();
    let mut by_domain: BTreeMap<&str, Counts> = BTreeMap::new();
    for e in entries {
        add(&mut all, e);
        add(by_domain.entry(&e.domain).or_default(), e);
    }
    let percent = |part: usize, whole: usize| {
        if whole == 0 {
            String::from("-")
        } else {
            format!("{:.1}%", 100.0 * part as f64 / whole as f64)
        }
    };
    let mut out = format!(
        "outbound TLS on {day} (UTC): {} connection attempt(s), {} recipient(s) delivered\n\
         delivered encrypted: {} ({}), of which verified: {} ({})\n\
         attempts: {} verified, {} untrusted, {} without TLS\n",
        all.attempts,
        all.delivered,
        all.delivered_encrypted,
        percent(all.delivered_encrypted, all.delivered),
        all.delivered_verified,
        percent(all.delivered_verified, all.delivered),
        all.verified,
        all.untrusted,
        all.none,
    );
    for (domain, c) in &by_domain {
        out.push_str(&format!(
            "  {domain}: {} attempt(s), {} delivered, {} encrypted, {} verified\n",
            c.attempts,
            c.delivered,
            percent(c.delivered_encrypted, c.delivered),
            percent(c.delivered_verified, c.delivered)
        ));
    }
    out
}

/// The RFC 8460 report of a day: sessions grouped by the policy they were held to: the
/// destination's DANE TLSA records or MTA-STS policy, or `no-policy-found` where only
/// the levels of the configuration (local policy, not a published one) applied.
pub fn tls_rpt(
    day: Day,
    entries: &[Entry],
    organization: &str,
    contact: &str,
) -> Result<String, JournalError> {
    let mut collector = ReportCollector::new(day);
    for e in entries {
        let policy = e
            .policy
            .clone()
            .unwrap_or_else(|| Policy::new(PolicyType::NoPolicyFound, e.domain.clone()));
        match e.result_type.as_deref().and_then(ResultType::parse) {
            Some(result_type) => {
                let mut failure = Failure::new(result_type);
                if let Some(mx) = &e.mx {
                    failure = failure.with_mx(mx.clone());
                }
                collector.failure(&policy, failure);
            }
            None if e.trust == "none" && e.level != "none" => {
                collector.failure(&policy, Failure::new(ResultType::StarttlsNotSupported));
            }
            None => collector.success(&policy),
        }
    }
    let report = collector.report(organization, contact, format!("{day}-{organization}"));
    Ok(report.to_json()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(domain: &str, trust: &str, delivered: usize, result_type: Option<&str>) -> Entry {
        Entry {
            time: 1_795_990_000,
            domain: domain.to_owned(),
            mx: Some(format!("mx.{domain}")),
            level: String::from("may"),
            trust: trust.to_owned(),
            tls: (trust != "none").then(|| String::from("TLSv1.3 TLS_AES_256_GCM_SHA384")),
            result_type: result_type.map(str::to_owned),
            delivered,
            deferred: 0,
            failed: 0,
            policy: None,
        }
    }

    #[test]
    fn the_journal_round_trips_and_the_summary_counts_recipients() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        let entries = [
            entry("a.example", "verified", 3, None),
            entry("a.example", "untrusted", 1, None),
            entry("b.example", "none", 4, Some("starttls-not-supported")),
        ];
        for e in &entries {
            journal.record(e);
        }
        let day = Day::from_unix(entries[0].time);
        let read = read_day(dir.path(), day).unwrap();
        assert_eq!(read, entries);
        let text = summary(day, &read);
        assert!(text.contains("3 connection attempt(s), 8 recipient(s) delivered"), "{text}");
        assert!(
            text.contains("delivered encrypted: 4 (50.0%), of which verified: 3 (37.5%)"),
            "{text}"
        );
        assert!(text.contains("  b.example: 1 attempt(s), 4 delivered, 0.0% encrypted"), "{text}");
        assert!(read_day(dir.path(), Day::new(1999, 1, 1).unwrap()).unwrap().is_empty());
    }

    #[test]
    fn the_day_becomes_an_rfc_8460_report() {
        let entries = [
            entry("a.example", "verified", 1, None),
            entry("a.example", "none", 0, Some("certificate-host-mismatch")),
        ];
        let day = Day::new(2026, 11, 29).unwrap();
        let json = tls_rpt(day, &entries, "mx.example.org", "postmaster@example.org").unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["date-range"]["start-datetime"], "2026-11-29T00:00:00Z");
        let policy = &value["policies"][0];
        assert_eq!(policy["policy"]["policy-type"], "no-policy-found");
        assert_eq!(policy["summary"]["total-successful-session-count"], 1);
        assert_eq!(policy["summary"]["total-failure-session-count"], 1);
        assert_eq!(policy["failure-details"][0]["result-type"], "certificate-host-mismatch");
    }

    #[test]
    fn sessions_under_published_policies_are_reported_under_them() {
        let tlsa =
            Policy::new(PolicyType::Tlsa, "a.example").with_strings(vec!["3 1 1 00ff".into()]);
        let mut dane = entry("a.example", "verified", 1, None);
        dane.policy = Some(tlsa.clone());
        let mut refused = entry("a.example", "none", 0, Some("tlsa-invalid"));
        refused.policy = Some(tlsa);
        let local = entry("b.example", "untrusted", 1, None);
        // Old journal lines (without "policy") still read.
        let old: Entry = serde_json::from_str(
            r#"{"time":1,"domain":"c","mx":null,"level":"may","trust":"none","tls":null,
            "result_type":null,"delivered":1,"deferred":0,"failed":0}"#,
        )
        .unwrap();
        assert_eq!(old.policy, None);
        let day = Day::new(2026, 11, 29).unwrap();
        let json = tls_rpt(day, &[dane, refused, local], "mx", "pm@x").unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let policies = value["policies"].as_array().unwrap();
        let of = |kind: &str| {
            policies.iter().find(|p| p["policy"]["policy-type"] == kind).unwrap().clone()
        };
        let tlsa = of("tlsa");
        assert_eq!(tlsa["policy"]["policy-string"][0], "3 1 1 00ff");
        assert_eq!(tlsa["summary"]["total-successful-session-count"], 1);
        assert_eq!(tlsa["failure-details"][0]["result-type"], "tlsa-invalid");
        assert_eq!(of("no-policy-found")["policy"]["policy-domain"], "b.example");
    }
}
