"""The developer API's JSON parser: DRF's, with the strict checks of ``integrations.jsonbody``
(deep nesting, lone surrogates, NaN/Infinity are a 400, never a 500)."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from integrations import jsonbody


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read() if stream is not None else b""
        try:
            return jsonbody.loads(data)
        except jsonbody.InvalidJson as error:
            raise ParseError(f"JSON parse error - {error}") from None
