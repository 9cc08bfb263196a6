//! Deliveries to `sealpost-server` in-process over loopback, with the test PKI: pipelined
//! envelopes with per-recipient results, BDAT and DATA, SIZE, DSN, SMTPUTF8, AUTH under
//! TLS, implicit TLS, REQUIRETLS, MX routes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use memchr::memmem;
use sealpost_client::{
    Client, Credentials, DeliveryConfig, DeliveryError, Message, MxRecord, Route, StaticMx,
};
use sealpost_codec::client::{ClientError, Envelope};
use sealpost_codec::{
    ForwardPath, MailParameter, MailParameters, Mailbox, Notify, RcptParameter, RcptParameters,
    Ret, ReversePath,
};
use sealpost_server::{Role, ServerSettings};
use sealpost_starttls::client::{SecurityLevel, Trust};
use support::server::{Running, start};
use support::{config, policy};

fn mailbox(s: &str) -> Mailbox<'static> {
    s.parse::<Mailbox<'_>>().unwrap().into_owned()
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    to.iter().fold(Envelope::new(ReversePath::Mailbox(mailbox(from))), |e, r| {
        e.recipient(ForwardPath::Mailbox(mailbox(r)))
    })
}

fn route(server: &Running, role: Role) -> Route {
    let addr = server.addr(role);
    Route::Host { host: addr.ip().to_string(), port: addr.port() }
}

/// The content after the Received header the server prepends.
fn after_received(content: &[u8]) -> &[u8] {
    assert!(content.starts_with(b"Received: "), "{}", String::from_utf8_lossy(content));
    let mut rest = content;
    loop {
        let end = memmem::find(rest, b"\r\n").unwrap() + 2;
        rest = &rest[end..];
        if !rest.starts_with(b"\t") && !rest.starts_with(b" ") {
            return rest;
        }
    }
}

const BODY: &[u8] = b"Subject: test\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\nlast\r\n";

fn verify() -> DeliveryConfig {
    config(policy(SecurityLevel::Verify))
}

#[tokio::test]
async fn per_recipient_results_over_verified_starttls() {
    let server = start(ServerSettings::new("mail.test")).await;
    let client = Client::new(verify());
    let message = Message::new(
        envelope("sender@example.org", &["a@mail.test", "c@elsewhere.example", "b@mail.test"]),
        BODY,
    );
    let delivery = client.deliver(&route(&server, Role::Mx), &[message]).await.unwrap();
    assert_eq!(delivery.tls.trust, Trust::Verified, "{}", delivery.tls);
    // Connected by address: verified against the IP SAN, and no SNI sent.
    assert_eq!(delivery.tls.session.as_ref().unwrap().sni, None);
    let result = delivery.results[0].as_ref().unwrap();
    let codes: Vec<u16> =
        result.recipients.iter().map(|r| r.final_reply().unwrap().code().get()).collect();
    assert_eq!(codes, [250, 550, 250]);
    assert!(!result.all_delivered() && !delivery.all_delivered());
    assert_eq!(result.delivered().count(), 2);
    let stored = server.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(after_received(&stored[0].content), BODY);
    assert_eq!(stored[0].envelope.recipients.len(), 2);
    assert!(stored[0].tls);
    server.stop().await;
}

