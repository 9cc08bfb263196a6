//! TLS-RPT (RFC 8460): result type strings and the JSON aggregate report, checked field by
//! field against the structure of the RFC's example (section 4.5).
// Needs the JSON report (feature `tls-rpt`).
#![cfg(feature = "tls-rpt")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;

#[cfg(feature = "mta-sts")]
use sealpost_starttls::mta_sts::StsPolicy;
use sealpost_starttls::tlsrpt::{
    Day, Failure, Policy, PolicyType, Report, ReportCollector, ResultType,
};
use serde_json::{Value, json};

#[test]
fn result_type_strings_are_the_rfcs() {
    let want = [
        "starttls-not-supported",
        "certificate-host-mismatch",
        "certificate-expired",
        "certificate-not-trusted",
        "validation-failure",
        "tlsa-invalid",
        "dnssec-invalid",
        "dane-required",
        "sts-policy-fetch-error",
        "sts-policy-invalid",
        "sts-webpki-invalid",
    ];
    let got: Vec<String> = ResultType::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(got, want);
    for s in want {
        assert_eq!(ResultType::parse(s).unwrap().as_str(), s);
    }
    assert_eq!(ResultType::parse("sts-policy-fetch-failure"), None);
}

#[test]
fn days_and_ranges() {
    assert_eq!(Day::from_unix(0).to_string(), "1970-01-01");
    assert_eq!(Day::from_unix(951_782_400).to_string(), "2000-02-29"); // leap day of a 400-year
    assert_eq!(Day::from_unix(1_459_468_800 + 86_399).to_string(), "2016-04-01");
    assert_eq!(Day::from_unix(1_459_468_800 + 86_400).to_string(), "2016-04-02");
    assert_eq!(Day::from_unix(4_102_444_799).to_string(), "2099-12-31");
    for (y, m, d, ok) in [
        (2016, 4, 1, true),
        (2016, 4, 31, false),
        (2100, 2, 29, false),
        (2000, 2, 29, true),
        (2016, 13, 1, false),
        (2016, 0, 1, false),
        (0, 1, 1, false),
    ] {
        assert_eq!(Day::new(y, m, d).is_ok(), ok, "{y}-{m}-{d}");
    }
    let r = Day::new(2016, 4, 1).unwrap().date_range();
    assert_eq!(
        (r.start_datetime.as_str(), r.end_datetime.as_str()),
        ("2016-04-01T00:00:00Z", "2016-04-01T23:59:59Z")
    );
}

/// The policy strings of the RFC's example: from the MTA-STS parser when it is built, so
/// that its `policy_strings` is held to the RFC as well; as the RFC writes them otherwise.
fn example_policy_strings() -> Vec<String> {
    #[cfg(feature = "mta-sts")]
    {
        let sts = StsPolicy::parse(
            b"version: STSv1\nmode: testing\nmx: *.mail.company-y.example\nmax_age: 86400\n",
        )
        .unwrap();
        sts.policy_strings()
    }
    #[cfg(not(feature = "mta-sts"))]
    {
        ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"]
            .map(String::from)
            .to_vec()
    }
}

