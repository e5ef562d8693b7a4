"""JSON-LD algorithms (pyld), offline, with structural limits and a time budget.

Every call goes through a ``DocumentLoader`` (never pyld's network loader),
checks nesting before pyld recurses, and turns pyld's errors into this
library's ``JsonLdError`` family.
"""

from __future__ import annotations

import copy
import ctypes
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, TypeVar

from pyld import jsonld as pyld
from pyld.canon import URDNA2015

from ..errors import (
    ActivityPubError,
    JsonLdError,
    JsonLdLimitError,
    JsonLdTimeoutError,
)
from .contexts import DEFAULT_CONTEXT
from .loader import MAX_DEPTH, DocumentLoader, default_loader

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_BLANK_NODES",
    "MAX_QUADS",
    "canonicalize",
    "check_depth",
    "compact",
    "expand",
    "to_nquads",
]

DEFAULT_TIMEOUT = 2.0
"""Seconds ``canonicalize`` may spend on one document."""

MAX_QUADS = 20_000
"""Statements a document may produce before canonicalisation is refused."""

MAX_BLANK_NODES = 2_000
"""Blank nodes a document may produce before canonicalisation is refused."""

_R = TypeVar("_R")


def check_depth(doc: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse documents nested deeper than ``limit`` (pyld recurses per level)."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise JsonLdLimitError(f"document nested more than {limit} deep")
        if isinstance(node, Mapping):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))


def _options(loader: DocumentLoader | None, doc: Any) -> dict[str, Any]:
    options = (loader or default_loader).pyld_options()
    if not (isinstance(doc, Mapping) and "@context" in doc):
        options["expandContext"] = DEFAULT_CONTEXT
    return options


def _our_error(exc: BaseException) -> ActivityPubError | None:
    """The library error (e.g. UnknownContextError) that pyld wrapped, if any."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ActivityPubError):
            return cur
        seen.add(id(cur))
        cause = getattr(cur, "cause", None)
        cur = cause if isinstance(cause, BaseException) else (cur.__cause__ or cur.__context__)
    return None


def _run(operation: str, call: Callable[[], _R]) -> _R:
    try:
        return call()
    except ActivityPubError:
        raise
    except RecursionError as exc:
        raise JsonLdLimitError(f"JSON-LD {operation}: document too deeply nested") from exc
    except (pyld.JsonLdError, ValueError, TypeError, KeyError, AttributeError) as exc:
        ours = _our_error(exc)
        if ours is not None:
            raise ours from exc
        message = exc.args[0] if isinstance(exc, pyld.JsonLdError) and exc.args else exc
        raise JsonLdError(f"JSON-LD {operation} failed: {message}") from exc


def expand(doc: Any, *, loader: DocumentLoader | None = None) -> list[Any]:
    """Expanded form of ``doc``; a document without ``@context`` is read with
    ``DEFAULT_CONTEXT``, as the Fediverse does."""
    check_depth(doc)
    options = _options(loader, doc)
    result: list[Any] = _run("expansion", lambda: pyld.expand(doc, options))
    return result


def compact(
    doc: Any,
    context: Any = None,
    *,
    loader: DocumentLoader | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Compact ``doc`` against ``context`` (default ``DEFAULT_CONTEXT``), within
    ``timeout`` seconds (:class:`JsonLdTimeoutError` after): a received document
    chooses how much work its compaction is, so it gets a budget, as
    canonicalisation does. Run it beside the event loop."""
    check_depth(doc)
    check_depth(context)
    ctx = DEFAULT_CONTEXT if context is None else context
    options = _options(loader, doc)
    result: dict[str, Any] = _within(
        timeout, lambda: _run("compaction", lambda: pyld.compact(doc, ctx, options)), "compaction"
    )
    if "@context" in result:  # pyld hands back our own (shared) context objects
        result["@context"] = copy.deepcopy(result["@context"])
    return result