#[tokio::test]
async fn bdat_and_data_carry_the_same_exact_bytes_and_several_messages_share_a_connection() {
    let server = start(ServerSettings::new("mail.test")).await;
    for chunking in [true, false] {
        let mut config = verify();
        config.chunking = chunking;
        let client = Client::new(config);
        let messages: Vec<Message> = (0..3)
            .map(|i| {
                let body = format!("Subject: {i}\r\n\r\n.\r\nbody {i}\r\n..\r\n");
                Message::new(envelope("s@example.org", &["a@mail.test"]), body.into_bytes())
            })
            .collect();
        let delivery = client.deliver(&route(&server, Role::Mx), &messages).await.unwrap();
        assert!(delivery.all_delivered(), "{:?}", delivery.results);
        assert_eq!(delivery.results.len(), 3);
    }
    let stored = server.stored();
    assert_eq!(stored.len(), 6);
    for (i, message) in stored.iter().enumerate() {
        let expected = format!("Subject: {}\r\n\r\n.\r\nbody {}\r\n..\r\n", i % 3, i % 3);
        assert_eq!(String::from_utf8_lossy(after_received(&message.content)), expected);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_message_over_the_announced_size_is_refused_before_sending() {
    let mut settings = ServerSettings::new("mail.test");
    settings.session.max_message_size = Some(1000);
    let server = start(settings).await;
    let client = Client::new(verify());
    let big = Message::new(envelope("s@example.org", &["a@mail.test"]), vec![b'x'; 5000]);
    let small = Message::new(envelope("s@example.org", &["a@mail.test"]), BODY);
    let delivery = client.deliver(&route(&server, Role::Mx), &[big, small]).await.unwrap();
    match &delivery.results[0] {
        Err(
            e @ DeliveryError::Protocol(ClientError::MessageTooLarge { size: 5000, limit: 1000 }),
        ) => {
            assert!(e.is_permanent())
        }
        other => panic!("{other:?}"),
    }
    // The connection stays usable for the next message.
    assert!(delivery.results[1].as_ref().unwrap().all_delivered());
    assert_eq!(server.stored().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn dsn_parameters_reach_the_server() {
    let server = start(ServerSettings::new("mail.test")).await;
    let client = Client::new(verify());
    let notify = Notify::On { success: true, failure: true, delay: false };
    let mut envelope = Envelope::new(ReversePath::Mailbox(mailbox("s@example.org")))
        .parameters(
            MailParameters::from_vec(vec![
                MailParameter::Ret(Ret::Hdrs),
                MailParameter::EnvId(sealpost_codec::XText::new("QQ314159").unwrap()),
            ])
            .unwrap(),
        )
        .recipient_with(
            ForwardPath::Mailbox(mailbox("a@mail.test")),
            RcptParameters::from_vec(vec![RcptParameter::Notify(notify)]).unwrap(),
        );
    envelope = envelope.recipient(ForwardPath::Mailbox(mailbox("b@mail.test")));
    let delivery =
        client.deliver(&route(&server, Role::Mx), &[Message::new(envelope, BODY)]).await.unwrap();
    assert!(delivery.all_delivered());
    let stored = server.stored();
    let params = &stored[0].envelope.mail_parameters;
    assert_eq!(params.ret(), Some(Ret::Hdrs));
    assert_eq!(params.envid().map(|x| x.as_str()), Some("QQ314159"));
    assert_eq!(params.size(), Some(BODY.len() as u64), "SIZE is added when offered");
    assert_eq!(stored[0].envelope.recipients[0].1.notify(), Some(notify));
    assert_eq!(stored[0].envelope.recipients[1].1.notify(), None);
    server.stop().await;
}

#[tokio::test]
async fn smtputf8_and_8bitmime_are_negotiated() {
    let server = start(ServerSettings::new("mail.test")).await;
    let client = Client::new(verify());
    let body = "Subject: grüße\r\n\r\nÜber\r\n".as_bytes();
    let message = Message::new(envelope("jörg@example.org", &["zoë@mail.test"]), body);
    let delivery = client.deliver(&route(&server, Role::Mx), &[message]).await.unwrap();
    assert!(delivery.all_delivered(), "{:?}", delivery.results);
    let stored = server.stored();
    assert!(stored[0].envelope.mail_parameters.smtputf8());
    assert_eq!(after_received(&stored[0].content), body);
    server.stop().await;
}

#[tokio::test]
async fn auth_under_starttls_and_implicit_tls_on_submission() {
    let server = start(ServerSettings::new("mail.test")).await;
    for (role, implicit) in [(Role::Submission, false), (Role::Submissions, true)] {
        let config =
            verify().implicit_tls(implicit).credentials(Credentials::new("alice", "secret"));
        let client = Client::new(config);
        let message = Message::new(envelope("alice@mail.test", &["far@elsewhere.example"]), BODY);
        let delivery = client.deliver(&route(&server, role), &[message]).await.unwrap();
        assert!(delivery.all_delivered(), "{role}: {:?}", delivery.results);
        assert_eq!(delivery.tls.trust, Trust::Verified);
    }
    let stored = server.stored();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|m| m.user.as_deref() == Some("alice") && m.tls));
    // A wrong password is a permanent failure, and nothing is sent.
    let client = Client::new(verify().credentials(Credentials::new("alice", "wrong")));
    let message = Message::new(envelope("alice@mail.test", &["far@elsewhere.example"]), BODY);
    match client.deliver(&route(&server, Role::Submission), &[message]).await {
        Err(e @ DeliveryError::AuthFailed(_)) => assert!(e.is_permanent()),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.stored().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn requiretls_needs_a_verified_session_and_the_servers_support() {
    let mut settings = ServerSettings::new("mail.test");
    settings.session.requiretls = true;
    let server = start(settings).await;
    let require = || {
        Envelope::new(ReversePath::Mailbox(mailbox("s@example.org")))
            .parameters(MailParameters::from_vec(vec![MailParameter::RequireTls]).unwrap())
            .recipient(ForwardPath::Mailbox(mailbox("a@mail.test")))
    };
    let delivery = Client::new(verify())
        .deliver(&route(&server, Role::Mx), &[Message::new(require(), BODY)])
        .await
        .unwrap();
    assert!(delivery.all_delivered(), "{:?}", delivery.results);
    assert!(server.stored()[0].envelope.mail_parameters.requiretls());
    // Level may: TLS, but nothing verified: refused before MAIL.
    let delivery = Client::new(config(policy(SecurityLevel::May)))
        .deliver(&route(&server, Role::Mx), &[Message::new(require(), BODY)])
        .await
        .unwrap();
    assert_eq!(delivery.tls.trust, Trust::Untrusted);
    match &delivery.results[0] {
        Err(e @ DeliveryError::RequireTls(_)) => assert!(e.is_permanent()),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.stored().len(), 1);
    server.stop().await;
    // A server without REQUIRETLS: refused as not offered.
    let server = start(ServerSettings::new("mail.test")).await;
    let delivery = Client::new(verify())
        .deliver(&route(&server, Role::Mx), &[Message::new(require(), BODY)])
        .await
        .unwrap();
    assert!(
        matches!(&delivery.results[0], Err(DeliveryError::Protocol(ClientError::NotOffered(_)))),
        "{:?}",
        delivery.results
    );
    assert!(server.stored().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn mx_routes_try_hosts_in_preference_order_and_honour_null_mx() {
    let server = start(ServerSettings::new("mail.test")).await;
    let port = server.addr(Role::Mx).port();
    // 127.0.0.2 has no listener on that port: refused, then the next MX.
    let resolver = StaticMx::new()
        .with("mail.test", vec![MxRecord::new(20, "127.0.0.1"), MxRecord::new(10, "127.0.0.2")])
        .with("null.test", vec![MxRecord::new(0, ".")]);
    let mut config = config(policy(SecurityLevel::Secure).match_name("mail.test"));
    config.port = port;
    let client = Client::new(config).with_resolver(Arc::new(resolver));
    let message = Message::new(envelope("s@example.org", &["a@mail.test"]), BODY);
    let delivery = client
        .deliver(&Route::Mx { domain: "mail.test".into() }, std::slice::from_ref(&message))
        .await
        .unwrap();
    assert_eq!(delivery.addr.tcp().unwrap().ip().to_string(), "127.0.0.1");
    assert_eq!(delivery.tls.trust, Trust::Verified);
    assert!(delivery.all_delivered());
    match client.deliver(&Route::Mx { domain: "null.test".into() }, &[message]).await {
        Err(e @ DeliveryError::NullMx(_)) => assert!(e.is_permanent()),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn secure_matches_the_next_hop_domain_not_the_mx_host() {
    let server = start(ServerSettings::new("mail.test")).await;
    let port = server.addr(Role::Mx).port();
    // The MX host (127.0.0.1) is in the certificate, the next-hop domain is not.
    let resolver = StaticMx::new().with("example.org", vec![MxRecord::new(10, "127.0.0.1")]);
    let mut secure = config(policy(SecurityLevel::Secure));
    secure.port = port;
    let client = Client::new(secure).with_resolver(Arc::new(resolver.clone()));
    let message = Message::new(envelope("s@example.net", &["a@mail.test"]), BODY);
    let err = client
        .deliver(&Route::Mx { domain: "example.org".into() }, std::slice::from_ref(&message))
        .await
        .unwrap_err();
    assert_eq!(
        err.tls_result_type(),
        Some(sealpost_starttls::tlsrpt::ResultType::CertificateHostMismatch),
        "{err}"
    );
    // verify matches the MX host name and passes.
    let mut verify = config(policy(SecurityLevel::Verify));
    verify.port = port;
    let client = Client::new(verify).with_resolver(Arc::new(resolver));
    let delivery =
        client.deliver(&Route::Mx { domain: "example.org".into() }, &[message]).await.unwrap();
    assert_eq!(delivery.tls.trust, Trust::Verified);
    assert_eq!(server.stored().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn the_second_delivery_resumes_the_tls_session_of_the_destination() {
    let server = start(ServerSettings::new("mail.test")).await;
    let client = Client::new(verify());
    let mut resumed = Vec::new();
    for _ in 0..2 {
        let message = Message::new(envelope("s@example.org", &["a@mail.test"]), BODY);
        let delivery = client.deliver(&route(&server, Role::Mx), &[message]).await.unwrap();
        assert!(delivery.all_delivered());
        assert_eq!(delivery.tls.trust, Trust::Verified);
        resumed.push(delivery.tls.resumed);
    }
    assert_eq!(resumed, [false, true]);
    // Another client (another cache) starts afresh.
    let message = Message::new(envelope("s@example.org", &["a@mail.test"]), BODY);
    let delivery =
        Client::new(verify()).deliver(&route(&server, Role::Mx), &[message]).await.unwrap();
    assert!(!delivery.tls.resumed);
    server.stop().await;
}

#[tokio::test]
async fn binarymime_content_goes_over_bdat_unchanged() {
    let server = start(ServerSettings::new("mail.test")).await;
    let content: Vec<u8> =
        b"Subject: bin\r\n\r\n".iter().copied().chain((0..=255u8).cycle().take(3000)).collect();
    let envelope = Envelope::new(ReversePath::Mailbox(mailbox("s@example.org")))
        .parameters(
            MailParameters::from_vec(vec![MailParameter::Body(
                sealpost_codec::BodyType::BinaryMime,
            )])
            .unwrap(),
        )
        .recipient(ForwardPath::Mailbox(mailbox("a@mail.test")));
    let delivery = Client::new(verify())
        .deliver(&route(&server, Role::Mx), &[Message::new(envelope, content.clone())])
        .await
        .unwrap();
    assert!(delivery.all_delivered(), "{:?}", delivery.results);
    assert_eq!(after_received(&server.stored()[0].content), &content[..]);
    server.stop().await;
}

#[tokio::test]
async fn a_text_message_with_a_nul_is_refused_before_mail_and_the_next_one_goes() {
    let server = start(ServerSettings::new("mail.test")).await;
    // `\r\n\0.\r\n`: a next hop that drops NULs would take this for the end of data.
    let smuggling = b"Subject: x\r\n\r\nhi\r\n\0.\r\nMAIL FROM:<x@y.example>\r\n".to_vec();
    let messages = [
        Message::new(envelope("s@example.org", &["a@mail.test"]), smuggling),
        Message::new(envelope("s@example.org", &["a@mail.test"]), BODY),
    ];
    let delivery =
        Client::new(verify()).deliver(&route(&server, Role::Mx), &messages).await.unwrap();
    match &delivery.results[0] {
        Err(e @ DeliveryError::Protocol(ClientError::NulInContent { offset: 18 })) => {
            assert!(e.is_permanent());
        }
        other => panic!("{other:?}"),
    }
    assert!(delivery.results[1].as_ref().unwrap().all_delivered(), "{:?}", delivery.results);
    let stored = server.stored();
    assert_eq!(stored.len(), 1, "only the second message");
    assert_eq!(after_received(&stored[0].content), BODY);
    server.stop().await;
}

#[tokio::test]
async fn mx_lookups_through_a_dns_resolver_honour_nxdomain_and_bogus_answers() {
    use sealpost_client::DnsMx;
    use sealpost_starttls::dns::{Answer, Dnssec, Mx, StaticResolver};
    let server = start(ServerSettings::new("mail.test")).await;
    let mx = |dnssec| {
        Ok(Answer::Records {
            records: vec![Mx { preference: 10, exchange: "127.0.0.1".into() }],
            dnssec,
        })
    };
    let dns = StaticResolver::new()
        .with_mx("mail.test", mx(Dnssec::Secure))
        .with_mx("bogus.test", mx(Dnssec::Bogus))
        .with_mx("gone.test", Ok(Answer::NxDomain { dnssec: Dnssec::Insecure }));
    let mut config = verify();
    config.port = server.addr(Role::Mx).port();
    let client = Client::new(config).with_resolver(Arc::new(DnsMx::new(Arc::new(dns))));
    let message = Message::new(envelope("s@example.org", &["a@mail.test"]), BODY);
    let mx_route = |d: &str| Route::Mx { domain: d.into() };
    let delivery =
        client.deliver(&mx_route("mail.test"), std::slice::from_ref(&message)).await.unwrap();
    assert!(delivery.all_delivered());
    match client.deliver(&mx_route("bogus.test"), std::slice::from_ref(&message)).await {
        Err(e @ DeliveryError::Resolve { .. }) => assert!(!e.is_permanent(), "{e}"),
        other => panic!("{other:?}"),
    }
    match client.deliver(&mx_route("gone.test"), std::slice::from_ref(&message)).await {
        Err(e @ DeliveryError::NoSuchDomain(_)) => assert!(e.is_permanent()),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.stored().len(), 1);
    server.stop().await;
}
