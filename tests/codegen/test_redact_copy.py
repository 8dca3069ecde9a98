"""codegen/redact.py keeps a copy of ``viesus._redact.redact_url`` (codegen imports no runtime
package): the two stay the same function, in text and in behaviour."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable

import pytest

import codegen.redact
import viesus._redact

URLS = [
    "https://api.example.com/graphql",
    "https://user:key@api.example.com:8443/graphql?token=abc#frag",
    "http://[::1]:8/x",
    "http://[2001:db8::7]/graphql?sig=s",
    "http://h:abc/x",
    "http://h:99999/x",
    "http://h:0/x",
    "http://[::1/x",
    "HTTP://Example.COM/Path?q",
    "http://h/x#only-fragment",
    "not a url",
    "",
]


@pytest.mark.parametrize("url", URLS)
def test_the_copy_redacts_like_the_original(url: str) -> None:
    assert codegen.redact.redact_url(url) == viesus._redact.redact_url(url)


def test_the_copy_is_the_same_code() -> None:
    def tree(function: Callable[[str], str]) -> str:
        return ast.dump(ast.parse(inspect.getsource(function)))

    assert tree(codegen.redact.redact_url) == tree(viesus._redact.redact_url)
    assert codegen.redact.REDACTED == viesus._redact.REDACTED
