"""The one path scrubber: every reader's messages and the server's 5xx reasons keep file names only."""

from __future__ import annotations

import errno
from pathlib import Path

from readers.base import SourceError
from readers.scrub import describe, scrub
from transformer.server.errors import classify


def test_any_path_becomes_its_file_name():
    assert scrub("cannot open '/srv/lab/brains/z0001.tif' now") == "cannot open 'z0001.tif' now"
    assert scrub(r"can't open C:\data\lab\y.ims") == "can't open y.ims"
    assert scrub("relative data/x.jp2 too") == "relative x.jp2 too"
    assert scrub("no path here: level 3 of 5") == "no path here: level 3 of 5"


def test_a_known_path_goes_whole_even_with_spaces():
    path = Path("/srv/my lab/brain 1/slice 0001.jp2")
    message = f"glymur: {path} is truncated (in {path.parent})"
    out = scrub(message, path)
    assert out == "glymur: slice 0001.jp2 is truncated (in <folder>)"
    assert "lab" not in out and "srv" not in out


def test_describe_an_os_error_by_reason_and_file_name():
    exc = FileNotFoundError(errno.ENOENT, "No such file or directory", "/srv/secret/brains/z0001.tif")
    assert describe(exc) == "FileNotFoundError: No such file or directory (z0001.tif)"
    assert describe(ValueError("bad header in /srv/secret/a.tif")) == "ValueError: bad header in a.tif"


def test_the_error_table_scrubs_every_5xx_reason_as_a_last_resort():
    assert classify(SourceError("cannot read /srv/secret/brains/x.tif")) == (
        500, "source_error", "cannot read x.tif")
    # 4xx reasons quote what the client sent: left as they are
    from writers.errors import MalformedKey
    assert classify(MalformedKey("'0/0/x': not a key"))[2] == "'0/0/x': not a key"
