"""Strict JSON for request bodies: what Python's ``json`` accepts but no API should.

- nesting deeper than ``MAX_DEPTH`` (the decoder recurses, so a body of 100,000 ``[`` raises
  RecursionError, a 500, instead of a clean refusal);
- lone UTF-16 surrogates (``"\\ud800"``): valid JSON escapes that are not text; they cannot be encoded
  to UTF-8, so they fail later in the database, in logs or in the response;
- ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON at all.

:func:`loads` raises :class:`InvalidJson` (a ValueError) for all of them, with a message fit for the
client. The platform API and the developer API's parser use it.
"""

import json
import re

MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJson(ValueError):
    """The body is not JSON the API accepts; the message says why, for the client."""


def _no_constants(name: str):
    raise InvalidJson(f"{name} is not a JSON value.")


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH):
    """Parse a request body strictly (see the module docstring)."""
    try:
        value = json.loads(data, parse_constant=_no_constants)
    except InvalidJson:
        raise
    except RecursionError:
        raise InvalidJson(f"The JSON is nested too deeply (at most {max_depth} levels).") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidJson(f"The body is not valid JSON ({type(error).__name__}).") from None
    check(value, max_depth=max_depth)
    return value


def check(value, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse nesting deeper than ``max_depth`` and lone surrogates in any key or string of an already
    parsed value. Iterative: a deep value cannot exhaust the stack here."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise InvalidJson("The JSON contains a lone surrogate escape (e.g. \\ud800), which is not text.")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise InvalidJson(f"The JSON is nested too deeply (at most {max_depth} levels).")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
