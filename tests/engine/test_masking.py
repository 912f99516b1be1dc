"""Masking: every form of a secret, wherever a chunk boundary cuts it."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from pipedeck.engine.masking import Masker, forms

VALUE = 's3cr3t value/with+signs&"quotes" ü'


def printed_forms(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    ]


@pytest.mark.parametrize("shown", printed_forms(VALUE))
def test_each_form_is_masked_whole(shown: str) -> None:
    masker = Masker([VALUE])
    out = masker.feed(f"before {shown} after\n".encode()) + masker.flush()
    assert out == b"before *** after\n"


def test_a_value_cut_at_every_point_is_still_masked() -> None:
    text = f"token={VALUE};again={VALUE}\n".encode()
    for cut in range(1, len(text)):
        masker = Masker([VALUE])
        out = masker.feed(text[:cut]) + masker.feed(text[cut:]) + masker.flush()
        assert out == b"token=***;again=***\n", cut
    # One byte at a time, too.
    masker = Masker([VALUE])
    out = b"".join(masker.feed(text[i : i + 1]) for i in range(len(text))) + masker.flush()
    assert out == b"token=***;again=***\n"


def test_only_a_possible_start_is_held_back() -> None:
    masker = Masker(["abcdef123"])
    assert masker.feed(b"progress 10%\n") == b"progress 10%\n"
    assert masker.feed(b"x abc") == b"x "  # "abc" may begin the secret
    assert masker.feed(b"xyz\n") == b"abcxyz\n"
    assert masker.feed(b"ends with abcdef12") == b"ends with "
    assert masker.flush() == b"abcdef12"


def test_exported_text_is_masked_and_nothing_is_masked_without_a_value() -> None:
    assert Masker([VALUE]).text(f"v={json.dumps(VALUE)}") == 'v="***"'
    assert all(f for f in forms(VALUE))
    with pytest.raises(ValueError):
        Masker([])
