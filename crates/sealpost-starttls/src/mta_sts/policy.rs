//! The MTA-STS policy file (RFC 8461 section 3.2) and MX matching (section 4.1).

use std::fmt;

/// The largest `max_age` a policy may carry: one year (RFC 8461 section 3.2).
pub const MAX_MAX_AGE: u32 = 31_557_600;

/// What a sender does when no MX host passes the policy (RFC 8461 section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Deliver only to MX hosts that match the policy and present a valid certificate.
    Enforce,
    /// Report failures (TLS-RPT) but deliver anyway.
    Testing,
    /// No policy is in force (used to withdraw one).
    None,
}

impl Mode {
    /// The policy file's word for the mode.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `mx` pattern: a host name, or `*.` followed by a domain to match any single label
/// in its place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MxPattern {
    /// Lowercase, without a trailing dot, `*.` included for a wildcard.
    pattern: String,
}

impl MxPattern {
    /// Parses a pattern; `None` if it is not a host name or a `*.` wildcard over one.
    ///
    /// ```
    /// use sealpost_starttls::mta_sts::MxPattern;
    ///
    /// assert!(MxPattern::parse("*.example.com").is_some());
    /// assert!(MxPattern::parse("mx.*.example.com").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<MxPattern> {
        let lower = text.trim_end_matches('.').to_ascii_lowercase();
        let name = lower.strip_prefix("*.").unwrap_or(&lower);
        valid_host_name(name).then_some(MxPattern { pattern: lower })
    }

    /// Whether `host` (an MX host name) matches: exactly, or for `*.domain` by having
    /// exactly one more label than `domain` (RFC 8461 section 4.1: `*.example.com`
    /// matches `mx1.example.com`, not `example.com` nor `a.b.example.com`).
    ///
    /// ```
    /// use sealpost_starttls::mta_sts::MxPattern;
    ///
    /// let p = MxPattern::parse("*.example.com").unwrap();
    /// assert!(p.matches("MX1.example.com."));
    /// assert!(!p.matches("example.com"));
    /// assert!(!p.matches("a.b.example.com"));
    /// ```
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self.pattern.strip_prefix("*.") {
            Some(domain) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == domain),
            None => host == self.pattern,
        }
    }

    /// The pattern as written in the policy (lowercased).
    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

impl fmt::Display for MxPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Why a policy file was rejected (reported as `sts-policy-invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The body is not UTF-8 text.
    #[error("the policy is not UTF-8 text")]
    NotText,
    /// A line is not `key: value`.
    #[error("line {0}: not a \"key: value\" line")]
    BadLine(usize),
    /// A required field is missing.
    #[error("no {0} field")]
    Missing(&'static str),
    /// A single-valued field appears twice.
    #[error("the {0} field appears more than once")]
    Duplicate(&'static str),
    /// `version` is not `STSv1`.
    #[error("version {0:?} is not STSv1")]
    BadVersion(String),
    /// `mode` is not enforce, testing or none.
    #[error("mode {0:?} is not enforce, testing or none")]
    BadMode(String),
    /// `max_age` is not a number from 0 to 31557600.
    #[error("max_age {0:?} is not a number of seconds from 0 to 31557600")]
    BadMaxAge(String),
    /// An `mx` value is not a host name or `*.` wildcard.
    #[error("mx {0:?} is not a host name or a *. wildcard")]
    BadMx(String),
}

/// An MTA-STS policy (RFC 8461 section 3.2).
///
/// ```
/// use sealpost_starttls::mta_sts::{Mode, StsPolicy};
///
/// let p = StsPolicy::parse(
///     b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
/// )
/// .unwrap();
/// assert_eq!(p.mode, Mode::Enforce);
/// assert_eq!(p.max_age, 604800);
/// assert!(p.matches_mx("mx1.example.net"));
/// assert!(!p.matches_mx("mx1.example.org"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct StsPolicy {
    /// The mode.
    pub mode: Mode,
    /// The MX patterns (may be empty only in mode `none`).
    pub mx: Vec<MxPattern>,
    /// How long the policy may be cached, in seconds.
    pub max_age: u32,
}

impl StsPolicy {
    /// Parses a policy body. Lines end in CRLF or LF; unknown keys are ignored (section
    /// 3.2: extension fields); `mx` may repeat; other keys may not.
    pub fn parse(body: &[u8]) -> Result<StsPolicy, PolicyError> {
        let text = std::str::from_utf8(body).map_err(|_| PolicyError::NotText)?;
        let mut version = None;
        let mut mode = None;
        let mut max_age = None;
        let mut mx = Vec::new();
        for (n, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            let (key, value) = line.split_once(':').ok_or(PolicyError::BadLine(n + 1))?;
            let key = key.trim_matches(|c| c == ' ' || c == '\t');
            let value = value.trim_matches(|c| c == ' ' || c == '\t');
            match key {
                "version" => set(&mut version, "version", value)?,
                "mode" => set(&mut mode, "mode", value)?,
                "max_age" => set(&mut max_age, "max_age", value)?,
                "mx" => mx
                    .push(MxPattern::parse(value).ok_or_else(|| PolicyError::BadMx(value.into()))?),
                k if k.is_empty() || k.contains(char::is_whitespace) => {
                    return Err(PolicyError::BadLine(n + 1));
                }
                _ => {}
            }
        }
        let version = version.ok_or(PolicyError::Missing("version"))?;
        if version != "STSv1" {
            return Err(PolicyError::BadVersion(version.to_owned()));
        }
        let mode = match mode.ok_or(PolicyError::Missing("mode"))? {
            "enforce" => Mode::Enforce,
            "testing" => Mode::Testing,
            "none" => Mode::None,
            other => return Err(PolicyError::BadMode(other.to_owned())),
        };
        let max_age_text = max_age.ok_or(PolicyError::Missing("max_age"))?;
        // max-age-value = 1*10(DIGIT)
        let max_age = if max_age_text.is_empty()
            || max_age_text.len() > 10
            || !max_age_text.bytes().all(|b| b.is_ascii_digit())
        {
            None
        } else {
            max_age_text.parse::<u64>().ok().filter(|v| *v <= u64::from(MAX_MAX_AGE))
        }
        .ok_or_else(|| PolicyError::BadMaxAge(max_age_text.to_owned()))?;
        if mx.is_empty() && mode != Mode::None {
            return Err(PolicyError::Missing("mx"));
        }
        Ok(StsPolicy { mode, mx, max_age: max_age as u32 })
    }

    /// Whether an MX host name matches one of the policy's patterns.
    pub fn matches_mx(&self, host: &str) -> bool {
        self.mx.iter().any(|p| p.matches(host))
    }

    /// The policy as TLS-RPT `policy-string` lines (RFC 8460 section 4.4).
    ///
    /// ```
    /// use sealpost_starttls::mta_sts::StsPolicy;
    ///
    /// let p = StsPolicy::parse(b"version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n").unwrap();
    /// assert_eq!(p.policy_strings(), ["version: STSv1", "mode: testing", "mx: mx.example.com", "max_age: 86400"]);
    /// ```
    pub fn policy_strings(&self) -> Vec<String> {
        let mut lines = vec!["version: STSv1".to_owned(), format!("mode: {}", self.mode)];
        lines.extend(self.mx.iter().map(|p| format!("mx: {p}")));
        lines.push(format!("max_age: {}", self.max_age));
        lines
    }
}

fn set<'a>(
    slot: &mut Option<&'a str>,
    name: &'static str,
    value: &'a str,
) -> Result<(), PolicyError> {
    if slot.replace(value).is_some() {
        return Err(PolicyError::Duplicate(name));
    }
    Ok(())
}
