"""A throwaway PostgreSQL for tests: Debian's ``postgresql`` binaries, a cluster in a temporary folder.

``PgCluster().start()`` runs ``initdb`` into a fresh temporary folder (password authentication, a random
password), then ``pg_ctl start`` on a free loopback port with its unix socket in that folder too; ``stop()`` stops it
(immediate mode, bounded) and removes the folder. PostgreSQL refuses to run as root, so as root the folder is handed
to ``nobody`` and every server command runs through ``runuser -u nobody``; as a normal user they run as that user.
Every step is bounded in time. ``schema_url(name)`` gives a URL whose connections live in their own fresh schema
(``search_path``), so each test starts from an empty database at the cost of one ``CREATE SCHEMA``.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

START_TIMEOUT_S = 30


def bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    assert found, "PostgreSQL is missing: apt-get install postgresql (Debian's package; the tests start their own cluster)"
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self):
        self.bin = bin_dir()
        self.folder: Path | None = None
        self.port = 0
        self.password = secrets.token_urlsafe(18)
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        return subprocess.run(cmd, cwd=self.folder, capture_output=True, text=True, timeout=timeout, check=False,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "TZ": "UTC"})

    def start(self) -> "PgCluster":
        """Start the cluster; on any failure (a missing binary, a timeout) the folder is removed again."""
        self.folder = Path(tempfile.mkdtemp(prefix="ce-pg-"))
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> "PgCluster":
        data = self.folder / "data"
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        os.chmod(pwfile, 0o600)
        if self.as_root:
            nobody = pwd.getpwnam("nobody")
            for p in (self.folder, pwfile):
                os.chown(p, nobody.pw_uid, nobody.pw_gid)
        os.chmod(self.folder, 0o700)
        r = self._run("initdb", "-D", str(data), "-U", "postgres", "--pwfile", str(pwfile), "-A", "scram-sha-256",
                      "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
        assert r.returncode == 0, f"initdb failed: {r.stderr[-2000:]}"
        for attempt in range(3):  # another process may take the free port between the probe and the start
            self.port = _free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.folder} "
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                    "-c shared_buffers=32MB")
            r = self._run("pg_ctl", "-D", str(data), "-l", str(self.folder / "log"), "-w", "-t", str(START_TIMEOUT_S),
                          "-o", opts, "start", timeout=START_TIMEOUT_S + 10)
            if r.returncode == 0:
                return self
        log = (self.folder / "log").read_text(errors="replace")[-2000:] if (self.folder / "log").exists() else ""
        raise AssertionError(f"pg_ctl start failed: {r.stderr[-1000:]} {log}")

    def url(self, **query: str) -> str:
        q = "&".join(f"{k}={quote(v)}" for k, v in query.items())
        return (f"postgresql+psycopg://postgres:{quote(self.password)}@127.0.0.1:{self.port}/postgres"
                + (f"?{q}" if q else ""))

    def schema_url(self, name: str | None = None) -> str:
        """A URL whose connections use a new, empty schema of their own."""
        import psycopg

        name = name or f"t_{secrets.token_hex(6)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres password={self.password}",
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return self.url(options=f"-csearch_path={name}")

    def stop(self) -> None:
        if self.folder is None:
            return
        if (self.folder / "data" / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "-t", "20", "stop",
                          timeout=30)
        deadline = time.time() + 10
        while (self.folder / "data" / "postmaster.pid").exists() and time.time() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

