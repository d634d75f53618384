"""URL converters beyond werkzeug's defaults."""

import re

from werkzeug.routing import BaseConverter, PathConverter, ValidationError


class RegexConverter(BaseConverter):
    """``<regex("[0-9]{3}"):id>``: the segment must match the pattern; the view gets an int."""

    def __init__(self, url_map, regex: str):
        super().__init__(url_map)
        self.regex = regex
        self._pattern = re.compile(regex)

    def to_python(self, value: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise ValidationError() from None  # a non-numeric pattern: no match, so 404

    def to_url(self, value) -> str:
        segment = str(value)
        if not self._pattern.fullmatch(segment):
            # url_for must never build a URL its own route would answer with 404.
            raise ValueError(f"{segment!r} does not match {self.regex!r}")
        return segment


class AnyPathConverter(PathConverter):
    """werkzeug's ``path``, newlines included: its ``.`` stopped at one, so a key with a
    newline was 404 "URL not found" instead of a 400 from the key's own validation."""

    regex = r"[^/][\s\S]*?"


def register_converters(app) -> None:
    app.url_map.converters["regex"] = RegexConverter
    app.url_map.converters["path"] = AnyPathConverter