/// Rebuilds the RFC 8460 section 4.5 example from session results and checks the JSON.
#[test]
fn report_json_matches_the_rfc_example_structure() {
    let policy = Policy::new(PolicyType::Sts, "company-y.example")
        .with_strings(example_policy_strings())
        .with_mx_hosts(vec!["*.mail.company-y.example".into()]);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();

    let mut c = ReportCollector::new(Day::new(2016, 4, 1).unwrap());
    for _ in 0..5326 {
        c.success(&policy);
    }
    let expired = Failure::new(ResultType::CertificateExpired)
        .with_mx("mx1.mail.company-y.example")
        .with_ips(Some(ip("2001:db8:abcd:0012::1")), None);
    for _ in 0..100 {
        c.failure(&policy, expired.clone());
    }
    let mut starttls = Failure::new(ResultType::StarttlsNotSupported)
        .with_mx("mx2.mail.company-y.example")
        .with_ips(Some(ip("2001:db8:abcd:0013::1")), Some(ip("203.0.113.56")));
    starttls.additional_information = Some(
        "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
            .into(),
    );
    for _ in 0..200 {
        c.failure(&policy, starttls.clone());
    }
    let validation = Failure::new(ResultType::ValidationFailure)
        .with_mx("mx-backup.mail.company-y.example")
        .with_ips(Some(ip("198.51.100.62")), Some(ip("203.0.113.58")))
        .with_reason_code("X509_V_ERR_PROOF_OF_POSSESSION");
    for _ in 0..3 {
        c.failure(&policy, validation.clone());
    }
    // A second policy: no policy found for another domain, all sessions fine.
    let none = Policy::new(PolicyType::NoPolicyFound, "company-z.example");
    c.success(&none);

    let report = c.report(
        "Company-X",
        "sts-reporting@company-x.example",
        "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
    );
    let text = report.to_json().unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();

    assert_eq!(v["organization-name"], "Company-X");
    assert_eq!(
        v["date-range"],
        json!({"start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z"})
    );
    assert_eq!(v["contact-info"], "sts-reporting@company-x.example");
    assert_eq!(v["report-id"], "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
    let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(top.len(), 5, "{top:?}");

    let policies = v["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 2);
    let p = policies.iter().find(|p| p["policy"]["policy-type"] == "sts").unwrap();
    assert_eq!(
        p["policy"],
        json!({
            "policy-type": "sts",
            "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"],
            "policy-domain": "company-y.example",
            "mx-host": ["*.mail.company-y.example"]
        })
    );
    assert_eq!(
        p["summary"],
        json!({"total-successful-session-count": 5326, "total-failure-session-count": 303})
    );
    let details = p["failure-details"].as_array().unwrap();
    assert_eq!(details.len(), 3);
    let find = |rt: &str| details.iter().find(|d| d["result-type"] == rt).unwrap().clone();
    assert_eq!(
        find("certificate-expired"),
        json!({
            "result-type": "certificate-expired",
            "sending-mta-ip": "2001:db8:abcd:12::1",
            "receiving-mx-hostname": "mx1.mail.company-y.example",
            "failed-session-count": 100
        })
    );
    assert_eq!(
        find("starttls-not-supported"),
        json!({
            "result-type": "starttls-not-supported",
            "sending-mta-ip": "2001:db8:abcd:13::1",
            "receiving-mx-hostname": "mx2.mail.company-y.example",
            "receiving-ip": "203.0.113.56",
            "failed-session-count": 200,
            "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
        })
    );
    assert_eq!(
        find("validation-failure"),
        json!({
            "result-type": "validation-failure",
            "sending-mta-ip": "198.51.100.62",
            "receiving-ip": "203.0.113.58",
            "receiving-mx-hostname": "mx-backup.mail.company-y.example",
            "failed-session-count": 3,
            "failure-reason-code": "X509_V_ERR_PROOF_OF_POSSESSION"
        })
    );
    let n = policies.iter().find(|p| p["policy"]["policy-type"] == "no-policy-found").unwrap();
    assert_eq!(
        n["policy"],
        json!({"policy-type": "no-policy-found", "policy-domain": "company-z.example"})
    );
    assert_eq!(
        n["summary"],
        json!({"total-successful-session-count": 1, "total-failure-session-count": 0})
    );
    assert!(n.get("failure-details").is_none());

    // The report reads back to the same value.
    assert_eq!(Report::from_json(&text).unwrap(), report);
}

/// The RFC's own example text (section 4.5, with its JSON made valid) reads into a
/// report whose counts and result types are those of the text.
#[test]
fn rfc_example_text_parses() {
    let text = r#"{
     "organization-name": "Company-X",
     "date-range": {
       "start-datetime": "2016-04-01T00:00:00Z",
       "end-datetime": "2016-04-01T23:59:59Z"
     },
     "contact-info": "sts-reporting@company-x.example",
     "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
     "policies": [{
       "policy": {
         "policy-type": "sts",
         "policy-string": ["version: STSv1","mode: testing",
               "mx: *.mail.company-y.example","max_age: 86400"],
         "policy-domain": "company-y.example",
         "mx-host": ["*.mail.company-y.example"]
       },
       "summary": {
         "total-successful-session-count": 5326,
         "total-failure-session-count": 303
       },
       "failure-details": [{
         "result-type": "certificate-expired",
         "sending-mta-ip": "2001:db8:abcd:0012::1",
         "receiving-mx-hostname": "mx1.mail.company-y.example",
         "failed-session-count": 100
       }, {
         "result-type": "starttls-not-supported",
         "sending-mta-ip": "2001:db8:abcd:0013::1",
         "receiving-mx-hostname": "mx2.mail.company-y.example",
         "receiving-ip": "203.0.113.56",
         "failed-session-count": 200,
         "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
       }, {
         "result-type": "validation-failure",
         "sending-mta-ip": "198.51.100.62",
         "receiving-ip": "203.0.113.58",
         "receiving-mx-hostname": "mx-backup.mail.company-y.example",
         "failed-session-count": 3,
         "failure-reason-code": "X509_V_ERR_PROOF_OF_POSSESSION"
       }]
     }]
   }"#;
    let r = Report::from_json(text).unwrap();
    assert_eq!(r.policies.len(), 1);
    let p = &r.policies[0];
    assert_eq!(p.policy.policy_type, PolicyType::Sts);
    assert_eq!(p.summary.total_failure_session_count, 303);
    let types: Vec<ResultType> = p.failure_details.iter().map(|d| d.result_type).collect();
    assert_eq!(
        types,
        [
            ResultType::CertificateExpired,
            ResultType::StarttlsNotSupported,
            ResultType::ValidationFailure
        ]
    );
    assert_eq!(p.failure_details.iter().map(|d| d.failed_session_count).sum::<u64>(), 303);
    // An unknown result type is an error, not silently dropped.
    assert!(Report::from_json(&text.replace("certificate-expired", "certificate-stale")).is_err());
}

