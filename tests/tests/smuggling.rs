//! SMTP smuggling (attacks.md, "end-of-data confusion") as real bytes against the real
//! `sealpost serve`: TCP_NODELAY, one `write` per step. Each case sends its bytes both as
//! one write and split around the confusion, then checks the Maildirs of the real and of
//! the smuggled recipient. The whole list also runs in process, through the driver, in
//! `crates/sealpost-server/tests/attacks.rs`; here it is the program a person runs, with
//! its default policies and its Maildir.
//!
//! The binary: Cargo names a package's binaries only to that package's own tests, and
//! this crate is another package. So [`Sealpost::built`] runs `$CARGO build -p sealpost`
//! (the Cargo running these tests) into a folder of its own in the workspace's target
//! directory and takes the executable's path from Cargo's JSON report: the tests run
//! exactly what `cargo build` makes, started with flags as a person would start it. Running the server in process
//! instead would need the program's wiring (`serve.rs`) as a library, and would then
//! test a copy of `main`, not the program.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealpost_test_support::attacks::{
    SMUGGLING, has_bare_line_ending, has_nul, refused_by_default, shown,
};
use sealpost_test_support::process::{MailTestServer, Sealpost, Smtp, codes};

/// The smuggled second transaction, complete, for `victim@mail.test`.
fn smuggled(victim: &str) -> String {
    format!(
        "MAIL FROM:<smuggled@x.test>\r\nRCPT TO:<{victim}@mail.test>\r\nDATA\r\n\
         smuggled body\r\n.\r\n"
    )
}

/// A transaction for `rcpt@mail.test` whose body text is followed by `sequence` and the
/// smuggled transaction, then QUIT; the reply codes after the 354.
fn smuggle(
    server: &MailTestServer,
    sequence: &[u8],
    rcpt: &str,
    victim: &str,
    split: bool,
) -> Vec<u16> {
    let mut c = Smtp::connect(server.mx());
    c.expect(220);
    c.send_once(b"EHLO attacker.test\r\n");
    c.expect(250);
    // PIPELINING was offered: MAIL, RCPT and DATA may go in one write.
    c.send_once(
        format!("MAIL FROM:<a@attacker.test>\r\nRCPT TO:<{rcpt}@mail.test>\r\nDATA\r\n").as_bytes(),
    );
    for code in [250, 250, 354] {
        c.expect(code);
    }
    let body = b"body text";
    let smuggled = smuggled(victim);
    if split {
        c.send_once(body);
        c.send_once(sequence);
        c.send_once(smuggled.as_bytes());
    } else {
        c.send_once(&[&body[..], sequence, smuggled.as_bytes()].concat());
    }
    c.send_once(b"QUIT\r\n");
    codes(&c.rest())
}

/// Sends each of `sequences` (index, sequence) as one write and as three, and checks that
/// the default policies refused the whole transfer: one 550, the smuggled MAIL, RCPT and
/// DATA never answered as commands, nothing stored for the recipient or the victim.
fn refused_whole(server: &MailTestServer, sequences: &[(usize, &&[u8])], kind: &str) {
    for &(i, sequence) in sequences {
        let name = shown(sequence);
        assert!(refused_by_default(sequence), "{name}");
        let (rcpt, victim) = (format!("{kind}-{i}"), format!("{kind}-{i}-victim"));
        for split in [false, true] {
            // The server reads to the real end, then refuses it all.
            let got = smuggle(server, sequence, &rcpt, &victim, split);
            assert_eq!(got, [550, 221], "{name} (split: {split})");
        }
        assert_eq!(server.messages(&rcpt).len(), 0, "{name}: stored for the recipient");
        assert_eq!(server.messages(&victim).len(), 0, "{name}: stored for the victim");
    }
}

#[test]
fn a_bare_cr_or_lf_around_the_dot_refuses_the_whole_transfer_and_smuggles_nothing() {
    let server = MailTestServer::start(&Sealpost::built());
    let bare: Vec<_> =
        SMUGGLING.iter().enumerate().filter(|(_, s)| has_bare_line_ending(s)).collect();
    assert_eq!(bare.len(), 10);
    refused_whole(&server, &bare, "bare");
    assert!(server.server.stop().success());
}

#[test]
fn a_nul_next_to_the_dot_refuses_the_whole_transfer_and_smuggles_nothing() {
    let server = MailTestServer::start(&Sealpost::built());
    // The confusions without a bare line ending: a NUL in the dot line makes it no end of
    // data for sealpost, but a next hop that drops NULs would see one there, so the
    // default (`[protocol] nul = "reject"`) refuses the message at its real end.
    let nul: Vec<_> = SMUGGLING.iter().enumerate().filter(|(_, s)| has_nul(s)).collect();
    assert_eq!(nul.len(), 2);
    refused_whole(&server, &nul, "nul");
    assert!(server.server.stop().success());
}
