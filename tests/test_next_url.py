"""Where the kit sends the browser back (``next``): a path on this site, whatever the query says.

Each hostile form is sent over loopback exactly as written (its own percent-encoding) to the UCW
link page, and the link it leads on with (Continue, or Back) is resolved as a browser would (tabs and newlines
dropped, leading and trailing controls and spaces stripped, a backslash read as a slash).
"""

from __future__ import annotations

import html
import re
import string
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_wink.security import same_site_path
from flask_wink.testing import serve
from ucw_host import make_ucw_app

C0_OR_SPACE = "".join(chr(c) for c in range(0x21))


def browser_resolves(base: str, href: str) -> str:
    """``href`` resolved against ``base`` the way the WHATWG URL parser reads an http(s) URL."""
    href = re.sub("[\t\n\r]", "", href.strip(C0_OR_SPACE)).replace("\\", "/")
    return urljoin(base, href)


def same_origin(base: str, url: str) -> bool:
    ours, theirs = urlsplit(base), urlsplit(url)
    return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)


HOSTILE = [
    "/%09/evil.example",
    "/%0A/evil.example",
    "/%0D/evil.example",
    "/%09%0A/evil.example",
    "%09//evil.example",
    "%20//evil.example",
    "%00//evil.example",
    "//evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "///evil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "%5C/evil.example",
    "/%5C/evil.example",
    "https:evil.example",
    "https://evil.example/",
    "http:%2F%2Fevil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "evil.example",
    "%E3%80%80//evil.example",
    "%EF%BC%8F%EF%BC%8Fevil.example",
    "/%E2%80%8B/evil.example",
    "/%0B/evil.example",
    "/%7F/evil.example",
]


@pytest.fixture(scope="module")
def link_page(tmp_path_factory):
    """The UCW link page of a host app served over loopback (the page itself never calls UCW)."""
    app = make_ucw_app("http://127.0.0.1:9", tmp_path_factory.mktemp("next"))
    with serve(app) as served:
        yield served.url + "/wink/ucw/link"


def back_link(link_page: str, raw_next: str) -> tuple[str, str]:
    """(the page's URL, the href of the link it leads on with) for ``?next=`` sent exactly as ``raw_next``."""
    page = httpx.get(f"{link_page}?next={raw_next}")
    assert page.status_code == 200, page.text
    found = re.search(r'<p id="ucw-next"[^>]*><a href="([^"]*)">Continue</a>', page.text)
    assert found, page.text
    return str(page.url), html.unescape(found.group(1))


@pytest.mark.parametrize("raw_next", HOSTILE)
def test_the_back_link_never_leaves_the_site_whatever_next_says(link_page, raw_next):
    url, href = back_link(link_page, raw_next)
    assert href.startswith("/") and not href.startswith("//")
    assert same_origin(url, urljoin(url, href)) and same_origin(url, browser_resolves(url, href))


@pytest.mark.parametrize("raw_next, expected", [
    ("/", "/"),
    ("/pages/ucw", "/pages/ucw"),
    ("%2Fpages%2Fucw%3Ftab%3D2%23top", "/pages/ucw?tab=2#top"),
    ("/%252F%252Fevil.example", "/%2F%2Fevil.example"),  # a path named so on this site
    ("", "/"),
])
def test_the_back_link_keeps_a_path_on_this_site(link_page, raw_next, expected):
    _, href = back_link(link_page, raw_next)
    assert href == expected


URLISH = st.text(alphabet=string.ascii_letters[:6] + "/\\:.@?#%;& \t\n\r\x00\x0b\x7f\u3000\uff0f\u200b09",
                 max_size=30)


@given(st.one_of(st.text(max_size=40), URLISH, URLISH.map(lambda s: "/" + s)))
def test_same_site_path_returns_the_fallback_or_a_path_that_stays_on_the_origin(value):
    base = "https://app.example/wink/ucw/link?next=x"
    found = same_site_path(value, "/fallback")
    if found == "/fallback":
        return
    assert found == value and found.startswith("/")
    assert same_origin(base, urljoin(base, found))
    assert same_origin(base, browser_resolves(base, found))
