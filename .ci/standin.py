#!/usr/bin/env python3
"""A stand-in for the update service on 127.0.0.1, for smoke tests and the
peer benchmark (outside cargo test). Python 3 standard library only.

    standin.py --dir DIR [--tls]

Writes into DIR:
    port        the port it listens on (written once it accepts connections)
    requests    one line per request received: the request target
    (with --tls, the CA and server certificate must already be in DIR:
     ca.pem, server.pem, server.key; see `standin.py --make-ca DIR`)

Answers every GET:
    /ip, /checkip        "Current IP Address: 203.0.113.7" (for checkip clients)
    /nic/update?...      "good <myip>" (dyndns2 clients such as ddclient)
    anything else        "800 OK" (the service's success code)

It stops by itself after --lifetime seconds (default 1800) and never binds
anything but 127.0.0.1.
"""

import argparse
import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import urllib.parse

CHECKIP_ADDR = "203.0.113.7"


def make_ca(out):
    """An ECDSA P-256 test CA and a server certificate for 127.0.0.1 and
    localhost, made with the openssl command-line tool."""
    os.makedirs(out, exist_ok=True)

    def p(name):
        return os.path.join(out, name)

    def run(*args):
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    ext = p("server.ext")
    with open(ext, "w", encoding="ascii") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
        "-out", p("ca.key"))
    run("openssl", "req", "-x509", "-new", "-key", p("ca.key"), "-sha256",
        "-days", "3650", "-subj", "/CN=mtgsy-ddns test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", p("ca.pem"))
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
        "-out", p("server.key"))
    run("openssl", "req", "-new", "-key", p("server.key"),
        "-subj", "/CN=127.0.0.1", "-out", p("server.csr"))
    run("openssl", "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"),
        "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "3650",
        "-sha256", "-extfile", ext, "-out", p("server.pem"))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin"
    sys_version = ""

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/ip", "/checkip"):
            body = "Current IP Address: " + CHECKIP_ADDR
        elif path == "/nic/update":
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            body = "good " + q.get("myip", [CHECKIP_ADDR])[0]
            self.server.record(self.path)
        else:
            body = "800 OK"
            self.server.record(self.path)
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory, tls):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests_path = os.path.join(directory, "requests")
        open(self.requests_path, "w").close()
        self.ctx = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(os.path.join(directory, "server.pem"),
                                os.path.join(directory, "server.key"))
            self.ctx = ctx

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ctx is not None:
            sock.settimeout(10)
            sock = self.ctx.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if self.ctx is not None:
            try:
                request.do_handshake()
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # a client that hangs up early is not our problem

    def record(self, target):
        with self.lock:
            with open(self.requests_path, "a", encoding="utf-8") as f:
                f.write(target + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--make-ca", metavar="DIR")
    ap.add_argument("--lifetime", type=float, default=1800)
    a = ap.parse_args()
    if a.make_ca:
        make_ca(a.make_ca)
        return 0
    if not a.dir:
        ap.error("--dir is required")
    srv = Server(a.dir, a.tls)
    timer = threading.Timer(a.lifetime, srv.shutdown)
    timer.daemon = True
    timer.start()
    tmp = os.path.join(a.dir, "port.tmp")
    with open(tmp, "w", encoding="ascii") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, os.path.join(a.dir, "port"))
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
