"""Example instance: a blog actor that publishes the seed article as an Article.

It persists to SQLite, logs every activity that arrives, and publishes the
article in ``seeds/`` once, to its followers. Run::

    python examples/blog.py                      # http://127.0.0.1:8080, blog.db
    python examples/blog.py --port 8081 --db b.db --follow http://127.0.0.1:8080/users/blog

On a loopback address it allows fetches from loopback peers (a private
set-up); on a public one it refuses them, as a server must.
"""

from __future__ import annotations

import argparse
import html
import ipaddress
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from seed_article import load_seed

import activitypub as ap
from activitypub.federation import Federation, InboxContext
from activitypub.server import aiohttp_handler
from activitypub.urls import origin

log = logging.getLogger("blog")
ARTICLE_PATH = "/articles/putin-in-china"


def _is_loopback(base_url: str) -> bool:
    host = origin(base_url).host
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def make_federation(base_url: str, db: Path | str, **options: Any) -> Federation:
    """The blog's federation: storage in ``db``, every arrival logged."""
    options.setdefault("allow_private_addresses", _is_loopback(base_url))
    fed = Federation(
        base_url,
        storage=f"sqlite:///{db}",
        html_redirect=lambda iri: base_url.rstrip("/") + "/",
        **options,
    )

    @fed.on(ap.Activity)
    async def log_arrival(ctx: InboxContext, activity: ap.Activity) -> None:
        obj = activity.object
        what = getattr(obj, "name", None) or getattr(obj, "content", None) or ap.id_of(obj)
        log.info("received %s from %s: %s", activity.type, ctx.signer, str(what)[:80])

    return fed


async def setup_blog(fed: Federation) -> ap.Activity | None:
    """Create the ``blog`` actor and publish the seed article once."""
    await fed.create_actor(
        "blog",
        name="Example blog",
        summary="<p>Publishes the article in <code>seeds/</code>.</p>",
    )
    article_id = fed.base_url + ARTICLE_PATH
    if await fed.storage.get_object(article_id) is not None:
        return None
    seed = load_seed()
    article = ap.Article(
        id=article_id,
        name=seed.title,
        summary=seed.summary,
        content=seed.html,
        source=ap.Source(content=seed.markdown, media_type="text/markdown"),
        url=fed.base_url + "/",
    )
    create = await fed.publish(article, by="blog")
    log.info("published %s", article_id)
    return create


def make_app(fed: Federation, *, follow: Sequence[str] = ()) -> web.Application:
    async def home(request: web.Request) -> web.Response:
        stored = await fed.storage.get_object(fed.base_url + ARTICLE_PATH)
        data = stored.data if stored else {}
        body = f"<h1>{html.escape(data.get('name', 'Example blog'))}</h1>{data.get('content', '')}"
        return web.Response(
            text=f"<!doctype html><title>blog</title>{body}", content_type="text/html"
        )

    async def start(_: web.Application) -> None:
        await fed.start()
        await setup_blog(fed)
        log.info("actor %s (acct:blog@%s)", fed.actor_id("blog"), fed.host)
        for target in follow:
            try:
                await fed.follow("blog", target)
                log.info("sent Follow to %s", target)
            except ap.ActivityPubError as exc:
                log.warning("could not follow %s: %s", target, exc)

    async def stop(_: web.Application) -> None:
        await fed.stop()

    app = web.Application(client_max_size=fed.max_body + 1)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_get("/", home)
    app.router.add_route("*", "/{tail:.*}", aiohttp_handler(fed))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--base-url", help="public URL (default http://HOST:PORT)")
    parser.add_argument("--db", type=Path, default=Path("blog.db"))
    parser.add_argument("--follow", action="append", default=[], help="actor URL or user@host")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    base_url = args.base_url or f"http://{args.host}:{args.port}"
    fed = make_federation(base_url, args.db)
    web.run_app(make_app(fed, follow=args.follow), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
