"""A live bovine-herd server as an interop peer, with one registered user, ``bob``.

bovine-herd (a full Fediverse server in Python) runs in its own virtualenv,
``.venv-bovine`` at the repository root, made by ``bash tests/interop/bovine/setup.sh``.
Each peer gets a fresh working directory (fresh SQLite database: bovine caches
remote keys and never refetches them, and a pre-seeded JSON-LD cache: nothing
reaches the network), a free 127.0.0.1 port, ``hypercorn`` serving
``tests/interop/bovine/app.py``, and ``bob`` registered through bovine_tool.
Bob is driven through bovine's own client (Moo-Auth-1 to his own server) by
``tests/interop/bovine/drive.py``.

Usage, in async tests (the helpers are coroutines so that the event loop that
serves *our* side keeps running while bovine calls back into it)::

    async def test_x(bovine_peer):
        await bovine_peer.follow("http://127.0.0.1:PORT/users/alice")
        item = await bovine_peer.wait_for(lambda a: a.get("type") == "Accept")

Outside pytest fixtures, :func:`start_bovine_peer` is a context manager.

When the venv is missing the fixture skips, unless ``ACTIVITYPUB_REQUIRE_SERVICES=1``
(CI), where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

BOVINE_DIR = Path(__file__).resolve().parent / "bovine"
BOVINE_VENV = BOVINE_DIR.parent.parent.parent / ".venv-bovine"  # outside tests/
BOVINE_PYTHON = BOVINE_VENV / "bin" / "python"
BOVINE_HYPERCORN = BOVINE_VENV / "bin" / "hypercorn"
DRIVE = BOVINE_DIR / "drive.py"

#: Seconds allowed for the server to answer after start (cold start is ~1 s).
START_TIMEOUT = 20.0
#: Seconds allowed for one drive.py command.
DRIVE_TIMEOUT = 30.0

__all__ = [
    "BovinePeer",
    "BovineUnavailable",
    "bovine_available",
    "bovine_peer",
    "require_bovine",
    "start_bovine_peer",
]


class BovineUnavailable(RuntimeError):
    """The bovine venv is not installed or the server did not start."""


def bovine_available() -> bool:
    return BOVINE_PYTHON.exists() and BOVINE_HYPERCORN.exists()


def require_bovine() -> None:
    """Skip the test when the bovine venv is missing; fail under ACTIVITYPUB_REQUIRE_SERVICES=1."""
    if bovine_available():
        return
    reason = f"bovine-herd venv missing at {BOVINE_VENV}: run `bash tests/interop/bovine/setup.sh`"
    if os.environ.get("ACTIVITYPUB_REQUIRE_SERVICES") == "1":
        pytest.fail(reason + " (ACTIVITYPUB_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BovinePeer:
    """A running bovine-herd server and its user ``bob``.

    ``url`` is the server's base URL, ``actor_url`` bob's actor id, ``handle``
    ``bob@127.0.0.1:PORT`` (WebFinger answers ``acct:`` + that).
    """

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.host = f"127.0.0.1:{port}"
        self.actor_url = ""
        self.handle = ""
        self.bovine_name = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._actor: dict[str, Any] | None = None

    # -- process ---------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "VIRTUAL_ENV")) and k != "BOVINE_DB_URL"
        }
        env.update(
            BOVINE_DB_URL=f"sqlite://{self.workdir / 'bovine.sqlite3'}",
            PYTHONPATH=str(BOVINE_DIR),
            PYTHONDONTWRITEBYTECODE="1",
            NO_PROXY="*",
            no_proxy="*",
        )
        return env

    def _start(self) -> None:
        info = self.drive_sync("init", "--domain", self.url)
        self.actor_url = info["actor_id"]
        self.handle = info["handle"]
        self.bovine_name = info["bovine_name"]
        log = (self.workdir / "server.log").open("wb")
        try:
            self.process = subprocess.Popen(
                [str(BOVINE_HYPERCORN), "-b", f"127.0.0.1:{self.port}", "app:app"],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        probe = f"{self.url}/.well-known/webfinger?resource=acct:{self.handle}"
        while True:
            if self.process.poll() is not None:
                raise BovineUnavailable(
                    f"bovine exited with {self.process.returncode}:\n{self.log()[-4000:]}"
                )
            try:
                with urllib.request.urlopen(probe, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise BovineUnavailable(f"bovine did not answer in {START_TIMEOUT}s:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL after 5 s)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def log(self) -> str:
        """The server's log so far (bovine logs at INFO: requests, processing, sends)."""
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- drive.py ----------------------------------------------------------------

    def _command(self, args: tuple[str, ...]) -> list[str]:
        return [str(BOVINE_PYTHON), str(DRIVE), *args]

    @staticmethod
    def _result(args: tuple[str, ...], code: int | None, out: bytes, err: bytes) -> Any:
        if code != 0:
            raise RuntimeError(
                f"drive.py {' '.join(args)} exited {code}:\n{err.decode(errors='replace')[-4000:]}"
            )
        return json.loads(out)

    def drive_sync(self, *args: str) -> Any:
        """Run one drive.py command, blocking. Only from code that serves nothing
        bovine might call back (use :meth:`drive` inside the event loop)."""
        done = subprocess.run(
            self._command(args),
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            timeout=DRIVE_TIMEOUT,
            check=False,
        )
        return self._result(args, done.returncode, done.stdout, done.stderr)

    async def drive(self, *args: str) -> Any:
        """Run one drive.py command without blocking the event loop."""
        process = await asyncio.create_subprocess_exec(
            *self._command(args),
            cwd=self.workdir,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), DRIVE_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        return self._result(args, process.returncode, out, err)

    # -- bob's actions -------------------------------------------------------------

    async def actor(self) -> dict[str, Any]:
        """Bob's actor as its owner sees it (with ``endpoints.proxyUrl``)."""
        if self._actor is None:
            self._actor = await self.drive("actor")
        return self._actor

    async def follow(self, target: str) -> str:
        """Bob follows ``target`` (an actor id); returns the Follow's id."""
        return str((await self.drive("follow", target))["location"])

    async def accept(self, follow_id: str, to: str | None = None) -> str:
        """Bob accepts the Follow ``follow_id`` (found in his inbox, or from ``to``)."""
        extra = ("--to", to) if to else ()
        return str((await self.drive("accept", follow_id, *extra))["location"])

    async def note(self, to: str, content: str) -> str:
        """Bob sends a Create(Note) addressed to ``to``; returns the Create's id."""
        return str((await self.drive("note", to, "--content", content))["location"])

    async def undo(self, activity_id: str) -> str:
        return str((await self.drive("undo", activity_id))["location"])

    async def inbox(self) -> list[Any]:
        return list(await self.drive("inbox"))

    async def outbox(self) -> list[Any]:
        return list(await self.drive("outbox"))

    async def followers(self) -> list[Any]:
        return list(await self.drive("followers"))

    async def following(self) -> list[Any]:
        return list(await self.drive("following"))

    async def wait_for(
        self,
        predicate: Callable[[Any], bool],
        timeout: float = 10.0,
        *,
        collection: str = "inbox",
        interval: float = 0.25,
    ) -> Any:
        """Poll one of bob's collections until an item satisfies ``predicate``; return it.

        Raises ``TimeoutError`` (with the last items seen) after ``timeout`` seconds.
        """
        fetch: Callable[[], Awaitable[list[Any]]] = getattr(self, collection)
        deadline = time.monotonic() + timeout
        items: list[Any] = []
        while True:
            items = await fetch()
            for item in items:
                if predicate(item):
                    return item
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing in bob's {collection} matched within {timeout}s; last seen:\n"
                    + json.dumps(items, indent=1)[-3000:]
                )
            await asyncio.sleep(interval)


@contextlib.contextmanager
def start_bovine_peer(keep: bool | None = None) -> Iterator[BovinePeer]:
    """Start a bovine peer in a fresh temporary directory; stop and remove it after.

    ``keep`` (default: ``BOVINE_KEEP=1`` in the environment) keeps the directory
    for inspection (database, ``server.log``).
    """
    if not bovine_available():
        raise BovineUnavailable(f"no bovine venv at {BOVINE_VENV}")
    if keep is None:
        keep = os.environ.get("BOVINE_KEEP") == "1"
    workdir = Path(tempfile.mkdtemp(prefix="bovine-peer-"))
    peer = BovinePeer(workdir, _free_port())
    try:
        peer._start()
        yield peer
    finally:
        peer.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def bovine_peer() -> Iterator[BovinePeer]:
    """A fresh bovine-herd server with user ``bob`` (see the module docstring)."""
    require_bovine()
    with start_bovine_peer() as peer:
        yield peer
