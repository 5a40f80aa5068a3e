"""A payload-log sink built on the CloudEvents Python SDK (cloudevents, as KServe's own Python
tooling uses), to check that what the router sends is a CloudEvent a real SDK reads: every POST is
parsed with cloudevents.http.from_http (binary content mode), and one JSON line per event, its
attributes and its data (base64, exact bytes), is appended to the file given as the only argument.
Prints {"msg": "sink listening", "port": N} once ready; answers 200, or 400 when the SDK refuses
the event (so the router counts it failed).
"""

import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cloudevents.http import from_http

OUT = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            # Keep the data as the exact bytes received: no JSON parsing by the SDK.
            event = from_http(dict(self.headers.items()), body, data_unmarshaller=lambda b: b)
        except Exception as err:  # noqa: BLE001 - any refusal is the finding
            self.answer(400, json.dumps({"error": f"cloudevents: {err}"}).encode())
            return
        attributes = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in event.get_attributes().items()}
        with open(OUT, "a", encoding="utf-8") as f:
            f.write(json.dumps({"attributes": attributes, "data": base64.b64encode(event.data or b"").decode()}) + "\n")
        self.answer(200, b"")

    def answer(self, status, payload):
        self.send_response(status)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(json.dumps({"msg": "sink listening", "port": server.server_address[1]}), flush=True)
server.serve_forever()
