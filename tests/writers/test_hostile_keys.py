"""Hostile numeric tokens: every number in a key is canonical ASCII decimal of at most 19 digits, so a
4,301-digit index (over ``int()``'s limit), Unicode digits or a 20-digit index is a malformed key (400),
never a crash (500), and the reason does not echo a huge key back."""

from __future__ import annotations

import pytest

from tests.writers.conftest import VIEWS
from tests.writers.specs import SPECS
from writers.errors import MalformedKey, NoSuchKey
from writers.keys import MAX_DIGITS, canonical_int, decimal

HUGE = "9" * 5000  # int() raises ValueError past 4,300 digits

FOREIGN_DIGITS = ["²", "①", "١", "٣", "߀", "𝟘", "０", "፩"]


@pytest.mark.parametrize("text,value", [("0", 0), ("7", 7), ("10", 10), ("9" * MAX_DIGITS, 10**MAX_DIGITS - 1)])
def test_decimal_reads_canonical_ascii_numbers(text, value):
    assert decimal(text) == value


@pytest.mark.parametrize("text", ["", "00", "01", "+1", "-1", "-0", " 1", "1 ", "1_0", "1.0", "1e3", "0x1",
                                  "1" + "0" * MAX_DIGITS, HUGE, *FOREIGN_DIGITS, "1" + "²"])
def test_decimal_refuses_everything_else(text):
    assert decimal(text) is None


def test_canonical_int_reason_is_short():
    with pytest.raises(MalformedKey) as err:
        canonical_int(HUGE, "0/" + HUGE)
    assert len(str(err.value)) < 200 and "not a canonical chunk index" in str(err.value)


def _hostile_keys(view: str, token: str) -> list[str]:
    return {
        "zarr": [f"{token}/0/0/0/0/0", f"0/0/0/0/0/{token}", f"{token}/.zarray"],
        "zarr3": [f"{token}/c/0/0/0/0/0", f"0/c/0/0/0/0/{token}", f"{token}/zarr.json"],
        "precomputed": [f"{token}/0-64_0-64_0-32", f"0/{token}-64_0-64_0-32", f"0/0-64_0-64_0-{token}",
                        f"t/{token}/info", f"t/{token}/0/0-64_0-64_0-32"],
    }[view]


TOKENS = [HUGE, "1" + "0" * MAX_DIGITS, *FOREIGN_DIGITS]


@pytest.mark.parametrize("view", ["zarr", "zarr3", "precomputed"])
@pytest.mark.parametrize("token", TOKENS, ids=lambda t: f"{len(t)}-chars-{t[:1]!a}")
def test_hostile_numbers_in_any_key_position_are_malformed(view, token):
    for key in _hostile_keys(view, token):
        with pytest.raises(MalformedKey) as err:
            VIEWS[view].parse(key, SPECS["u16"])
        assert len(str(err.value)) < 300, key[:50]


@pytest.mark.parametrize("view", ["zarr", "zarr3", "precomputed"])
def test_largest_canonical_number_names_nothing(view):
    """19 digits parse: such a level, index, bound or time point is absent (404), not malformed, except an
    upper bound that is not the chunk's end (a misaligned chunk name is malformed)."""
    big = "9" * MAX_DIGITS
    for key in _hostile_keys(view, big):
        expected = MalformedKey if key.endswith(f"0-{big}") else NoSuchKey
        with pytest.raises(expected):
            VIEWS[view].parse(key, SPECS["u16"])
