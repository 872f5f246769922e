#!/usr/bin/env python3
"""A stand-in for the fictional Example PSA, for the author's guide in CI.

The guide (template/README.md) shows `psa-host check`, `import` and
`import --record` against "your PSA". CI has no PSA, so scripts/author-kit.sh
runs those exact commands against this server: plain HTTP on 127.0.0.1 (the
CLI's `--allow-loopback`), answering each request from the template's
fixtures (`fixtures/NNN-*.toml`, matched by method, path and query), and only
when it carries `Authorization: Bearer <the key given with --key>` (else 401,
as Example PSA would).

    python3 scripts/example-psa.py --fixtures acme-psa/fixtures --key KEY --port-file port.txt

It writes the port it listens on to --port-file, then serves until killed.
"""

import argparse
import http.server
import pathlib
import sys
import tomllib
import urllib.parse


def load(fixtures: pathlib.Path):
    answers = {}
    for path in sorted(fixtures.glob("*.toml")):
        if path.name == "connection.toml":
            continue
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        req, resp = doc["request"], doc["response"]
        url = urllib.parse.urlsplit(req["url"])
        key = (req["method"].upper(), url.path, tuple(sorted(urllib.parse.parse_qsl(url.query))))
        answers[key] = (int(resp["status"]), resp.get("headers", {}), resp.get("body", "").encode("utf-8"))
    if not answers:
        sys.exit(f"example-psa: no exchanges in {fixtures}")
    return answers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True, type=pathlib.Path)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True, type=pathlib.Path)
    args = ap.parse_args()
    answers = load(args.fixtures)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            key = ("GET", url.path, tuple(sorted(urllib.parse.parse_qsl(url.query))))
            if self.headers.get("Authorization") != f"Bearer {args.key}":
                status, headers, body = 401, {"content-type": "application/json"}, b'{"error":"invalid API key"}'
            elif key in answers:
                status, headers, body = answers[key]
            else:
                status, headers, body = 404, {"content-type": "application/json"}, b'{"error":"no such page"}'
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *a):
            sys.stderr.write("example-psa: " + (fmt % a) + "\n")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    args.port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
