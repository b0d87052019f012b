"""ID sets as Brightpearl writes them in paths: ``8``, ``1000-1010`` (ascending), ``1,5,9``, mixtures
``1-100,320,321``, and ``*`` (all) where a resource allows it; and the compact ID sets of OPTIONS answers."""

import re

from django.db.models import Q

from integrations.errors import cannot_parse

MAX_ID = 2**63 - 1
MAX_ITEMS = 500  # comma-separated items in one ID set
MAX_IDS_PER_GET = 500  # ids one GET may name (clients send at most 200; OPTIONS splits at 200)
URI_CHUNK = 200  # ids per URI in an OPTIONS answer

_ITEM = re.compile(r"(\d{1,19})(?:-(\d{1,19}))?")

ALL = None  # what parse() returns for "*"


def parse(text: str, *, name: str = "ID set", allow_all: bool = False) -> list[tuple[int, int]] | None:
    """``"1,5,9,22-26"`` → ``[(1, 1), (5, 5), (9, 9), (22, 26)]``; ``"*"`` → :data:`ALL` where allowed.
    Raises ApiError 400 CMNC-018 for anything else (a descending range, a zero, a letter, too many ids)."""
    text = text.strip()
    if allow_all and text == "*":
        return ALL
    items = text.split(",") if text else []
    if not items or len(items) > MAX_ITEMS:
        raise cannot_parse(name, text, "IDSET")
    ranges = []
    for item in items:
        match = _ITEM.fullmatch(item.strip())
        if match is None:
            raise cannot_parse(name, text, "IDSET")
        low = int(match[1])
        high = int(match[2]) if match[2] is not None else low
        if low < 1 or high > MAX_ID or high < low:
            raise cannot_parse(name, text, "IDSET")
        ranges.append((low, high))
    return ranges


def parse_for_get(text: str, *, name: str = "ID set", allow_all: bool = False) -> list[tuple[int, int]] | None:
    """:func:`parse`, refusing more than :data:`MAX_IDS_PER_GET` ids (400 CMNC-018)."""
    ranges = parse(text, name=name, allow_all=allow_all)
    if ranges is not ALL and sum(high - low + 1 for low, high in ranges) > MAX_IDS_PER_GET:
        raise cannot_parse(name, text, "IDSET", hint=f"name at most {MAX_IDS_PER_GET} ids per request; "
                                                     "OPTIONS on the resource splits larger sets")
    return ranges


def q(field: str, ranges: list[tuple[int, int]] | None) -> Q:
    """A Q for ``field`` in the ID set (everything for :data:`ALL`)."""
    if ranges is ALL:
        return Q()
    singles = [low for low, high in ranges if low == high]
    result = Q(**{f"{field}__in": singles}) if singles else Q(pk__in=[])
    for low, high in ranges:
        if low != high:
            result |= Q(**{f"{field}__range": (low, high)})
    return result


def compact(ids: list[int]) -> str:
    """Sorted ids as an ID set: runs of two or more consecutive ids become ``a-b``."""
    parts, ids = [], sorted(set(ids))
    start = previous = None
    for value in ids + [None]:
        if start is not None and value == previous + 1:
            previous = value
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = value
    return ",".join(parts)


def get_uris(resource: str, ids: list[int]) -> list[str]:
    """OPTIONS answer: service-relative URIs ``/<resource>/<id set>``, each naming at most 200 ids."""
    ids = sorted(set(ids))
    return [f"/{resource}/{compact(ids[at:at + URI_CHUNK])}" for at in range(0, len(ids), URI_CHUNK)]
