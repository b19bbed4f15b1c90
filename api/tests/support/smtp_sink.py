"""A real SMTP server for Kiln's tests, built on aiosmtpd.

Each message received is written to OUT_DIR as one JSON file holding the
envelope sender, the envelope recipients and the raw message (base64), so a
test can assert exactly what went over the wire. The port it listens on is
printed as the first line on stdout (pass 0 to let the system choose).

Usage: python3 smtp_sink.py OUT_DIR [PORT]
"""

import asyncio
import base64
import itertools
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": base64.b64encode(envelope.original_content).decode("ascii"),
        }
        name = "%06d.json" % next(self.counter)
        tmp = os.path.join(self.out_dir, "." + name)
        with open(tmp, "w") as f:
            json.dump(record, f)
        # Renamed into place so a reader never sees half a file.
        os.rename(tmp, os.path.join(self.out_dir, name))
        return "250 Message accepted for delivery"


async def main():
    out_dir = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    os.makedirs(out_dir, exist_ok=True)
    handler = Sink(out_dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="kiln-test-sink"), "127.0.0.1", port
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
