//! What the client puts on the wire, seen by a scripted server: the pipelined envelope
//! with DSN parameters in one write, and the `may` retry in clear after a failed
//! handshake.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use sealpost_client::{Client, Message, Route};
use sealpost_codec::client::Envelope;
use sealpost_codec::{
    Atom, ForwardPath, MailParameter, MailParameters, Mailbox, Notify, Orcpt, RcptParameter,
    RcptParameters, Ret, ReversePath, XText,
};
use sealpost_starttls::client::{SecurityLevel, Trust};
use sealpost_starttls::tlsrpt::ResultType;
use support::*;

fn mailbox(s: &str) -> Mailbox<'static> {
    s.parse::<Mailbox<'_>>().unwrap().into_owned()
}

fn route(addr: std::net::SocketAddr) -> Route {
    Route::Host { host: addr.ip().to_string(), port: addr.port() }
}

#[tokio::test]
async fn the_envelope_is_pipelined_with_its_dsn_parameters() {
    // The server reads MAIL, both RCPTs and DATA before it answers anything: a client that
    // waited for the MAIL reply would stall here and the script would fail.
    let steps = vec![
        Send(b"220 mx.test ESMTP\r\n"),
        Expect("EHLO"),
        Send(b"250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-DSN\r\n250 8BITMIME\r\n"),
        Expect("MAIL FROM:"),
        Expect("RCPT TO:"),
        Expect("RCPT TO:"),
        Expect("DATA"),
        Send(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n354 go\r\n"),
        Serve,
    ];
    let (addr, task) = hostile(steps).await;
    let notify = Notify::On { success: false, failure: true, delay: true };
    let envelope = Envelope::new(ReversePath::Mailbox(mailbox("s@example.org")))
        .parameters(
            MailParameters::from_vec(vec![
                MailParameter::Ret(Ret::Full),
                MailParameter::EnvId(XText::new("ID+2B1").unwrap()),
            ])
            .unwrap(),
        )
        .recipient_with(
            ForwardPath::Mailbox(mailbox("a@mx.test")),
            RcptParameters::from_vec(vec![
                RcptParameter::Notify(notify),
                RcptParameter::Orcpt(Orcpt {
                    addr_type: Atom::new("rfc822").unwrap(),
                    address: XText::new("a@mx.test").unwrap(),
                }),
            ])
            .unwrap(),
        )
        .recipient(ForwardPath::Mailbox(mailbox("b@mx.test")));
    let body = b"Subject: x\r\n\r\n.dot\r\n";
    let client = Client::new(config(policy(SecurityLevel::May)));
    let delivery =
        client.deliver(&route(addr), &[Message::new(envelope, &body[..])]).await.unwrap();
    let transcript = task.await.unwrap();
    assert_eq!(transcript.failure, None);
    assert_eq!(
        &transcript.lines[1..4],
        [
            format!("MAIL FROM:<s@example.org> RET=FULL ENVID=ID+2B1 SIZE={}", body.len()),
            "RCPT TO:<a@mx.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@mx.test".to_owned(),
            "RCPT TO:<b@mx.test>".to_owned(),
        ]
    );
    // Dot-stuffed content, then the end of data.
    assert_eq!(&transcript.lines[5..10], ["Subject: x", "", "..dot", ".", "QUIT"]);
    assert_eq!(delivery.tls.trust, Trust::None);
    let result = delivery.results[0].as_ref().unwrap();
    assert!(result.recipients[0].delivered());
    assert_eq!(result.recipients[1].final_reply().unwrap().code().get(), 550);
}

#[tokio::test]
async fn may_retries_in_clear_after_a_failed_handshake() {
    let forged = certified("server-chain.pem", "server-wrong-name-key.pem");
    let first = vec![
        Send(b"220 mx.test ESMTP\r\n"),
        Expect("EHLO"),
        Send(b"250-mx.test\r\n250 STARTTLS\r\n"),
        Expect("STARTTLS"),
        Send(b"220 go\r\n"),
        Tls(server_tls(forged.clone())),
    ];
    let second = vec![
        Send(b"220 mx.test ESMTP\r\n"),
        Expect("EHLO"),
        Send(b"250-mx.test\r\n250 STARTTLS\r\n"),
        Serve,
    ];
    let (addr, task) = hostile_sessions(vec![first, second.clone()]).await;
    let envelope =
        Envelope::new(ReversePath::Null).recipient(ForwardPath::Mailbox(mailbox("a@mx.test")));
    let message = Message::new(envelope, &b"Subject: x\r\n\r\nhi\r\n"[..]);
    let client = Client::new(config(policy(SecurityLevel::May)));
    let delivery = client.deliver(&route(addr), std::slice::from_ref(&message)).await.unwrap();
    assert!(delivery.all_delivered());
    assert_eq!(delivery.tls.trust, Trust::None);
    assert_eq!(delivery.tls.failure, Some(ResultType::ValidationFailure));
    let transcripts = task.await.unwrap();
    assert!(transcripts[0].failure.as_deref().unwrap_or("").starts_with("handshake"));
    assert!(!transcripts[1].sent("STARTTLS"), "{:?}", transcripts[1]);
    assert!(transcripts[1].sent("MAIL FROM:<>"));
    // At encrypt the same failure is final: no second connection, nothing sent.
    let (addr, task) = hostile_sessions(vec![vec![
        Send(b"220 mx.test ESMTP\r\n"),
        Expect("EHLO"),
        Send(b"250-mx.test\r\n250 STARTTLS\r\n"),
        Expect("STARTTLS"),
        Send(b"220 go\r\n"),
        Tls(server_tls(forged)),
    ]])
    .await;
    let client = Client::new(config(policy(SecurityLevel::Encrypt)));
    let err = client.deliver(&route(addr), &[message]).await.unwrap_err();
    assert_eq!(err.tls_result_type(), Some(ResultType::ValidationFailure), "{err}");
    assert!(!err.is_permanent());
    assert_eq!(task.await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_client_certificate_is_presented_when_the_server_asks() {
    let steps = || {
        vec![
            Send(b"220 mx.test ESMTP\r\n"),
            Expect("EHLO"),
            Send(b"250-mx.test\r\n250 STARTTLS\r\n"),
            Expect("STARTTLS"),
            Send(b"220 go\r\n"),
            Tls(tls_requiring_client_cert()),
            Expect("EHLO"),
            Send(b"250 mx.test\r\n"),
            Serve,
        ]
    };
    let files =
        sealpost_starttls::CertificateFiles::new(pki("client-chain.pem"), pki("client-key.pem"));
    let with_cert = policy(SecurityLevel::Verify).client_certificate(files.load().unwrap());
    let (result, transcript) = open(steps(), &config(with_cert)).await;
    assert_eq!(result.unwrap().trust, Trust::Verified);
    assert_eq!(transcript.failure, None);
    assert_eq!(transcript.lines, ["EHLO client.test", "STARTTLS", "EHLO client.test", "QUIT"]);
    // Without one, the server ends the handshake.
    let (result, transcript) = open(steps(), &config(policy(SecurityLevel::Verify))).await;
    assert!(matches!(result, Err(sealpost_client::DeliveryError::Tls { .. })), "{result:?}");
    assert!(transcript.failure.unwrap().starts_with("handshake"));
}

#[tokio::test]
async fn auth_login_is_used_when_plain_is_not_offered() {
    let steps = vec![
        Send(b"220 mx.test ESMTP\r\n"),
        Expect("EHLO"),
        Send(b"250-mx.test\r\n250 STARTTLS\r\n"),
        Expect("STARTTLS"),
        Send(b"220 go\r\n"),
        Tls(good_tls()),
        Expect("EHLO"),
        Send(b"250-mx.test\r\n250 AUTH LOGIN\r\n"),
        Expect("AUTH LOGIN"),
        Send(b"334 VXNlcm5hbWU6\r\n"),
        // Base64 of "alice" and "secret"; Expect compares upper-cased lines.
        Expect("YWXPY2U="),
        Send(b"334 UGFzc3dvcmQ6\r\n"),
        Expect("C2VJCMV0"),
        Send(b"235 2.7.0 ok\r\n"),
        Serve,
    ];
    let config = config(policy(SecurityLevel::Verify))
        .credentials(sealpost_client::Credentials::new("alice", "secret"));
    let (result, transcript) = open(steps, &config).await;
    assert_eq!(transcript.failure, None, "{transcript:?}");
    assert_eq!(result.unwrap().trust, Trust::Verified);
}

#[tokio::test]
async fn a_server_that_stalls_after_the_envelope_times_out_in_that_phase() {
    let steps = vec![
        Send(b"220 mx.test ESMTP\r\n"),
        Expect("EHLO"),
        Send(b"250-mx.test\r\n250 PIPELINING\r\n"),
        Expect("MAIL"),
        Expect("RCPT"),
        Expect("DATA"),
    ];
    let (addr, task) = hostile(steps).await;
    let mut config = config(policy(SecurityLevel::May));
    config.timeouts = sealpost_client::Timeouts::all(std::time::Duration::from_millis(300));
    let envelope =
        Envelope::new(ReversePath::Null).recipient(ForwardPath::Mailbox(mailbox("a@mx.test")));
    let client = Client::new(config);
    let err =
        client.deliver(&route(addr), &[Message::new(envelope, &b"x\r\n"[..])]).await.unwrap_err();
    assert!(
        matches!(
            err,
            sealpost_client::DeliveryError::Timeout { phase: sealpost_client::Phase::Envelope, .. }
        ),
        "{err}"
    );
    assert!(!err.is_permanent());
    assert_eq!(task.await.unwrap().failure, None);
}

#[tokio::test]
async fn a_host_that_refuses_the_session_passes_the_mail_to_the_next_mx() {
    let good =
        vec![Send(b"220 mx2.test ESMTP\r\n"), Expect("EHLO"), Send(b"250 mx2.test\r\n"), Serve];
    let (second, good_task) = hostile_sessions(vec![good]).await;
    let refusing = vec![Send(b"554 5.3.2 not now\r\n"), Expect("QUIT"), Send(b"221 bye\r\n")];
    let first: std::net::SocketAddr = format!("127.0.0.2:{}", second.port()).parse().unwrap();
    let (_, refusing_task) = hostile_at(first, vec![refusing]).await;
    let resolver = sealpost_client::StaticMx::new().with(
        "mx.test",
        vec![
            sealpost_client::MxRecord::new(10, "127.0.0.2"),
            sealpost_client::MxRecord::new(20, "127.0.0.1"),
        ],
    );
    let mut config = config(policy(SecurityLevel::May));
    config.port = second.port();
    let client = Client::new(config).with_resolver(std::sync::Arc::new(resolver));
    let envelope =
        Envelope::new(ReversePath::Null).recipient(ForwardPath::Mailbox(mailbox("a@mx.test")));
    let delivery = client
        .deliver(&Route::Mx { domain: "mx.test".into() }, &[Message::new(envelope, &b"x\r\n"[..])])
        .await
        .unwrap();
    assert_eq!(delivery.addr.tcp(), Some(second));
    assert!(delivery.all_delivered());
    assert_eq!(refusing_task.await.unwrap()[0].failure, None);
    assert!(good_task.await.unwrap()[0].sent("MAIL FROM:<>"));
}

#[tokio::test]
async fn a_plugged_in_verifier_replaces_the_levels_check() {
    // What a DANE verifier does through `TlsPolicy::with_verifier`; here rustls's own
    // WebPKI verifier with the test root stands in for it.
    use sealpost_starttls::rustls;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots(), provider)
        .build()
        .unwrap();
    let steps = |chain: &str, key: &str| {
        vec![
            Send(b"220 mx.test ESMTP\r\n"),
            Expect("EHLO"),
            Send(b"250-mx.test\r\n250 STARTTLS\r\n"),
            Expect("STARTTLS"),
            Send(b"220 go\r\n"),
            Tls(server_tls(certified(chain, key))),
            Expect("EHLO"),
            Send(b"250 mx.test\r\n"),
            Serve,
        ]
    };
    // Even at level may, a plugged-in verifier makes TLS required and verified.
    let plugged =
        sealpost_starttls::client::TlsPolicy::new(SecurityLevel::May).with_verifier(webpki);
    assert!(plugged.requires_tls() && plugged.authenticates());
    let (result, _) =
        open(steps("server-chain.pem", "server-key.pem"), &config(plugged.clone())).await;
    assert_eq!(result.unwrap().trust, Trust::Verified);
    let (result, _) =
        open(steps("server-unknown-ca.pem", "server-unknown-ca-key.pem"), &config(plugged.clone()))
            .await;
    assert_eq!(
        result.err().and_then(|e| e.tls_result_type()),
        Some(ResultType::CertificateNotTrusted)
    );
    // And no STARTTLS at all is a failure, not a fallback to clear text.
    let no_tls =
        vec![Send(b"220 mx.test ESMTP\r\n"), Expect("EHLO"), Send(b"250 mx.test\r\n"), Serve];
    let (result, transcript) = open(no_tls, &config(plugged)).await;
    assert!(
        matches!(result, Err(sealpost_client::DeliveryError::TlsRequired { .. })),
        "{result:?}"
    );
    assert!(!transcript.sent("MAIL"));
}

#[tokio::test]
async fn level_none_never_starts_tls() {
    let steps = vec![
        Send(b"220 mx.test ESMTP\r\n"),
        Expect("EHLO"),
        Send(b"250-mx.test\r\n250 STARTTLS\r\n"),
        Serve,
    ];
    let (result, transcript) = open(steps, &config(policy(SecurityLevel::None))).await;
    let tls = result.unwrap();
    assert_eq!((tls.trust, tls.failure), (Trust::None, None));
    assert!(!transcript.sent("STARTTLS"), "{transcript:?}");
}