def canonicalize(
    doc: Any,
    *,
    loader: DocumentLoader | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """URDNA2015 canonical N-Quads of ``doc`` (what LD signatures hash).

    URDNA2015 is exponential in the worst case: a document whose blank nodes
    all look alike makes it try every permutation (pyld issue #179, "dataset
    poisoning"), and pyld offers no limit.  Two guards apply:

    * size: after conversion to RDF, more than ``MAX_QUADS`` statements or
      ``MAX_BLANK_NODES`` blank nodes raise ``JsonLdLimitError`` up front;
    * time: the whole conversion runs under a deadline.  On CPython a watchdog
      timer raises an asynchronous exception in the working thread once
      ``timeout`` seconds have passed (pyld's canonicaliser is pure Python, so
      it is interrupted within microseconds, and it holds no shared state that
      the interruption could corrupt); elsewhere a profile hook checks the
      clock.  Either way ``JsonLdTimeoutError`` is raised.

    The call is synchronous and CPU-bound: from async code, run it with
    ``asyncio.to_thread`` so the budget is not spent blocking the event loop.
    """
    check_depth(doc)
    options = _options(loader, doc)
    options["produceGeneralizedRdf"] = False

    def work() -> str:
        dataset = _run("conversion to RDF", lambda: pyld.to_rdf(doc, options))
        _check_dataset(dataset)
        out: str = _run(
            "canonicalisation",
            lambda: URDNA2015().main(dataset, {"format": "application/n-quads"}),
        )
        return out

    return _within(timeout, work)


to_nquads = canonicalize


def _check_dataset(dataset: Mapping[str, list[dict[str, Any]]]) -> None:
    quads = 0
    blank: set[str] = set()
    for graph, triples in dataset.items():
        quads += len(triples)
        if graph.startswith("_:"):
            blank.add(graph)
        for triple in triples:
            for position in ("subject", "object"):
                component = triple[position]
                if component["type"] == "blank node":
                    blank.add(component["value"])
        if quads > MAX_QUADS or len(blank) > MAX_BLANK_NODES:
            raise JsonLdLimitError(
                f"document too large to canonicalise ({quads} statements, {len(blank)} blank nodes)"
            )


class _Expired(BaseException):
    """Raised inside the working thread; a BaseException so pyld cannot swallow it."""


def _within(timeout: float, work: Callable[[], _R], operation: str = "canonicalisation") -> _R:
    if timeout <= 0:
        raise JsonLdTimeoutError(f"no time budget for {operation}")
    if _set_async_exc is None:
        return _within_profiled(timeout, work, operation)
    thread_id = threading.get_ident()
    lock = threading.Lock()
    state = ["running"]

    def fire() -> None:
        with lock:
            if state[0] == "running":
                state[0] = "fired"
                _set_async_exc(ctypes.c_ulong(thread_id), ctypes.py_object(_Expired))

    timer = threading.Timer(timeout, fire)
    timer.daemon = True
    try:
        try:
            timer.start()
            result = work()
        finally:
            timer.cancel()
            with lock:
                fired = state[0] == "fired"
                state[0] = "done"
                if fired:  # delivered or not, clear anything still pending
                    _set_async_exc(ctypes.c_ulong(thread_id), None)
    except _Expired:
        fired = True
    if fired:
        raise JsonLdTimeoutError(f"{operation} exceeded its {timeout:g} s budget")
    return result


def _within_profiled(timeout: float, work: Callable[[], _R], operation: str) -> _R:
    deadline = time.monotonic() + timeout
    calls = [0]

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        calls[0] += 1
        if calls[0] % 256 == 0 and time.monotonic() > deadline:
            raise _Expired

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        return work()
    except _Expired:
        raise JsonLdTimeoutError(f"{operation} exceeded its {timeout:g} s budget") from None
    finally:
        sys.setprofile(previous)


def _async_exc_setter() -> Callable[..., int] | None:
    api = getattr(ctypes, "pythonapi", None)
    if api is None or sys.implementation.name != "cpython":
        return None
    # No argtypes: ``None`` must reach C as NULL, which clears a pending exception.
    setter = api.PyThreadState_SetAsyncExc
    setter.restype = ctypes.c_int
    return setter  # type: ignore[no-any-return]


_set_async_exc = _async_exc_setter()
