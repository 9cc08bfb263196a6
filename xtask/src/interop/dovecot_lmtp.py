"""The LMTP client of the Dovecot cases of `cargo xtask interop` (Debian's /usr/bin/python3).

Usage: dovecot_lmtp.py TARGET MARKER SENDER RECIPIENT...

TARGET is HOST:PORT or the path of a Unix socket. One transaction: LHLO, MAIL, an RCPT
for each recipient, DATA with a message whose Message-Id is <MARKER@client.test>, QUIT.
Prints one JSON object with every reply as "CODE TEXT": lhlo, mail, rcpt (by recipient),
data (by recipient that got 250 at RCPT, in order: LMTP answers DATA once per accepted
recipient, RFC 2033 section 4.2).

smtplib.LMTP's sendmail() and data() read only the first of those replies, so the
transaction is driven with the lower-level calls and the further DATA replies are read
with getreply().
"""

import json
import smtplib
import sys


def reply(pair):
    code, text = pair
    return f"{code} {text.decode('utf-8', 'replace')}".replace("\n", " / ")


def main():
    target, marker, sender, *recipients = sys.argv[1:]
    if target.startswith("/"):
        lmtp = smtplib.LMTP(target, timeout=30)
    else:
        host, port = target.rsplit(":", 1)
        lmtp = smtplib.LMTP(host, int(port), local_hostname="client.test", timeout=30)
    found = {"lhlo": reply(lmtp.ehlo("client.test")), "rcpt": {}, "data": {}}
    found["mail"] = reply(lmtp.mail(sender))
    accepted = []
    for recipient in recipients:
        answer = lmtp.rcpt(recipient)
        found["rcpt"][recipient] = reply(answer)
        if answer[0] == 250:
            accepted.append(recipient)
    if accepted:
        message = (
            f"From: {sender}\r\nTo: {', '.join(recipients)}\r\n"
            f"Subject: interop {marker}\r\nMessage-Id: <{marker}@client.test>\r\n\r\n"
            f"Sent over LMTP by Python's smtplib.\r\n"
        ).encode()
        found["data"][accepted[0]] = reply(lmtp.data(message))
        for recipient in accepted[1:]:
            found["data"][recipient] = reply(lmtp.getreply())
    else:
        lmtp.rset()
    lmtp.quit()
    print(json.dumps(found))


if __name__ == "__main__":
    main()
