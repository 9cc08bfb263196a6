//! SMTP TLS Reporting (RFC 8460): the result types a sending MTA records for each failed
//! session, and the daily JSON report built from them.
//!
//! The result types are shared by the outbound client (which records why a STARTTLS
//! session failed), the DANE verifier and the MTA-STS policy code. A
//! [`ReportCollector`] counts sessions per policy over a day and writes the [`Report`];
//! [`TlsRptRecord`] reads where a domain wants its reports (`_smtp._tls.<domain>`).

mod record;
mod report;
mod result_type;

pub use record::{ReportUri, TlsRptRecord, TlsRptRecordError};
pub use report::{
    DateRange, Day, Failure, FailureDetails, InvalidDate, InvalidDay, Policy, PolicyResults,
    PolicyType, Report, ReportCollector, Summary,
};
pub use result_type::ResultType;
