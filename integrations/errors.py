"""Error answers of the platform API, with the codes and wordings Brightpearl uses where the reference
records them (``BRIGHTPEARL-API.md`` §6) and codes of the same form where it does not (docs/api.md)."""

from integrations.gateway import ApiError

NOT_FOUND = "CMNC-404"
CANNOT_PARSE = "CMNC-018"
NO_JSON_BODY = "CMNC-010"
BAD_PATCH = "CMNC-044"
METHOD_NOT_ALLOWED = "CMNC-405"


def cannot_parse(name: str, value: str, data_type: str, *, hint: str = "") -> ApiError:
    """400 CMNC-018 "The filter <name>=<value> cannot be parsed as: <TYPE>" (the reference answers 500)."""
    message = f"The filter {name}={value[:60]} cannot be parsed as: {data_type}"
    return ApiError(400, CANNOT_PARSE, f"{message} ({hint})" if hint else message)


def not_found(message: str) -> ApiError:
    return ApiError(404, NOT_FOUND, message)


def body_error(problems: list[tuple[str, str, str]]) -> ApiError:
    """400 listing every problem of a request body: ``(code, field path, message)`` each; the message
    starts with the path, e.g. ``salesChannels[0].productName: must be a string``."""
    errors = [{"code": code, "message": f"{path}: {message}" if path else message} for code, path, message in problems]
    return ApiError(400, errors[0]["code"], errors[0]["message"], errors=errors)


def no_json_body() -> ApiError:
    return ApiError(400, NO_JSON_BODY, "You must supply a JSON formatted body with your request")
