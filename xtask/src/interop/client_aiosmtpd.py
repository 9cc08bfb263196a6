"""An aiosmtpd server for `cargo xtask interop`: STARTTLS with the test certificate, required
before MAIL; SMTPUTF8 on. Each transaction becomes one JSON line in the output file.

Usage: client_aiosmtpd.py PORT CHAIN KEY OUTPUT; prints READY when it listens and stops when
its standard input closes.
"""

import json
import ssl
import sys

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, output):
        self.output = output

    async def handle_DATA(self, server, session, envelope):
        record = {
            "tls": session.ssl is not None,
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "content": envelope.original_content.decode("utf-8", "replace"),
        }
        with open(self.output, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        return "250 2.0.0 recorded"


def main():
    port, chain, key, output = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key)
    controller = Controller(
        Recorder(output),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        enable_SMTPUTF8=True,
        decode_data=False,
    )
    controller.start()
    print("READY", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
