"""The outgoing side: fetch documents, deliver activities, WebFinger, NodeInfo.

::

    async with Client() as client:
        actor = await client.get_document(iri, signer=Signer(key, key_id))
        response = await client.post(inbox, body, signer=Signer(key, key_id))

Everything fetched comes from untrusted peers: addresses are checked
(:class:`AddressPolicy`), bodies capped, exchanges bounded in time, redirects
followed hop by hop, and documents accepted only from the origin of their id.
"""

from activitypub.client.aiohttp_transport import AiohttpTransport
from activitypub.client.client import DEFAULT_USER_AGENT, Client, Signer
from activitypub.client.httpx_transport import HttpxTransport
from activitypub.client.media import AP_ACCEPT, AS_PROFILE, is_activity_json, parse_media_type
from activitypub.client.nodeinfo import NodeInfo, parse_nodeinfo, schema_link
from activitypub.client.ssrf import AddressPolicy, GuardedResolver, parse_ip_host
from activitypub.client.transport import HttpRequest, HttpResponse, MockTransport, Transport
from activitypub.client.webfinger import JRD_ACCEPT, parse_handle, resource_host, self_link

__all__ = [
    "Client",
    "Signer",
    "DEFAULT_USER_AGENT",
    "Transport",
    "HttpRequest",
    "HttpResponse",
    "AiohttpTransport",
    "HttpxTransport",
    "MockTransport",
    "AddressPolicy",
    "GuardedResolver",
    "parse_ip_host",
    "AP_ACCEPT",
    "AS_PROFILE",
    "is_activity_json",
    "parse_media_type",
    "JRD_ACCEPT",
    "parse_handle",
    "resource_host",
    "self_link",
    "NodeInfo",
    "parse_nodeinfo",
    "schema_link",
]
