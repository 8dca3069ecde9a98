"""``redact_url``: a URL without its secrets, whatever its host or port looks like."""

from __future__ import annotations

import pytest

from viesus._redact import REDACTED, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://user:key@api.example.com:8443/graphql?token=abc#f",
            f"https://api.example.com:8443/graphql?{REDACTED}",
        ),
        ("http://[::1]:8/x", "http://[::1]:8/x"),
        ("http://[2001:db8::7]/graphql?sig=s", f"http://[2001:db8::7]/graphql?{REDACTED}"),
        ("http://h:abc/x", REDACTED),  # a port that is no number: the URL does not parse
        ("http://h:99999/x", REDACTED),  # out of range
        ("http://[::1/x", REDACTED),
    ],
)
def test_a_url_keeps_its_host_and_port_and_loses_its_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown
