"""A demo operations-centre console for `./dev run`: receives Watchkeeper webhooks on
127.0.0.1:PORT, verifies the Watchkeeper-Signature header (the scheme documented in the
README) and prints each alert. Standard library only.

usage: demo_console.py PORT SECRET"""

import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 300


def verify(header, body, secret):
    parts = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for key, value in parts if key == "t"]
    signatures = [value for key, value in parts if key == "v1"]
    if len(timestamps) != 1 or not signatures:
        return False
    if abs(time.time() - int(timestamps[0])) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


class Console(BaseHTTPRequestHandler):
    secret = ""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        valid = verify(self.headers.get("Watchkeeper-Signature", ""), body, self.secret)
        if not valid:
            self.send_response(401)
            self.end_headers()
            print("console: REFUSED a webhook with a bad signature", flush=True)
            return
        alert = json.loads(body)["alert"]
        print("console: signature ok, idempotency key %s\n  [%s] %s: %s (%s, %s)" % (
            self.headers.get("Idempotency-Key"), alert["severity"].upper(), alert["office_id"],
            alert["title"], alert["place"], alert["country"]), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    Console.secret = sys.argv[2]
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Console).serve_forever()