#[test]
fn tlsrpt_record_table() {
    use sealpost_starttls::tlsrpt::{ReportUri, TlsRptRecord, TlsRptRecordError};
    let mail = |a: &str| ReportUri::Mailto(a.into());
    let web = |u: &str| ReportUri::Https(u.into());
    // RFC 8460 section 3.1's examples, and variations.
    let good: Vec<(&str, Vec<ReportUri>)> = vec![
        ("v=TLSRPTv1;rua=mailto:reports@example.com", vec![mail("reports@example.com")]),
        (
            "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
            vec![web("https://reporting.example.com/v1/tlsrpt")],
        ),
        (
            "v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.com/x ;",
            vec![mail("a@example.com"), web("https://r.example.com/x")],
        ),
        ("v=TLSRPTv1; rua=ftp://x.example,MAILTO:b@example.com", vec![mail("b@example.com")]),
        ("v=TLSRPTv1; ext-1=value; rua=mailto:c@example.com", vec![mail("c@example.com")]),
    ];
    for (text, rua) in good {
        assert_eq!(
            TlsRptRecord::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}")).rua,
            rua,
            "{text:?}"
        );
    }
    let bad = [
        ("v=TLSRPTv2; rua=mailto:a@example.com", TlsRptRecordError::NotTlsRpt),
        ("rua=mailto:a@example.com; v=TLSRPTv1", TlsRptRecordError::NotTlsRpt),
        ("v=TLSRPTv1", TlsRptRecordError::NoRua),
        ("v=TLSRPTv1; rua=ftp://x.example", TlsRptRecordError::NoRua),
        ("v=TLSRPTv1; rua=mailto:", TlsRptRecordError::NoRua),
        ("v=TLSRPTv1; rua=", TlsRptRecordError::BadField("rua=".into())),
        (
            "v=TLSRPTv1; rua mailto:a@example.com",
            TlsRptRecordError::BadField("rua mailto:a@example.com".into()),
        ),
        ("v=TLSRPTv1; rua=mailto:a@x; rua=mailto:b@x", TlsRptRecordError::Duplicate("rua".into())),
        ("v=TLSRPTv1; _x=1; rua=mailto:a@x", TlsRptRecordError::BadField("_x=1".into())),
        ("v=TLSRPTv1; rua=mailto:\u{e4}@x", TlsRptRecordError::NotAscii),
    ];
    for (text, want) in bad {
        assert_eq!(TlsRptRecord::parse(text), Err(want), "{text:?}");
    }
    let txt = |s: &str| sealpost_starttls::dns::Txt { strings: vec![s.as_bytes().to_vec()] };
    assert_eq!(TlsRptRecord::from_txt(&[txt("v=spf1 -all")]), Ok(None));
    assert_eq!(
        TlsRptRecord::from_txt(&[
            txt("v=TLSRPTv1; rua=mailto:a@x"),
            txt("v=TLSRPTv1; rua=mailto:b@x")
        ]),
        Err(TlsRptRecordError::Multiple(2))
    );
}
