"""The email layout inlined once per locale and shop (``rendering._shell``) gives, byte for
byte, the page that inlining each message whole gives; subjects and links are escaped."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from wafa.messaging import rendering

BODIES = [
    "<h2>Hello Sara</h2><p>Our new beans: <b>bright</b>, 10&nbsp;% off.</p><p>See you!</p>",
    '<p>سلام <a href="https://x.example/a?b=1&amp;c=2">لینک</a></p>'
    '<img src="https://x.example/i.png" alt="x"><table><tr><td>۱۲</td></tr></table>',
    "<p>plain</p>\n<p>two<br>lines</p>",
    "",
    "just text & more",
    '<div class="footer"><a href="https://a.example">x</a></div><h1 style="color:red">T</h1>',
]


def _whole(body: str, **kw: object) -> str:
    page = rendering._layout(
        locale=str(kw["locale"]),
        subject=str(kw["subject"]),
        business_name=str(kw["business_name"]),
        logo_url=kw["logo_url"],  # type: ignore[arg-type]
        body=Markup(body),
        unsubscribe_url=kw["unsubscribe_url"],  # type: ignore[arg-type]
        footer_lines=kw["footer_lines"],  # type: ignore[arg-type]
    )
    return str(rendering._inliner.inline(page))


@pytest.mark.parametrize("locale", ["en", "fa", "ar"])
@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("unsubscribe", [None, "https://cafe.example.com/u/tok_en-123"])
@pytest.mark.parametrize("logo", [None, "https://cafe.example.com/branding/logo?v=abc"])
def test_the_shell_gives_the_whole_page(
    locale: str, body: str, unsubscribe: str | None, logo: str | None
) -> None:
    kw: dict[str, object] = {
        "locale": locale,
        "subject": "Sara & co <b>, \"quoted\" 'x' café\xa0!",
        "business_name": "Café & Co",
        "unsubscribe_url": unsubscribe,
        "footer_lines": ["You get this because you signed up"] if unsubscribe else [],
        "logo_url": logo,
    }
    fast = rendering.render_email_html(body, **kw)  # type: ignore[arg-type]
    assert fast == _whole(body, **kw)
    assert rendering._SLOT_BODY not in fast and rendering._SLOT_SUBJECT not in fast
    assert rendering._SLOT_UNSUBSCRIBE not in fast
    assert "<title>Sara &amp; co &lt;b&gt;" in fast
