"""The outgoing side: signed fetches, signed deliveries, WebFinger, NodeInfo.

Every URL is checked by the :class:`AddressPolicy` before any request, and
so is every redirect target. Redirects are followed here, not by the
transport, with these rules:

* at most ``max_redirects`` hops; a URL seen before in the chain is a loop;
* the scheme never changes (no https -> http downgrade, nor the reverse);
* a signature is made afresh for each hop and only for the origin first
  requested: it is never sent to another host.

:meth:`Client.get_document` goes further and refuses cross-origin
redirects outright: a document is authoritative only for ids on the origin
that served it, so one reached on another origin would be refused anyway,
and nothing (signed or not) need be sent there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, NoReturn

from yarl import URL

from activitypub.client.aiohttp_transport import AiohttpTransport
from activitypub.client.media import AP_ACCEPT, is_activity_json
from activitypub.client.nodeinfo import NodeInfo, parse_nodeinfo, schema_link
from activitypub.client.ssrf import AddressPolicy
from activitypub.client.transport import HttpRequest, HttpResponse, Transport
from activitypub.client.webfinger import JRD_ACCEPT, parse_handle, resource_host, self_link
from activitypub.errors import (
    ContentTypeError,
    FetchError,
    GoneError,
    HttpStatusError,
    IdMismatchError,
    InvalidDocumentError,
    NodeInfoError,
    RedirectError,
    WebFingerError,
)
from activitypub.keys import PrivateKey
from activitypub.signatures import cavage, rfc9421

__all__ = ["DEFAULT_USER_AGENT", "Client", "Signer"]

DEFAULT_USER_AGENT: Final = "activitypub-python/0.1.0"
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_CAVAGE_GET: Final = ("(request-target)", "host", "date", "accept")
_CAVAGE_POST: Final = ("(request-target)", "host", "date", "digest", "content-type")
_ADDED_BY_SIGNING: Final = frozenset({"host", "date", "digest"})  # cavage adds them if absent


@dataclass(frozen=True, slots=True)
class Signer:
    """Who signs outgoing requests: a key, its IRI (``keyId``), and the scheme.

    ``cavage`` signs what Mastodon signs: ``(request-target) host date accept``
    on GET, ``(request-target) host date digest content-type`` on POST.
    ``rfc9421`` signs ``@method @target-uri`` (+ ``content-digest``).
    """

    key: PrivateKey
    key_id: str
    scheme: Literal["cavage", "rfc9421"] = "cavage"

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> dict[str, str]:
        """The headers to add to the request."""
        if self.scheme == "rfc9421":
            return rfc9421.sign_request(method, url, headers, body, self.key, self.key_id)
        present = {k.lower() for k in headers} | _ADDED_BY_SIGNING
        wanted = _CAVAGE_POST if body is not None else _CAVAGE_GET
        names = [n for n in wanted if n.startswith("(") or n in present]
        return cavage.sign_request(
            method,
            url,
            headers,
            body,
            self.key,
            self.key_id,
            algorithm="rsa-sha256" if self.key.type == "rsa" else "hs2019",
            headers_to_sign=names,
        )


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return url.scheme, url.host, url.port


def _json_object(body: bytes, error: type[FetchError] = InvalidDocumentError) -> dict[str, Any]:
    def refuse(constant: str) -> NoReturn:
        raise ValueError(f"{constant} is not JSON")

    try:
        doc = json.loads(body, parse_constant=refuse)
    except (ValueError, RecursionError) as exc:
        raise error(f"response is not JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise error("response is not a JSON object")
    return doc


def _expect_ok(response: HttpResponse) -> None:
    if response.status == 200:
        return
    cls = GoneError if response.status == 410 else HttpStatusError
    raise cls(f"{response.url} answered {response.status}", response.status, response.url)


class Client:
    """Makes the requests a federating server needs; safe against hostile peers.

    ``transport`` defaults to an :class:`AiohttpTransport` guarded by
    ``policy``; a transport passed in should carry the same policy, and is
    the caller's to close. ``timeout`` is the deadline of each HTTP exchange
    (each redirect hop), ``max_body`` its body cap; both, and
    ``max_redirects``, can be given per call. ``discovery_scheme`` is the
    scheme for WebFinger and NodeInfo on bare hosts (``"http"`` for tests).
    """

    def __init__(
        self,
        transport: Transport | None = None,
        *,
        policy: AddressPolicy | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 10.0,
        max_body: int = 1 << 20,
        max_redirects: int = 3,
        discovery_scheme: Literal["https", "http"] = "https",
    ) -> None:
        self.policy = policy or AddressPolicy()
        self._owns_transport = transport is None
        self.transport: Transport = transport or AiohttpTransport(policy=self.policy)
        self.user_agent = user_agent
        self.timeout = timeout
        self.max_body = max_body
        self.max_redirects = max_redirects
        self.discovery_scheme = discovery_scheme

    async def aclose(self) -> None:
        if self._owns_transport:
            await self.transport.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- one exchange, and redirect chains -------------------------------------

    def _check(self, url: str | URL) -> URL:
        return self.policy.check_url(url).with_fragment(None)

    async def _send(
        self,
        method: str,
        url: URL,
        headers: dict[str, str],
        body: bytes | None,
        signer: Signer | None,
        timeout: float | None,
        max_body: int | None,
    ) -> HttpResponse:
        headers = {"User-Agent": self.user_agent, **headers}
        if signer is not None:
            headers.update(signer.sign(method, str(url), headers, body))
        request = HttpRequest(method, str(url), headers, body)
        return await self.transport.send(
            request,
            timeout=self.timeout if timeout is None else timeout,
            max_body=self.max_body if max_body is None else max_body,
        )

    async def _get(
        self,
        url: URL,
        accept: str,
        signer: Signer | None,
        *,
        same_origin: bool,
        timeout: float | None,
        max_body: int | None,
        max_redirects: int | None,
    ) -> tuple[HttpResponse, URL]:
        """GET ``url``, following redirects by the module's rules; ``(response, final URL)``."""
        limit = self.max_redirects if max_redirects is None else max_redirects
        origin = _origin(url)
        seen = {str(url)}
        current = url
        for hop in range(limit + 1):
            hop_signer = signer if _origin(current) == origin else None
            response = await self._send(
                "GET", current, {"Accept": accept}, None, hop_signer, timeout, max_body
            )
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                return response, current
            if hop == limit:
                raise RedirectError(f"more than {limit} redirects from {url}")
            try:
                target = current.join(URL(location))
            except ValueError:
                raise RedirectError(f"unparsable redirect target {location[:200]!r}") from None
            target = self._check(target)
            if target.scheme != current.scheme:
                raise RedirectError(f"redirect changes scheme: {current} -> {target}")
            if same_origin and _origin(target) != origin:
                raise RedirectError(f"cross-origin redirect refused: {current} -> {target}")
            if str(target) in seen:
                raise RedirectError(f"redirect loop at {target}")
            seen.add(str(target))
            current = target
        raise AssertionError("unreachable")

    # -- ActivityPub ----------------------------------------------------------------

    async def get_document(
        self,
        url: str,
        *,
        signer: Signer | None = None,
        accept: str = AP_ACCEPT,
        timeout: float | None = None,
        max_body: int | None = None,
        max_redirects: int | None = None,
    ) -> dict[str, Any]:
        """Fetch an ActivityStreams document and return its raw JSON object.

        Accepted only when: the status is 200, the media type is an
        ActivityStreams one, the body is a JSON object, and its ``id`` is the
        URL that served it, on the origin requested. An ``id`` elsewhere on
        the same origin (``/@alice`` serving ``/users/alice``) is fetched
        once more by that id. Raises :class:`GoneError` on 410 and other
        :class:`FetchError` subclasses for everything else.
        """
        requested = self._check(url)
        limits = {"timeout": timeout, "max_body": max_body, "max_redirects": max_redirects}
        doc, final = await self._fetch_document(requested, accept, signer, **limits)
        doc_id = doc.get("id")
        if _same_url(doc_id, final):
            return doc
        if isinstance(doc_id, str) and _same_origin(doc_id, requested):
            doc, final = await self._fetch_document(self._check(doc_id), accept, signer, **limits)
            if _same_url(doc.get("id"), final):
                return doc
        raise IdMismatchError(f"document at {final} has id {str(doc_id)[:200]!r}")

    async def _fetch_document(
        self, url: URL, accept: str, signer: Signer | None, **limits: Any
    ) -> tuple[dict[str, Any], URL]:
        response, final = await self._get(url, accept, signer, same_origin=True, **limits)
        _expect_ok(response)
        if not is_activity_json(response.content_type):
            raise ContentTypeError(
                f"{final} is {response.content_type[:100]!r}, not ActivityStreams JSON"
            )
        return _json_object(response.body), final

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        signer: Signer,
        content_type: str = "application/activity+json",
        timeout: float | None = None,
        max_body: int | None = None,
    ) -> HttpResponse:
        """Deliver ``body`` to an inbox, signed; no redirect is followed.

        Returns the response whatever its status: retrying is the caller's call.
        """
        headers = {"Content-Type": content_type, "Accept": AP_ACCEPT}
        return await self._send("POST", self._check(url), headers, body, signer, timeout, max_body)

    # -- discovery ----------------------------------------------------------------------

    async def webfinger(self, resource: str, *, timeout: float | None = None) -> dict[str, Any]:
        """The JRD for ``resource`` (``acct:user@host`` or a URL), from its host."""
        authority = resource_host(resource)
        try:
            url = URL.build(scheme=self.discovery_scheme, authority=authority)
        except ValueError:
            raise WebFingerError(f"bad host {authority[:200]!r}") from None
        url = url.with_path("/.well-known/webfinger").with_query(resource=resource)
        response, _ = await self._get(
            self._check(url),
            JRD_ACCEPT,
            None,
            same_origin=False,
            timeout=timeout,
            max_body=None,
            max_redirects=None,
        )
        _expect_ok(response)
        return _json_object(response.body, WebFingerError)

    async def lookup(self, handle: str, *, timeout: float | None = None) -> str:
        """The actor IRI of ``user@host`` (also ``@user@host``, ``acct:user@host``).

        The ``self`` link is checked by the address policy and must be
        https (or http with ``discovery_scheme="http"``); it is not fetched.
        """
        user, host = parse_handle(handle)
        href = self_link(await self.webfinger(f"acct:{user}@{host}", timeout=timeout))
        actor = self._check(href)
        if self.discovery_scheme == "https" and actor.scheme != "https":
            raise WebFingerError(f"actor IRI {href[:200]!r} is not https")
        return str(actor)

    async def nodeinfo(self, server: str, *, timeout: float | None = None) -> NodeInfo:
        """NodeInfo of ``server``: a host (``example.com``, ``localhost:8080``) or a URL."""
        try:
            base = (
                URL(server)
                if "://" in server
                else URL.build(scheme=self.discovery_scheme, authority=server)
            )
        except ValueError:
            raise NodeInfoError(f"bad server {server[:200]!r}") from None
        well_known = self._check(base.with_path("/.well-known/nodeinfo").with_query(None))
        limits: dict[str, Any] = {"timeout": timeout, "max_body": None, "max_redirects": None}
        response, final = await self._get(
            well_known, "application/json", None, same_origin=False, **limits
        )
        _expect_ok(response)
        schema, href = schema_link(_json_object(response.body, NodeInfoError))
        try:
            target = final.join(URL(href))
        except ValueError:
            raise NodeInfoError(f"unparsable NodeInfo href {href[:200]!r}") from None
        target = self._check(target)
        if target.host != final.host:
            raise NodeInfoError(f"NodeInfo href {target} leaves {final.host}")
        response, _ = await self._get(target, "application/json", None, same_origin=True, **limits)
        _expect_ok(response)
        return parse_nodeinfo(_json_object(response.body, NodeInfoError), schema)


def _same_url(doc_id: object, url: URL) -> bool:
    if not isinstance(doc_id, str):
        return False
    try:
        return str(URL(doc_id)) == str(url)
    except ValueError:
        return False


def _same_origin(doc_id: str, url: URL) -> bool:
    try:
        return _origin(URL(doc_id)) == _origin(url)
    except ValueError:
        return False
