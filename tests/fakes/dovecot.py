"""A real IMAP server for the tests: Dovecot from the distribution's packages, on loopback.

    with Dovecot() as imap:                         # TLS on imap.port, STARTTLS on imap.plain_port
        imap.user, imap.password, imap.ca_file      # what the bot is configured with
        await imap.deliver(raw_bytes)               # APPEND, as a mail server's delivery would
        await imap.deliver(raw_bytes, folder="Archive")

Each instance has its own throwaway configuration, state, sockets and maildir, a certificate for
127.0.0.1 signed by a test CA made here with `cryptography` (the bot trusts `ca_file`, nothing
else), and one user. Dovecot runs in the foreground (`dovecot -F -c conf`) and is stopped with
its process group.

Run as root (CI, containers), Dovecot's own processes need unprivileged users: the login
processes run as `dovenull` and the internal ones as `dovecot` (Debian's package creates both;
`nobody` stands in otherwise), and mail is kept as `nobody`, since Dovecot refuses to touch mail
as uid 0. Everything is therefore kept outside pytest's private temporary
directory, in one made here and removed at the end. Run as another user, everything runs as that user.

`dovecot_reason()` says why Dovecot cannot run here (None when it can); tests skip with it, or
fail when `CI` or `TAKEDOWN_REQUIRE_DOVECOT` is set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from aioimaplib import IMAP4_SSL
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
)
REQUIRE_DOVECOT = bool(os.environ.get("CI") or os.environ.get("TAKEDOWN_REQUIRE_DOVECOT"))
_DH = Path("/usr/share/dovecot/dh.pem")


def dovecot_reason() -> str | None:
    if DOVECOT is None:
        return "Dovecot is not installed (apt-get install dovecot-imapd)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _user(name: str, fallback: str = "nobody") -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return pwd.getpwnam(fallback)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 it signed: (ca, cert, key) PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("takedown-bot test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


class Dovecot:
    """One Dovecot instance with one user, TLS on `port` and STARTTLS on `plain_port`."""

    def __init__(self, *, user: str = "notices", password: str = "imap-s3cret") -> None:  # noqa: S107
        # Dovecot's unprivileged processes read the password file and write the mail, so all of
        # it lives outside pytest's private (0700) temporary directory.
        self.folder = Path(tempfile.mkdtemp(prefix="takedown-dovecot-"))
        self.folder.chmod(0o755)
        self.user = user
        self.password = password
        self.port = 0
        self.plain_port = 0
        self.ca_file = self.folder / "ca.pem"
        self._process: subprocess.Popen[bytes] | None = None
        self._mail: Path | None = None

    def _config(self, cert: Path, key: Path) -> str:
        root = os.geteuid() == 0
        me = pwd.getpwuid(os.geteuid())
        login = _user("dovenull") if root else me
        internal = _user("dovecot") if root else me
        mail = _user("nobody") if root else me
        assert self._mail is not None
        os.chown(self._mail, mail.pw_uid, mail.pw_gid)
        dh = f"ssl_dh = <{_DH}\n" if _DH.exists() else ""
        unprivileged = (
            "" if root else "service anvil {\n  chroot =\n}\nservice imap-login {\n  chroot =\n}\n"
        )
        return f"""\
base_dir = {self.folder}/run
state_dir = {self.folder}/state
log_path = {self.folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
{dh}default_login_user = {login.pw_name}
default_internal_user = {internal.pw_name}
mail_location = maildir:{self._mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.folder}/users
}}
userdb {{
  driver = static
  args = uid={mail.pw_uid} gid={mail.pw_gid} home={self._mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.port}
    ssl = yes
  }}
}}
{unprivileged}"""

    def start(self) -> Self:
        assert DOVECOT is not None, dovecot_reason()
        for sub in ("run", "state"):
            (self.folder / sub).mkdir()
        _, cert, key = make_certificates(self.folder)
        self._mail = self.folder / "mail"
        self._mail.mkdir()
        (self.folder / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        self.port, self.plain_port = _free_port(), _free_port()
        conf = self.folder / "dovecot.conf"
        conf.write_text(self._config(cert, key))
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        # Waiting for a server to listen, not for something to happen in a test.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
            self._process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- delivering mail --------------------------------------------------------------------------

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    async def session(self) -> IMAP4_SSL:
        client = IMAP4_SSL("127.0.0.1", self.port, ssl_context=self.tls_context(), timeout=30)
        await client.wait_hello_from_server()
        response = await client.login(self.user, self.password)
        assert response.result == "OK", response
        return client

    async def deliver(self, *messages: bytes, folder: str = "INBOX") -> None:
        """Append messages to `folder` (created if missing), as delivery would."""
        client = await self.session()
        try:
            if folder != "INBOX":
                await client.create(folder)
            for message in messages:
                response = await client.append(message, mailbox=folder)
                assert response.result == "OK", response
        finally:
            await client.logout()

    async def recreate(self, folder: str) -> None:
        """Delete `folder` and make it again: the server gives it a new UIDVALIDITY."""
        client = await self.session()
        try:
            assert (await client.delete(folder)).result == "OK"
            assert (await client.create(folder)).result == "OK"
        finally:
            await client.logout()

    async def uids(self, folder: str = "INBOX") -> list[int]:
        """The UIDs in `folder` now."""
        client = await self.session()
        try:
            response = await client.select(folder)
            assert response.result == "OK", response
            found = await client.uid_search("ALL", charset=None)
            # aioimaplib gives the untagged SEARCH's numbers without the word.
            return [int(word) for word in found.lines[0].split() if word.isdigit()]
        finally:
            await client.logout()
