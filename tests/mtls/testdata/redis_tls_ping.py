#!/usr/bin/env python3
"""PING Redis over TLS exactly as redis-py's SSLConnection connects, with the kwargs nautobot_config.py sets.

    redis_tls_ping.py 127.0.0.1:PORT SERVER_NAME    (password in REDIS_PASSWORD; config from the environment)

redis-py's SSLConnection._connect (redis 4.x/5.x) builds the context below from the same ssl_* keyword
arguments, so this exercises the Python/OpenSSL TLS stack a Nautobot pod uses, and waits for the server's
verdict, which redis-py does not. The kwargs come from loading assets/nautobot_config.py on the Nautobot
stand-in, as assets/tests/dump_settings.py does. Prints the reply to PING, or "<ExceptionType>: <message>"
and exits 1.
"""

import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "assets", "tests"))
from configloader import load_config  # noqa: E402


def command(*args):
    parts = [f"*{len(args)}\r\n"] + [f"${len(a.encode())}\r\n{a}\r\n" for a in args]
    return "".join(parts).encode()


def reply(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed by server")
        data += chunk
    return data.decode().strip()


def main():
    address, server_name = sys.argv[1], sys.argv[2]
    host, port = address.rsplit(":", 1)
    try:
        kwargs = load_config().CACHES["default"]["OPTIONS"]["CONNECTION_POOL_KWARGS"]
        context = ssl.create_default_context()
        context.check_hostname = kwargs["ssl_check_hostname"]
        context.verify_mode = kwargs["ssl_cert_reqs"]
        context.load_cert_chain(certfile=kwargs["ssl_certfile"], keyfile=kwargs["ssl_keyfile"])
        context.load_verify_locations(cafile=kwargs["ssl_ca_certs"])
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                # Unlike redis-py, wait briefly for the server's verdict on our certificate (TLS 1.3 delivers it
                # after the handshake) so that a rejection shows as the server's alert, not as a reset/EOF on
                # the first write. Redis sends nothing before a command, so a timeout means accepted.
                tls.settimeout(0.5)
                try:
                    if tls.recv(1) == b"":
                        raise ConnectionError("connection closed by server")
                except TimeoutError:
                    pass
                tls.settimeout(5)
                password = os.environ.get("REDIS_PASSWORD", "")
                if password:
                    tls.sendall(command("AUTH", password))
                    auth = reply(tls)
                    if auth != "+OK":
                        print(auth)
                        return 1
                tls.sendall(command("PING"))
                print(reply(tls))
                return 0
    except Exception as err:  # noqa: BLE001 - the test asserts the exact error
        print(f"{type(err).__name__}: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
