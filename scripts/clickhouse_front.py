"""The ClickHouse engine behind ClickHouse's HTTP interface, for tests and local runs.

No clickhouse-server binary can be installed on these machines (see ../shared/SERVICES.md);
the real ClickHouse engine can, in-process, from PyPI's `chdb`. This serves the part of the
HTTP interface that the Rust `clickhouse` crate uses, on 127.0.0.1 only:

- `GET /ping` and `GET /` answer `Ok.`; the query is `?query=` followed by the POST body.
- `?database=` is the current database, `?default_format=` the output format; `param_<name>`
  are bound query parameters; other parameters are settings for that query.
- `?decompress=1`: the body is ClickHouse's compressed blocks; `?compress=1`: the answer is.
- `INSERT ... FORMAT X` with rows in the body runs as `INSERT ... FROM INFILE`.
- Errors: HTTP 500, header `X-ClickHouse-Exception-Code`, body `Code: N. DB::Exception: ...`.
- `X-ClickHouse-Summary` tells the rows read and written, as the server's header does.

It is the ClickHouse engine, not clickhouse-server: one engine per process, so queries run
one at a time.

Usage: python clickhouse_front.py --port 8123 --data DIR
"""

import argparse
import json
import os
import re
import struct
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import chdb
import lz4.block
from chdb import session as chdb_session
from clickhouse_cityhash.cityhash import CityHash128

# Parameters of the HTTP protocol itself, not settings.
PROTOCOL = {
    "query", "database", "default_format", "compress", "decompress", "query_id",
    "session_id", "session_timeout", "session_check", "user", "password", "quota_key",
    "wait_end_of_query", "buffer_size", "enable_http_compression", "role",
}
COMPRESSED_HEADER = 9  # method byte, compressed size, raw size
LZ4, NONE = 0x82, 0x02
INSERT_WITH_DATA = re.compile(r"^\s*INSERT\b.*\bFORMAT\s+(\w+)\s*$", re.IGNORECASE | re.DOTALL)
ERROR_CODE = re.compile(r"Code:\s*(\d+)")


def decompress(body: bytes) -> bytes:
    """ClickHouse compressed blocks: 16-byte checksum, method, sizes, payload."""
    out, at = bytearray(), 0
    while at < len(body):
        method = body[at + 16]
        compressed, raw = struct.unpack_from("<II", body, at + 17)
        payload = body[at + 16 + COMPRESSED_HEADER : at + 16 + compressed]
        if method == LZ4:
            out += lz4.block.decompress(payload, uncompressed_size=raw)
        elif method == NONE:
            out += payload
        else:
            raise ValueError(f"unsupported compression method 0x{method:02x}")
        at += 16 + compressed
    return bytes(out)


def compress(data: bytes) -> bytes:
    """One LZ4 block per megabyte, each with its CityHash128 checksum."""
    out = bytearray()
    for start in range(0, max(len(data), 1), 1 << 20):
        chunk = data[start : start + (1 << 20)]
        payload = lz4.block.compress(chunk, store_size=False)
        block = struct.pack("<BII", LZ4, len(payload) + COMPRESSED_HEADER, len(chunk)) + payload
        checksum = CityHash128(block)
        out += struct.pack("<QQ", checksum & (2**64 - 1), checksum >> 64) + block
    return bytes(out)


class Engine:
    """The one chdb session of this process, used by one request at a time."""

    def __init__(self, data: str):
        self.session = chdb_session.Session(data)
        self.lock = threading.Lock()

    def run(self, sql, fmt, database, settings, params, data=None):
        with self.lock:
            if database:
                self.session.query(f"USE `{database}`")
            for name, value in settings.items():
                self.session.query(f"SET {name} = {quote(value)}")
            try:
                if data is not None:
                    result = self.insert(sql, data, params)
                else:
                    result = self.session.query(sql, fmt, params=params or None)
                if result is None:
                    return b"", {}
                return result.bytes(), {
                    "read_rows": str(result.rows_read()),
                    "written_rows": str(result.rows_written()),
                }
            finally:
                for name in settings:
                    self.session.query(f"SET {name} = DEFAULT")

    def insert(self, sql, data, params):
        match = INSERT_WITH_DATA.match(sql)
        head, fmt = sql[: match.start(1)].rstrip(), match.group(1)
        head = re.sub(r"\s*FORMAT\s*$", "", head, flags=re.IGNORECASE)
        with tempfile.NamedTemporaryFile(suffix=".data", delete=False) as file:
            file.write(data)
        try:
            return self.session.query(
                f"{head} FROM INFILE '{file.name}' FORMAT {fmt}", "TSV", params=params or None
            )
        finally:
            os.unlink(file.name)


def quote(value: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine: Engine = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path in ("/ping", "/") and "query" not in url.query:
            return self.answer(200, b"Ok.\n")
        return self.handle_query(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self.read_chunked()
        else:
            body = self.rfile.read(length)
        return self.handle_query(body)

    def read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                self.rfile.readline()
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline()

    def handle_query(self, body: bytes):
        params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        try:
            if params.get("decompress") == "1" and body:
                body = decompress(body)
            query = params.get("query", "")
            fmt = params.get("default_format", "TabSeparated")
            bound = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
            settings = {
                k: v for k, v in params.items() if k not in PROTOCOL and not k.startswith("param_")
            }
            if query and body and INSERT_WITH_DATA.match(query):
                result, summary = self.engine.run(query, fmt, params.get("database"), settings, bound, body)
            else:
                sql = (query + ("\n" if query and body else "") + body.decode()).strip()
                result, summary = self.engine.run(sql, fmt, params.get("database"), settings, bound)
        except Exception as error:  # every engine error goes back to the client
            message = str(error)
            code = ERROR_CODE.search(message)
            if not message.startswith("Code:"):
                message = f"Code: 1000. DB::Exception: {message}"
            return self.answer(
                500,
                (message.rstrip() + "\n").encode(),
                {"X-ClickHouse-Exception-Code": code.group(1) if code else "1000"},
            )
        headers = {"X-ClickHouse-Format": fmt, "X-ClickHouse-Summary": json.dumps(summary)}
        if params.get("compress") == "1":
            result = compress(result)
        return self.answer(200, result, headers)

    def answer(self, status, body, headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--data", required=True, help="the engine's data folder")
    args = parser.parse_args()
    Handler.engine = Engine(args.data)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"ClickHouse engine {chdb.__version__} on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
