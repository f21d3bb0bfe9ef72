"""A SASL_SSL (or mutual TLS) front for tansu, so that the Kafka loader's TLS, SASL and client
certificates are tested.

tansu 0.6, the Kafka-protocol broker these machines can run, has neither: its `--cert` and
`--key` options refuse each other, and the SCRAM users it is given are never stored. This front
does what a Kafka broker's SASL_SSL listener does, then relays bytes to tansu unchanged:

1. TLS with the given certificate and key;
2. before authentication, only ApiVersions (answered by tansu), SaslHandshake (v0-v1) and
   SaslAuthenticate (v0-v1); anything else closes the connection, as Kafka does;
3. SASL PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (RFC 5802; credentials kept as Kafka keeps them:
   salt, iterations, StoredKey, ServerKey). A wrong user or password gets Kafka's error 58,
   SASL_AUTHENTICATION_FAILED, and the connection closes.

With `--client-ca CA` it is an SSL listener with mutual TLS instead (security.protocol SSL):
the client must present a certificate signed by CA, which is its authentication; no SASL.

tansu must advertise this front's address, so that clients come back through it.

Usage: kafka_auth_front.py --listen HOST:PORT --broker HOST:PORT --cert CERT --key KEY
                           (--user NAME:PASSWORD [--user ...] | --client-ca CA)
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import ssl
import struct

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED = 33, 58
SCRAM_HASHES = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-512": hashlib.sha512}
MECHANISMS = ["PLAIN", *SCRAM_HASHES]
SCRAM_ITERATIONS = 4096


def kafka_string(text):
    """A nullable STRING: int16 length (-1 for null), UTF-8 bytes."""
    if text is None:
        return struct.pack(">h", -1)
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def response(correlation_id, body):
    """A response frame with header v0 (SaslHandshake and SaslAuthenticate v0-v1 use it)."""
    payload = struct.pack(">i", correlation_id) + body
    return struct.pack(">i", len(payload)) + payload


async def read_frame(reader):
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


class ScramCredential:
    """What a Kafka broker stores of a SCRAM user: never the password itself."""

    def __init__(self, mechanism, password):
        self.hash = SCRAM_HASHES[mechanism]
        self.salt = os.urandom(16)
        salted = hashlib.pbkdf2_hmac(
            self.hash().name, password.encode(), self.salt, SCRAM_ITERATIONS
        )
        self.stored_key = self.hash(self.hmac(salted, b"Client Key")).digest()
        self.server_key = self.hmac(salted, b"Server Key")

    def hmac(self, key, message):
        return hmac.new(key, message, self.hash).digest()


class ScramExchange:
    """The server side of one SCRAM exchange: client-first, then client-final."""

    def __init__(self, credentials):
        self.credentials = credentials
        self.credential = None

    def first(self, message):
        # client-first: gs2 header ("n,,"), then the bare message "n=user,r=nonce[,...]".
        self.client_first_bare = message.split(",", 2)[2]
        fields = dict(f.split("=", 1) for f in self.client_first_bare.split(","))
        user = fields["n"].replace("=2C", ",").replace("=3D", "=")
        self.credential = self.credentials.get(user)
        self.nonce = fields["r"] + base64.b64encode(os.urandom(18)).decode()
        # An unknown user gets a made-up salt and fails at the proof, as Kafka does.
        salt = self.credential.salt if self.credential else os.urandom(16)
        salt = base64.b64encode(salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={SCRAM_ITERATIONS}"
        return self.server_first.encode()

    def final(self, message):
        """The server-final message, or None when the proof is wrong."""
        without_proof, _, proof = message.rpartition(",p=")
        fields = dict(f.split("=", 1) for f in without_proof.split(","))
        c = self.credential
        if c is None or fields.get("r") != self.nonce:
            return None
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = c.hmac(c.stored_key, auth_message)
        client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature))
        if not hmac.compare_digest(c.hash(client_key).digest(), c.stored_key):
            return None
        server_signature = base64.b64encode(c.hmac(c.server_key, auth_message)).decode()
        return f"v={server_signature}".encode()


class Front:
    def __init__(self, broker, users):
        """`users` by name, their passwords; None for mutual TLS (no SASL)."""
        self.broker_host, self.broker_port = broker
        self.passwords = users
        self.scram = {
            mechanism: {user: ScramCredential(mechanism, pw) for user, pw in users.items()}
            for mechanism in SCRAM_HASHES
        } if users is not None else None

    async def serve(self, client_reader, client_writer):
        try:
            broker_reader, broker_writer = await asyncio.open_connection(
                self.broker_host, self.broker_port
            )
        except OSError:
            client_writer.close()
            return
        try:
            # Under mutual TLS the handshake, done, was the authentication.
            if self.passwords is None or await self.authenticate(
                client_reader, client_writer, broker_reader, broker_writer
            ):
                await asyncio.gather(
                    relay(client_reader, broker_writer), relay(broker_reader, client_writer)
                )
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            for writer in (client_writer, broker_writer):
                writer.close()

    async def authenticate(self, client_reader, client_writer, broker_reader, broker_writer):
        """Runs the client's requests up to a successful SASL exchange; False to close."""
        mechanism, exchange = None, None
        while True:
            request = await read_frame(client_reader)
            api_key, api_version, correlation_id, client_id_length = struct.unpack(
                ">hhih", request[:10]
            )
            body = request[10 + max(client_id_length, 0) :]
            if api_key == API_VERSIONS:
                broker_writer.write(struct.pack(">i", len(request)) + request)
                await broker_writer.drain()
                answer = await read_frame(broker_reader)
                client_writer.write(struct.pack(">i", len(answer)) + answer)
            elif api_key == SASL_HANDSHAKE and api_version <= 1:
                (length,) = struct.unpack(">h", body[:2])
                wanted = body[2 : 2 + length].decode()
                mechanism = wanted if wanted in MECHANISMS else None
                error = 0 if mechanism else UNSUPPORTED_SASL_MECHANISM
                listed = b"".join(kafka_string(m) for m in MECHANISMS)
                body = struct.pack(">hi", error, len(MECHANISMS)) + listed
                client_writer.write(response(correlation_id, body))
                if mechanism is None:
                    return False
            elif api_key == SASL_AUTHENTICATE and api_version <= 1 and mechanism:
                (length,) = struct.unpack(">i", body[:4])
                token = body[4 : 4 + length].decode()
                if mechanism == "PLAIN":
                    _, user, password = token.split("\0", 2)
                    accepted = self.passwords.get(user) == password
                    answer, done = (b"" if accepted else None), True
                elif exchange is None:
                    exchange = ScramExchange(self.scram[mechanism])
                    answer, done = exchange.first(token), False
                else:
                    answer, done = exchange.final(token), True
                lifetime = struct.pack(">q", 0) if api_version >= 1 else b""
                if answer is None:
                    message = (
                        "Authentication failed during authentication due to invalid "
                        f"credentials with SASL mechanism {mechanism}"
                    )
                    body = struct.pack(">h", SASL_AUTHENTICATION_FAILED) + kafka_string(message)
                    client_writer.write(response(correlation_id, body + struct.pack(">i", 0) + lifetime))
                    await client_writer.drain()
                    return False
                body = struct.pack(">h", 0) + kafka_string(None)
                body += struct.pack(">i", len(answer)) + answer + lifetime
                client_writer.write(response(correlation_id, body))
                if done:
                    await client_writer.drain()
                    return True
            else:
                return False
            await client_writer.drain()


async def relay(reader, writer):
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


def address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", type=address, required=True)
    parser.add_argument("--broker", type=address, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", action="append", help="NAME:PASSWORD")
    who.add_argument("--client-ca", help="require client certificates signed by this CA")
    args = parser.parse_args()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        tls.verify_mode = ssl.CERT_REQUIRED
        tls.load_verify_locations(args.client_ca)
    users = dict(u.split(":", 1) for u in args.user) if args.user else None
    front = Front(args.broker, users)
    server = await asyncio.start_server(front.serve, *args.listen, ssl=tls)
    print(f"kafka auth front on {args.listen[0]}:{args.listen[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
