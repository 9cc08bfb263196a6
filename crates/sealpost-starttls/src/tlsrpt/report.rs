//! The aggregate TLS-RPT report (RFC 8460 section 4): per-policy session counts and
//! failure details for one UTC day, written as the RFC's JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, Month, OffsetDateTime};

use super::{Policy, ResultType};

/// One failed session, as the sending MTA saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Failure {
    /// Why it failed.
    pub result_type: ResultType,
    /// The sending MTA's address.
    pub sending_mta_ip: Option<IpAddr>,
    /// The MX host name connected to.
    pub receiving_mx_hostname: Option<String>,
    /// The name the MX host gave in its greeting or EHLO reply.
    pub receiving_mx_helo: Option<String>,
    /// The MX address connected to.
    pub receiving_ip: Option<IpAddr>,
    /// A code for the failure from the TLS stack (free text).
    pub failure_reason_code: Option<String>,
    /// A URI with more information.
    pub additional_information: Option<String>,
}

impl Failure {
    /// A failure with only its result type set.
    ///
    /// ```
    /// use sealpost_starttls::tlsrpt::{Failure, ResultType};
    ///
    /// let f = Failure::new(ResultType::CertificateExpired).with_mx("mx1.example.org");
    /// assert_eq!(f.receiving_mx_hostname.as_deref(), Some("mx1.example.org"));
    /// ```
    pub fn new(result_type: ResultType) -> Failure {
        Failure {
            result_type,
            sending_mta_ip: None,
            receiving_mx_hostname: None,
            receiving_mx_helo: None,
            receiving_ip: None,
            failure_reason_code: None,
            additional_information: None,
        }
    }

    /// Sets the MX host name.
    pub fn with_mx(mut self, hostname: impl Into<String>) -> Failure {
        self.receiving_mx_hostname = Some(hostname.into());
        self
    }

    /// Sets the sending and receiving addresses.
    pub fn with_ips(mut self, sending: Option<IpAddr>, receiving: Option<IpAddr>) -> Failure {
        self.sending_mta_ip = sending;
        self.receiving_ip = receiving;
        self
    }

    /// Sets the failure reason code.
    pub fn with_reason_code(mut self, code: impl Into<String>) -> Failure {
        self.failure_reason_code = Some(code.into());
        self
    }
}

/// Failures with the same details, counted (RFC 8460 section 4.4, `failure-details`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FailureDetails {
    /// Why the sessions failed.
    #[serde(rename = "result-type")]
    pub result_type: ResultType,
    /// The sending MTA's address.
    #[serde(rename = "sending-mta-ip", default, skip_serializing_if = "Option::is_none")]
    pub sending_mta_ip: Option<IpAddr>,
    /// The MX host name.
    #[serde(rename = "receiving-mx-hostname", default, skip_serializing_if = "Option::is_none")]
    pub receiving_mx_hostname: Option<String>,
    /// The MX host's HELO name.
    #[serde(rename = "receiving-mx-helo", default, skip_serializing_if = "Option::is_none")]
    pub receiving_mx_helo: Option<String>,
    /// The MX address.
    #[serde(rename = "receiving-ip", default, skip_serializing_if = "Option::is_none")]
    pub receiving_ip: Option<IpAddr>,
    /// How many sessions failed this way.
    #[serde(rename = "failed-session-count")]
    pub failed_session_count: u64,
    /// A URI with more information.
    #[serde(rename = "additional-information", default, skip_serializing_if = "Option::is_none")]
    pub additional_information: Option<String>,
    /// A code from the TLS stack.
    #[serde(rename = "failure-reason-code", default, skip_serializing_if = "Option::is_none")]
    pub failure_reason_code: Option<String>,
}

/// Session counts of one policy (RFC 8460 section 4.4, `summary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Sessions that negotiated TLS as the policy asked.
    #[serde(rename = "total-successful-session-count")]
    pub total_successful_session_count: u64,
    /// Sessions that did not.
    #[serde(rename = "total-failure-session-count")]
    pub total_failure_session_count: u64,
}

/// The results of one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PolicyResults {
    /// The policy.
    pub policy: Policy,
    /// The counts.
    pub summary: Summary,
    /// The failures, grouped by identical details.
    #[serde(rename = "failure-details", default, skip_serializing_if = "Vec::is_empty")]
    pub failure_details: Vec<FailureDetails>,
}

/// The report period (RFC 8460 section 4.4, `date-range`), as RFC 3339 date-times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DateRange {
    /// The first second of the period.
    #[serde(rename = "start-datetime")]
    pub start_datetime: String,
    /// The last second of the period.
    #[serde(rename = "end-datetime")]
    pub end_datetime: String,
}

/// A TLS-RPT aggregate report (RFC 8460 section 4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// Who sends the report.
    #[serde(rename = "organization-name")]
    pub organization_name: String,
    /// The period covered.
    #[serde(rename = "date-range")]
    pub date_range: DateRange,
    /// Where to write about the report (an address or URI).
    #[serde(rename = "contact-info")]
    pub contact_info: String,
    /// A unique identifier of this report.
    #[serde(rename = "report-id")]
    pub report_id: String,
    /// The results, one entry per policy.
    pub policies: Vec<PolicyResults>,
}

impl Report {
    /// The report as JSON (RFC 8460 section 4.4).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Reads a report from JSON.
    pub fn from_json(json: &str) -> Result<Report, serde_json::Error> {
        serde_json::from_str(json)
    }
}

impl Serialize for ResultType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResultType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ResultType::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown result-type {s:?}")))
    }
}

/// A calendar day in UTC, the period of a daily report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(Date);

/// A date that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:04}-{1:02}-{2:02} is not a valid date")]
pub struct InvalidDate(pub u16, pub u8, pub u8);

