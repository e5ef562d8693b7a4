"""Example instance: a blog actor that publishes the seed article as an Article.

Until the federation core lands (issue 3) this serves the actor, its WebFinger
record, its outbox and the article, built with the library's vocabulary and
keys; the inbox answers 501. Run: ``python examples/blog.py [--port 8080]``.
"""

from __future__ import annotations

import argparse
import html
import logging
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from seed_article import load_seed

import activitypub as ap

AP_JSON = "application/activity+json"
log = logging.getLogger("blog")


class Blog:
    """One actor, ``blog``, whose only post is the seed article."""

    def __init__(self, base_url: str, key: ap.PrivateKey) -> None:
        self.base = base_url.rstrip("/")
        self.host = self.base.split("://", 1)[1]
        self.key = key
        self.actor_id = f"{self.base}/users/blog"
        seed = load_seed()
        self.article = ap.Article(
            id=f"{self.base}/articles/putin-in-china",
            name=seed.title,
            summary=seed.summary,
            content=seed.html,
            source=ap.Source(content=seed.markdown, media_type="text/markdown"),
            url=f"{self.base}/articles/putin-in-china",
            attributed_to=self.actor_id,
            published=datetime(2024, 5, 16, tzinfo=UTC),
            to=[ap.PUBLIC],
            cc=[f"{self.actor_id}/followers"],
        )

    def actor(self) -> ap.Person:
        return ap.Person(
            id=self.actor_id,
            preferred_username="blog",
            name="Example blog",
            summary="<p>Publishes one article, from <code>seeds/</code>.</p>",
            url=self.actor_id,
            inbox=f"{self.actor_id}/inbox",
            outbox=f"{self.actor_id}/outbox",
            followers=f"{self.actor_id}/followers",
            following=f"{self.actor_id}/following",
            endpoints=ap.Endpoints(shared_inbox=f"{self.base}/inbox"),
            manually_approves_followers=False,
            discoverable=True,
            public_key=ap.CryptographicKey.from_key(
                self.key.public_key, id=f"{self.actor_id}#main-key", owner=self.actor_id
            ),
        )

    def outbox(self) -> ap.OrderedCollection:
        create = ap.Create(
            id=f"{self.article.id}#create",
            actor=self.actor_id,
            object=self.article,
            published=self.article.published,
            to=self.article.to,
            cc=self.article.cc,
        )
        return ap.OrderedCollection(
            id=f"{self.actor_id}/outbox", total_items=1, ordered_items=[create]
        )


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/activity+json" in accept or "application/ld+json" in accept


def _json(node: ap.Node) -> web.Response:
    return web.Response(body=ap.dumps(node), content_type=AP_JSON)


def make_app(blog: Blog) -> web.Application:
    async def actor(request: web.Request) -> web.Response:
        if _wants_json(request):
            return _json(blog.actor())
        body = f"<h1>{html.escape(blog.article.name or '')}</h1>" + (blog.article.content or "")
        return web.Response(
            text=f"<!doctype html><title>blog</title>{body}", content_type="text/html"
        )

    async def article(request: web.Request) -> web.Response:
        if _wants_json(request):
            return _json(blog.article)
        return await actor(request)

    async def outbox(request: web.Request) -> web.Response:
        return _json(blog.outbox())

    async def webfinger(request: web.Request) -> web.Response:
        resource = request.query.get("resource", "")
        if resource not in (f"acct:blog@{blog.host}", blog.actor_id):
            raise web.HTTPNotFound()
        return web.json_response(
            {
                "subject": f"acct:blog@{blog.host}",
                "aliases": [blog.actor_id],
                "links": [
                    {"rel": "self", "type": AP_JSON, "href": blog.actor_id},
                    {
                        "rel": "http://webfinger.net/rel/profile-page",
                        "type": "text/html",
                        "href": blog.actor_id,
                    },
                ],
            },
            content_type="application/jrd+json",
        )

    async def inbox(request: web.Request) -> web.Response:
        log.info("inbox POST from %s (not processed yet)", request.remote)
        return web.json_response({"error": "inbox processing arrives with issue 3"}, status=501)

    app = web.Application()
    app.add_routes(
        [
            web.get("/users/blog", actor),
            web.get("/articles/putin-in-china", article),
            web.get("/users/blog/outbox", outbox),
            web.get("/.well-known/webfinger", webfinger),
            web.post("/users/blog/inbox", inbox),
            web.post("/inbox", inbox),
        ]
    )
    return app


def load_or_create_key(path: Path) -> ap.PrivateKey:
    if path.exists():
        return ap.PrivateKey.from_pem(path.read_bytes())
    key = ap.PrivateKey.generate("rsa")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key.to_pem())
    path.chmod(0o600)
    return key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--base-url", help="public URL (default http://HOST:PORT)")
    parser.add_argument("--data", type=Path, default=Path(".blog-data"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    blog = Blog(
        args.base_url or f"http://{args.host}:{args.port}",
        load_or_create_key(args.data / "blog.pem"),
    )
    log.info("actor at %s (acct:blog@%s)", blog.actor_id, blog.host)
    web.run_app(make_app(blog), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
