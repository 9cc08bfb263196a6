//! SMTP TLS Reporting (RFC 8460): the result types a sending MTA records for each failed
//! session, and the daily JSON report built from them.
//!
//! The result types and the policy description ([`ResultType`], [`Policy`],
//! [`PolicyType`]) are always available: the outbound client, the DANE verifier and the
//! MTA-STS code say why a session failed in these words. With the `tls-rpt` feature, a
//! `ReportCollector` counts sessions per policy over a day and writes the `Report` as the
//! RFC's JSON (serde), and `TlsRptRecord` reads where a domain wants its reports
//! (`_smtp._tls.<domain>`).

mod policy;
#[cfg(feature = "tls-rpt")]
mod record;
#[cfg(feature = "tls-rpt")]
mod report;
mod result_type;

pub use policy::{Policy, PolicyType};
#[cfg(feature = "tls-rpt")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls-rpt")))]
pub use record::{ReportUri, TlsRptRecord, TlsRptRecordError};
#[cfg(feature = "tls-rpt")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls-rpt")))]
pub use report::{
    DateRange, Day, Failure, FailureDetails, InvalidDate, InvalidDay, PolicyResults, Report,
    ReportCollector, Summary,
};
pub use result_type::ResultType;
