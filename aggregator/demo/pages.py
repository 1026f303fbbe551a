"""Article pages of the demo outlets: the true text wrapped in realistic, outlet-specific chrome.

Five layouts (magazine, portal, blog, agency, and one modelled on a real Hindi fan site) and
per-outlet class names mean no single CSS selector finds the body everywhere, which is the point:
the extractor is measured against pages that differ the way real sites do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from html import escape

from aggregator.demo.chrome import Chrome, chrome_for
from aggregator.demo.corpus import DemoArticle, DemoCorpus, DemoOutlet, slugify

SENTENCE_RE = re.compile(r"^(.+?[.!?।。！？])(?:\s|$)", re.DOTALL)


def first_sentence(text: str) -> str:
    """The opening sentence, which is all a paywalled page shows."""
    match = SENTENCE_RE.match(text)
    return match.group(1) if match else text


def display_date(moment: datetime, language: str) -> str:
    """A date as the outlet's readers expect to see it."""
    months = chrome_for(language).months
    month = months[moment.month - 1]
    clock = f"{moment:%H:%M}"
    if language == "zh":
        return f"{moment.year}年{moment.month}月{moment.day}日 {clock}"
    if language == "en":
        return f"{month} {moment.day}, {moment.year} {clock} UTC"
    if language == "de":
        return f"{moment.day}. {month} {moment.year}, {clock} Uhr"
    return f"{moment.day} {month} {moment.year}, {clock}"


def _prefix(slug: str) -> str:
    parts = [p for p in slug.split("-") if p]
    return "".join(p[0] for p in parts) if len(parts) > 1 else slug[:3]


