"""The allocator settings the server applies at start-up (glibc only)."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from transformer import malloc


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_accepts_the_settings():
    assert ctypes.util.find_library("c")
    assert malloc.tune() is True
