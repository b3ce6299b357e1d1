from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wafa.core.contacts import ContactError, normalize_email
from wafa.orders.importing.base import plain_email

LOCAL = st.text(alphabet="abcXYZ019._+-", min_size=1, max_size=70)
LABEL = st.text(alphabet="abcQRZ09-", min_size=1, max_size=12)
TLD = st.sampled_from(["com", "ORG", "io", "museum", "c", "test", "local", "x1", "xn--p1ai", "uk"])
DOMAIN = st.builds(
    lambda labels, tld: ".".join([*labels, tld]), st.lists(LABEL, min_size=1, max_size=3), TLD
)


@settings(max_examples=300, deadline=None)
@given(LOCAL, DOMAIN)
def test_plain_email_agrees_with_normalize_email(local: str, domain: str) -> None:
    text = f"{local}@{domain}"
    quick = plain_email(text)
    try:
        canonical: str | None = normalize_email(text)
    except ContactError:
        canonical = None
    if quick is not None:
        assert quick == canonical


def test_common_addresses_take_the_quick_path() -> None:
    assert plain_email("Sara.Mansouri@Example.com") == "sara.mansouri@example.com"
    assert plain_email("a@xn--bcher-kva.de") is None
    assert plain_email("someone@printer.local") is None