class PageRenderer:
    """Renders every page of one outlet against one base URL."""

    def __init__(self, corpus: DemoCorpus, outlet: DemoOutlet, base_url: str) -> None:
        self.corpus = corpus
        self.outlet = outlet
        self.base_url = base_url.rstrip("/")
        self.chrome: Chrome = chrome_for(outlet.language)
        self.p = _prefix(outlet.slug)
        self.articles = corpus.outlet_articles(outlet.slug)

    # -- pieces -------------------------------------------------------------------------------

    def _earlier(self, article: DemoArticle) -> list[DemoArticle]:
        position = self.articles.index(article)
        return list(reversed(self.articles[:position]))

    def _read_also(self, article: DemoArticle) -> tuple[str, str]:
        earlier = self._earlier(article)
        if earlier:
            return earlier[0].url_path, earlier[0].title
        return f"/{self.outlet.slug}/guide/charging.html", self.chrome.evergreen[0]

    def _related(self, article: DemoArticle) -> list[tuple[str, str]]:
        items = [(a.url_path, a.title) for a in self._earlier(article)[1:5]]
        if len(items) < 2:
            items += [
                (f"/{self.outlet.slug}/guide/{n}.html", title)
                for n, title in enumerate(self.chrome.evergreen, start=1)
            ]
        return items

    def _image(self, article: DemoArticle) -> str:
        stem = article.url_path.rsplit("/", 1)[-1].removesuffix(".html")
        return f"{self.base_url}/media/{self.outlet.slug}/{article.published:%Y/%m}/{stem}.jpg"

    def _head(self, article: DemoArticle | None, title: str) -> str:
        meta = [
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)} | {escape(self.outlet.name)}</title>",
        ]
        if article is not None:
            url = self.base_url + article.url_path
            meta.append(f'<link rel="canonical" href="{escape(url)}">')
            if "opengraph" in self.outlet.metadata:
                published = article.published.isoformat().replace("+00:00", "Z")
                og = {
                    "og:type": "article",
                    "og:site_name": self.outlet.name,
                    "og:title": article.title,
                    "og:description": article.summary,
                    "og:url": url,
                    "og:image": self._image(article),
                    "og:locale": self.outlet.language,
                    "article:published_time": published,
                }
                meta += [f'<meta property="{k}" content="{escape(v)}">' for k, v in og.items()]
                if article.author:
                    author = escape(article.author)
                    meta.append(f'<meta property="article:author" content="{author}">')
            if "json-ld" in self.outlet.metadata and self.corpus.page_status(article) == "full":
                meta.append(self._json_ld(article, url))
        meta.append(f'<link rel="stylesheet" href="/{self.outlet.slug}/static/site.css">')
        return "<head>\n" + "\n".join(meta) + "\n</head>"

    def _json_ld(self, article: DemoArticle, url: str) -> str:
        data: dict[str, object] = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "mainEntityOfPage": url,
            "headline": article.title,
            "description": article.summary,
            "datePublished": article.published.isoformat().replace("+00:00", "Z"),
            "image": [self._image(article)],
            "inLanguage": article.language,
            "publisher": {"@type": "Organization", "name": self.outlet.name},
            "articleBody": article.text,
        }
        if article.author:
            data["author"] = {"@type": "Person", "name": article.author}
        text = json.dumps(data, ensure_ascii=False, indent=1).replace("</", "<\\/")
        return f'<script type="application/ld+json">\n{text}\n</script>'

    def _nav(self) -> str:
        links = "".join(
            f'<li class="{self.p}-menu-item"><a href="/{self.outlet.slug}/{n}/">'
            f"{escape(label)}</a></li>"
            for n, label in enumerate(self.chrome.nav)
        )
        return (
            f'<nav class="{self.p}-nav" role="navigation"><a class="{self.p}-logo" '
            f'href="/{self.outlet.slug}/">{escape(self.outlet.name)}</a>'
            f'<ul class="{self.p}-menu">{links}</ul></nav>'
        )

    def _cookie(self) -> str:
        return (
            f'<div id="{self.p}-consent" class="cookie-notice"><p>{escape(self.chrome.cookie)}</p>'
            f'<button type="button">{escape(self.chrome.cookie_accept)}</button></div>'
        )

    def _promo(self) -> str:
        return (
            f'<p class="{self.p}-promo"><a href="/{self.outlet.slug}/newsletter/">'
            f"{escape(self.chrome.promo)}</a></p>"
        )

    def _figure(self, article: DemoArticle) -> str:
        caption = (
            f"<figcaption>{escape(article.image_caption)}</figcaption>"
            if article.image_caption
            else ""
        )
        alt = escape(article.image_caption or article.title)
        return (
            f'<figure class="{self.p}-lead-image"><img src="{escape(self._image(article))}" '
            f'alt="{alt}" width="1200" height="675">{caption}</figure>'
        )

    def _byline(self, article: DemoArticle) -> str:
        when = display_date(article.published, article.language)
        stamp = article.published.isoformat().replace("+00:00", "Z")
        author = (
            f'{escape(self.chrome.by)} <a rel="author" class="{self.p}-author" '
            f'href="/{self.outlet.slug}/author/{_author_slug(article.author)}/">'
            f"{escape(article.author)}</a> · "
            if article.author
            else ""
        )
        return (
            f'<p class="{self.p}-byline">{author}<time datetime="{stamp}">{escape(when)}</time></p>'
        )

    def _read_also_html(self, article: DemoArticle, tag: str = "p") -> str:
        href, title = self._read_also(article)
        return (
            f'<{tag} class="{self.p}-read-also"><strong>{escape(self.chrome.read_also)}</strong> '
            f'<a href="{escape(href)}">{escape(title)}</a></{tag}>'
        )

    def _body(self, paragraphs: Sequence[str], read_also: str) -> str:
        parts = [f"<p>{escape(p)}</p>" for p in paragraphs]
        if len(parts) > 1:
            parts.insert(max(1, len(parts) // 2), read_also)
        return "\n".join(parts)

    def _author_box(self, article: DemoArticle) -> str:
        if not article.author:
            return ""
        name = escape(article.author)
        return (
            f'<div class="{self.p}-author-box"><img class="avatar" alt="{name}" '
            f'src="/{self.outlet.slug}/avatars/{_author_slug(article.author)}.png">'
            f'<h4>{escape(self.chrome.about_author)}</h4><p class="name">{name}</p>'
            f'<p class="bio">{escape(self.chrome.bio.format(name=article.author))}</p></div>'
        )

    def _share(self) -> str:
        buttons = "".join(
            f'<li><a class="share-{n}" href="#">{escape(t)}</a></li>'
            for n, t in enumerate(self.chrome.share_targets)
        )
        return (
            f'<div class="{self.p}-share"><span>{escape(self.chrome.share)}</span>'
            f"<ul>{buttons}</ul></div>"
        )

    def _comments(self) -> str:
        extra = "".join(f"<span>{escape(t)}</span>" for t in self.chrome.comment_extra)
        return (
            f'<section id="comments" class="{self.p}-comments">'
            f"<h3>{escape(self.chrome.comments_count)}</h3>"
            f"<form><label>{escape(self.chrome.comment_prompt)}</label><textarea></textarea></form>"
            f'<div class="comment-tools">{extra}</div></section>'
        )

    def _related_html(self, article: DemoArticle) -> str:
        items = "".join(
            f'<li><a href="{escape(href)}">{escape(title)}</a></li>'
            for href, title in self._related(article)
        )
        return (
            f'<aside class="{self.p}-related"><h3>{escape(self.chrome.related)}</h3>'
            f"<ul>{items}</ul></aside>"
        )

    def _footer(self) -> str:
        links = " | ".join(
            f'<a href="/{self.outlet.slug}/info/{n}.html">{escape(t)}</a>'
            for n, t in enumerate(self.chrome.footer_links)
        )
        return (
            f'<footer class="{self.p}-footer"><p>{links}</p>'
            f"<p>© 2024 {escape(self.outlet.name)}. {escape(self.chrome.rights)}</p></footer>"
        )

    # -- whole pages --------------------------------------------------------------------------

    def article_page(self, article: DemoArticle) -> str:
        """The page of one article; a subscribe stub for paywalled outlets."""
        paywalled = self.corpus.page_status(article) == "paywall"
        if paywalled:
            body = (
                f"<p>{escape(first_sentence(article.body[0]))}</p>\n"
                f'<div class="{self.p}-paywall"><p>{escape(self.chrome.subscribe)}</p>'
                f'<a class="button" href="/{self.outlet.slug}/subscribe/">Subscribe</a></div>'
            )
        else:
            body = self._body(article.body, self._read_also_html(article))
        layout = getattr(self, f"_layout_{self.outlet.layout}")
        content: str = layout(article, body)
        return (
            f'<!DOCTYPE html>\n<html lang="{self.outlet.language}">\n'
            f"{self._head(article, article.title)}\n"
            f'<body class="{self.p}-site single">\n{content}\n</body>\n</html>\n'
        )

    def _layout_magazine(self, article: DemoArticle, body: str) -> str:
        return "\n".join(
            [
                f'<header class="{self.p}-masthead">{self._nav()}</header>',
                self._cookie(),
                f'<main class="{self.p}-main"><article class="{self.p}-story">',
                f'<header><p class="{self.p}-kicker">{escape(self.chrome.nav[1])}</p>'
                f'<h1 class="{self.p}-headline">{escape(article.title)}</h1>'
                f'<p class="{self.p}-standfirst">{escape(article.summary)}</p>'
                f"{self._byline(article)}</header>",
                self._figure(article),
                self._share(),
                f'<div class="{self.p}-story-body">\n{body}\n</div>',
                self._promo(),
                self._author_box(article),
                "</article>",
                self._related_html(article),
                self._comments(),
                "</main>",
                self._footer(),
            ]
        )

    def _layout_portal(self, article: DemoArticle, body: str) -> str:
        return "\n".join(
            [
                f'<div id="{self.p}-page"><div class="{self.p}-topbar">{self._promo()}</div>',
                self._cookie(),
                f'<div class="{self.p}-header">{self._nav()}</div>',
                f'<div class="{self.p}-columns"><div class="{self.p}-sidebar">',
                self._related_html(article),
                f'</div><div class="{self.p}-content">',
                f'<div class="{self.p}-breadcrumb"><a href="/{self.outlet.slug}/">'
                f"{escape(self.chrome.nav[0])}</a> › {escape(self.chrome.nav[1])}</div>",
                f'<h1 class="{self.p}-title">{escape(article.title)}</h1>',
                self._byline(article),
                self._share(),
                self._figure(article),
                f'<div class="{self.p}-text">\n{body}\n</div>',
                self._author_box(article),
                self._comments(),
                "</div></div>",
                self._footer(),
                "</div>",
            ]
        )

    def _layout_blog(self, article: DemoArticle, body: str) -> str:
        return "\n".join(
            [
                self._cookie(),
                f'<div id="{self.p}-wrapper" class="site">',
                f'<header id="masthead" class="site-header">{self._nav()}</header>',
                '<div id="content" class="site-content">',
                f'<article class="post type-post {self.p}-post">',
                '<header class="entry-header">',
                f'<h1 class="entry-title">{escape(article.title)}</h1>',
                f'<div class="entry-meta">{self._byline(article)}</div></header>',
                self._figure(article),
                f'<div class="entry-content">\n{self._promo()}\n{body}\n</div>',
                f'<footer class="entry-footer">{self._share()}</footer>',
                self._author_box(article),
                "</article>",
                self._related_html(article),
                self._comments(),
                "</div>",
                self._footer(),
                "</div>",
            ]
        )

    def _layout_agency(self, article: DemoArticle, body: str) -> str:
        return "\n".join(
            [
                f'<div class="{self.p}-bar">{self._nav()}</div>',
                self._cookie(),
                f'<div class="{self.p}-wire"><div class="{self.p}-item">',
                f'<h1 class="{self.p}-hed">{escape(article.title)}</h1>',
                f'<div class="{self.p}-dateline">{self._byline(article)}</div>',
                self._figure(article),
                f'<div class="{self.p}-copy">\n{body}\n</div>',
                self._share(),
                "</div>",
                self._related_html(article),
                self._promo(),
                self._comments(),
                "</div>",
                self._footer(),
            ]
        )

    def _layout_seed(self, article: DemoArticle, body: str) -> str:
        """A fan site as seen in the wild: promo first, headline twice, author twice."""
        name = escape(article.author) if article.author else ""
        author_twice = (
            f'<div class="{self.p}-author-box"><img alt="{name}" src="/{self.outlet.slug}/'
            f'avatars/{_author_slug(article.author)}.png"><p class="{self.p}-author-name">'
            f"{name}</p><p>{name}</p>"
            f"<p>{escape(self.chrome.bio.format(name=article.author))}</p></div>"
            if article.author
            else ""
        )
        return "\n".join(
            [
                f'<header class="{self.p}-header">{self._nav()}</header>',
                self._cookie(),
                f'<div class="td-main-content"><div class="td-post-content {self.p}-content">',
                self._promo(),
                f'<h1 class="{self.p}-title">{escape(article.title)}</h1>',
                self._byline(article),
                f'<p class="{self.p}-title-repeat"><strong>{escape(article.title)}</strong></p>',
                self._figure(article),
                body,
                "</div>",
                author_twice,
                self._share(),
                self._comments(),
                self._related_html(article),
                "</div>",
                self._footer(),
            ]
        )

    def not_found_page(self) -> str:
        return (
            f'<!DOCTYPE html>\n<html lang="{self.outlet.language}">\n'
            f"{self._head(None, self.chrome.not_found)}\n<body>\n"
            f'<header class="{self.p}-masthead">{self._nav()}</header>\n'
            f"<h1>404</h1><p>{escape(self.chrome.not_found)}</p>\n{self._footer()}\n</body>\n</html>\n"
        )

    def home_page(self) -> str:
        """A site's front page: what a 'feed' URL that is not a feed answers with."""
        teasers = "".join(
            f'<li><a href="/{self.outlet.slug}/guide/{n}.html">{escape(t)}</a></li>'
            for n, t in enumerate(self.chrome.evergreen, start=1)
        )
        return (
            f'<!DOCTYPE html>\n<html lang="{self.outlet.language}">\n'
            f"{self._head(None, self.outlet.name)}\n<body>\n"
            f'<header class="{self.p}-masthead">{self._nav()}</header>\n{self._cookie()}\n'
            f'<main><h1>{escape(self.outlet.name)}</h1><ul class="{self.p}-teasers">{teasers}</ul>'
            f"</main>\n{self._footer()}\n</body>\n</html>\n"
        )


def _author_slug(name: str | None) -> str:
    return slugify(name or "") or "staff"