/// Text that is not a day in the form `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a day in the form YYYY-MM-DD")]
pub struct InvalidDay(pub String);

/// `YYYY-MM-DD`, the form of RFC 3339's `full-date`.
const FULL_DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");

impl Day {
    /// The day `year`-`month`-`day` (years 1 to 9999).
    ///
    /// ```
    /// use sealpost_starttls::tlsrpt::Day;
    ///
    /// assert!(Day::new(2024, 2, 29).is_ok());
    /// assert!(Day::new(2023, 2, 29).is_err());
    /// ```
    pub fn new(year: u16, month: u8, day: u8) -> Result<Day, InvalidDate> {
        let invalid = || InvalidDate(year, month, day);
        if year == 0 {
            return Err(invalid());
        }
        let month_value = Month::try_from(month).map_err(|_| invalid())?;
        // Without time's `large-dates` feature, 9999 is the last year it takes.
        Date::from_calendar_date(i32::from(year), month_value, day).map(Day).map_err(|_| invalid())
    }

    /// The UTC day containing `unix_seconds` (seconds since 1970-01-01T00:00:00Z); the
    /// last day of year 9999 for anything later.
    ///
    /// ```
    /// use sealpost_starttls::tlsrpt::Day;
    ///
    /// assert_eq!(Day::from_unix(1_459_468_800).to_string(), "2016-04-01");
    /// ```
    pub fn from_unix(unix_seconds: u64) -> Day {
        let time = i64::try_from(unix_seconds)
            .ok()
            .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok());
        Day(time.map_or(Date::MAX, OffsetDateTime::date))
    }

    /// The day's range: `T00:00:00Z` to `T23:59:59Z`.
    pub fn date_range(&self) -> DateRange {
        DateRange {
            start_datetime: format!("{self}T00:00:00Z"),
            end_datetime: format!("{self}T23:59:59Z"),
        }
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Years 1 to 9999 (see `new`) always have four digits: formatting cannot fail.
        f.write_str(&self.0.format(FULL_DATE).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for Day {
    type Err = InvalidDay;

    /// Parses `YYYY-MM-DD` (what `Display` writes).
    ///
    /// ```
    /// use sealpost_starttls::tlsrpt::Day;
    ///
    /// assert_eq!("2016-04-01".parse::<Day>().unwrap(), Day::new(2016, 4, 1).unwrap());
    /// assert!("2016-4-1".parse::<Day>().is_err());
    /// assert!("2016-02-30".parse::<Day>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Day, InvalidDay> {
        match Date::parse(s, FULL_DATE) {
            Ok(date) if date.year() >= 1 => Ok(Day(date)),
            _ => Err(InvalidDay(s.to_owned())),
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Tally {
    successes: u64,
    failures: BTreeMap<Failure, u64>,
}

/// Collects session results for one day and builds the [`Report`].
///
/// ```
/// use sealpost_starttls::tlsrpt::{Day, Failure, Policy, PolicyType, ReportCollector, ResultType};
///
/// let mut c = ReportCollector::new(Day::new(2016, 4, 1).unwrap());
/// let p = Policy::new(PolicyType::NoPolicyFound, "example.org");
/// c.success(&p);
/// c.failure(&p, Failure::new(ResultType::StarttlsNotSupported).with_mx("mx.example.org"));
/// let report = c.report("Example Sender", "tlsrpt@example.net", "2016-04-01-1");
/// assert_eq!(report.policies[0].summary.total_successful_session_count, 1);
/// assert_eq!(report.policies[0].failure_details[0].failed_session_count, 1);
/// ```
#[derive(Debug, Clone)]
pub struct ReportCollector {
    day: Day,
    policies: BTreeMap<Policy, Tally>,
}

impl ReportCollector {
    /// An empty collection for `day`.
    pub fn new(day: Day) -> ReportCollector {
        ReportCollector { day, policies: BTreeMap::new() }
    }

    /// The day collected.
    pub fn day(&self) -> Day {
        self.day
    }

    /// Counts a successful session held to `policy`.
    pub fn success(&mut self, policy: &Policy) {
        self.policies.entry(policy.clone()).or_default().successes += 1;
    }

    /// Counts a failed session held to `policy`.
    pub fn failure(&mut self, policy: &Policy, failure: Failure) {
        *self.policies.entry(policy.clone()).or_default().failures.entry(failure).or_default() += 1;
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The report of what was collected.
    pub fn report(
        &self,
        organization_name: impl Into<String>,
        contact_info: impl Into<String>,
        report_id: impl Into<String>,
    ) -> Report {
        let policies = self
            .policies
            .iter()
            .map(|(policy, tally)| {
                let failure_details: Vec<FailureDetails> = tally
                    .failures
                    .iter()
                    .map(|(f, count)| FailureDetails {
                        result_type: f.result_type,
                        sending_mta_ip: f.sending_mta_ip,
                        receiving_mx_hostname: f.receiving_mx_hostname.clone(),
                        receiving_mx_helo: f.receiving_mx_helo.clone(),
                        receiving_ip: f.receiving_ip,
                        failed_session_count: *count,
                        additional_information: f.additional_information.clone(),
                        failure_reason_code: f.failure_reason_code.clone(),
                    })
                    .collect();
                PolicyResults {
                    policy: policy.clone(),
                    summary: Summary {
                        total_successful_session_count: tally.successes,
                        total_failure_session_count: failure_details
                            .iter()
                            .map(|d| d.failed_session_count)
                            .sum(),
                    },
                    failure_details,
                }
            })
            .collect();
        Report {
            organization_name: organization_name.into(),
            date_range: self.day.date_range(),
            contact_info: contact_info.into(),
            report_id: report_id.into(),
            policies,
        }
    }
}
