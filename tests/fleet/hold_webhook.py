"""An admission webhook for make test-fleet that holds object creations until the test releases them, so the
test can stop the Pulumi engine while a create it sent is in flight, whatever the machine's speed.

  hold_webhook.py DIR

DIR holds cert.pem and key.pem (its serving certificate, for 127.0.0.1). The server binds 127.0.0.1 on a free
port and writes it to DIR/port. Each admission request that is not a dry run appends the object's name to
DIR/held, then waits until DIR/release exists, and admits it. Dry runs are admitted at once. It exits by itself
after an hour, or when its parent exits. Standard library only.
"""
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIFETIME_SECONDS = 3600


def main(directory):
    parent = os.getppid()
    held = os.path.join(directory, "held")
    release = os.path.join(directory, "release")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            request = review["request"]
            if not request.get("dryRun"):
                with lock, open(held, "a") as f:
                    f.write(request.get("name", "") + "\n")
                # The API server's own timeout (the webhook's timeoutSeconds) bounds this wait; its failure
                # policy decides then. A release normally comes within a second.
                while not os.path.exists(release):
                    time.sleep(0.05)
            body = json.dumps({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": request["uid"], "allowed": True},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(os.path.join(directory, "port.tmp"), "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))

    def stop_when_orphaned():
        deadline = time.monotonic() + LIFETIME_SECONDS
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(1)
        server.shutdown()

    threading.Thread(target=stop_when_orphaned, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:])
