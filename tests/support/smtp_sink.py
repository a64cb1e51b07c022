"""A real SMTP server for tests (aiosmtpd): binds 127.0.0.1 on a free port, prints
`PORT <n>` on its first line of output, and stores every message it accepts as
`<dir>/<time>-<sequence>.eml` (written to a temporary name, then renamed, so readers never see a
partial file). Runs until killed; an optional second argument is the port to bind (to come
back on the same port after a stop)."""

import asyncio
import os
import socket
import sys
import time

from aiosmtpd.smtp import SMTP


class Store:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        # Time first, so that names sort in arrival order across restarts of the sink.
        name = os.path.join(self.directory, "%020d-%06d.eml" % (time.time_ns(), self.count))
        header = "X-Envelope-To: %s\r\n" % ", ".join(envelope.rcpt_tos)
        data = envelope.original_content or envelope.content
        with open(name + ".tmp", "wb") as file:
            file.write(header.encode() + data)
        os.rename(name + ".tmp", name)
        return "250 Message accepted for delivery"


async def main(directory, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    store = Store(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(store, hostname="sink.test"), sock=sock)
    print("PORT %d" % sock.getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0))
