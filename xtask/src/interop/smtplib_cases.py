"""The Python smtplib cases of `cargo xtask interop`, run by Debian's /usr/bin/python3.

Usage: smtplib_cases.py CASE PORT CA MARKER USER PASSWORD

Each case prints one summary line and exits 0 when the peer saw what the case expects;
anything else raises (a traceback and a non-zero exit code).
"""

import smtplib
import ssl
import sys
from email import policy
from email.message import EmailMessage

UTF8_RECIPIENT = "jösé@mail.test"


def connect(port):
    return smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=30)


def tls_summary(smtp):
    """TLS version, cipher and the certificate's CN, after a verified handshake."""
    version = smtp.sock.version()
    if version not in ("TLSv1.2", "TLSv1.3"):
        raise SystemExit(f"TLS version {version}")
    subject = dict(pair[0] for pair in smtp.sock.getpeercert()["subject"])
    if subject.get("commonName") != "mail.test":
        raise SystemExit(f"certificate subject {subject}")
    return f"{version} {smtp.sock.cipher()[0]}, certificate CN=mail.test verified"


def message(marker, to):
    msg = EmailMessage()
    msg["From"] = "sender@client.test"
    msg["To"] = to
    msg["Subject"] = f"interop {marker} grüße"
    msg["Message-ID"] = f"<{marker}@client.test>"
    msg.set_content("Sent by Python's smtplib: grüße.\n")
    return msg


def submit(port, ca, marker, user, password):
    """STARTTLS with a verifying context (CA file, host name checked), AUTH, send."""
    context = ssl.create_default_context(cafile=ca)
    with connect(port) as smtp:
        smtp.ehlo()
        smtp.starttls(context=context)
        summary = tls_summary(smtp)
        smtp.login(user, password)
        refused = smtp.send_message(message(marker, f"{marker}@mail.test"))
        if refused:
            raise SystemExit(f"refused recipients: {refused}")
    print(f"{summary}; login and send_message accepted")


def rogue(port, ca):
    """STARTTLS trusting only a CA that did not issue the server's chain: must fail."""
    context = ssl.create_default_context(cafile=ca)
    with connect(port) as smtp:
        smtp.ehlo()
        try:
            smtp.starttls(context=context)
        except ssl.SSLCertVerificationError as err:
            print(f"SSLCertVerificationError: {err.verify_message}")
            return
    raise SystemExit("the handshake succeeded with the wrong CA")


def utf8_sendmail(port, marker):
    """sendmail() with mail_options=["SMTPUTF8"] and raw UTF-8 bytes."""
    data = message(marker, UTF8_RECIPIENT).as_bytes(policy=policy.SMTPUTF8)
    with connect(port) as smtp:
        refused = smtp.sendmail("sender@client.test", [UTF8_RECIPIENT], data, mail_options=["SMTPUTF8"])
        if refused:
            raise SystemExit(f"refused recipients: {refused}")
    print("sendmail(mail_options=['SMTPUTF8']) accepted")


def utf8_send_message(port, marker):
    """send_message() of a message to a non-ASCII address: smtplib adds SMTPUTF8 itself."""
    with connect(port) as smtp:
        refused = smtp.send_message(message(marker, UTF8_RECIPIENT))
        if refused:
            raise SystemExit(f"refused recipients: {refused}")
    print("send_message() accepted (smtplib added SMTPUTF8 BODY=8BITMIME)")


def utf8_duplicate(port, marker):
    """send_message(mail_options=["SMTPUTF8"]): smtplib adds the keyword a second time."""
    with connect(port) as smtp:
        smtp.set_debuglevel(1)
        refused = smtp.send_message(message(marker, UTF8_RECIPIENT), mail_options=["SMTPUTF8"])
        if refused:
            raise SystemExit(f"refused recipients: {refused}")
    print("send_message(mail_options=['SMTPUTF8']) accepted")


def main(argv):
    case, port, ca, marker, user, password = argv[1:7]
    port = int(port)
    if case == "submit":
        submit(port, ca, marker, user, password)
    elif case == "rogue":
        rogue(port, ca)
    elif case == "utf8-sendmail":
        utf8_sendmail(port, marker)
    elif case == "utf8-send-message":
        utf8_send_message(port, marker)
    elif case == "utf8-duplicate":
        utf8_duplicate(port, marker)
    else:
        raise SystemExit(f"unknown case {case}")


if __name__ == "__main__":
    main(sys.argv)
