"""The platform API's views: parse the request, call one resource operation, answer in the
protocol's envelope. Authentication, account scoping, rate limits and throttle headers are the
gateway's (``integrations.gateway.api_endpoint``); bad input arrives here as ``ApiError``."""

from django.http import JsonResponse

from integrations import jsonbody, resources
from integrations.gateway import ApiError, api_endpoint


def ok(payload) -> JsonResponse:
    """``{"response": payload}`` with status 200."""
    return JsonResponse({"response": payload}, status=200)


def _require_method(request, *allowed: str) -> None:
    if request.method not in allowed:
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"Use {' or '.join(allowed)} here.",
                       headers={"Allow": ", ".join(allowed)})


def _json_body(request):
    try:
        return jsonbody.loads(request.body or b"")
    except jsonbody.InvalidJson as error:
        raise ApiError(400, "INVALID_JSON", f"The body must be a JSON object. {error}") from None


@api_endpoint
def search(request, caller, *, resource: str):
    """GET <service>/<resource>-search?<filters>&pageSize=&firstResult=&sort=&columns="""
    _require_method(request, "GET")
    return ok(resources.search(resources.RESOURCES[resource], account=caller.account, params=request.GET))


@api_endpoint
def collection(request, caller, *, resource: str):
    """POST <service>/<resource>: create one record, answer its ID."""
    _require_method(request, "POST")
    return ok(resources.create(resources.RESOURCES[resource], account=caller.account, payload=_json_body(request)))


@api_endpoint
def records(request, caller, *, resource: str, id_set: str):
    """GET <service>/<resource>/<id set>: the records; PUT <service>/<resource>/<id>: change one."""
    _require_method(request, "GET", "PUT")
    spec = resources.RESOURCES[resource]
    if request.method == "PUT":
        return ok(resources.update(spec, account=caller.account, record_id=id_set, payload=_json_body(request)))
    return ok(resources.get_by_ids(spec, account=caller.account, id_set=id_set))


@api_endpoint
def unknown(request, caller, **kwargs):
    """Any other path under /public-api/<account>/: a JSON 404 (or forwarded, in forwarding mode)."""
    raise ApiError(404, "NOT_FOUND", "No such API resource.")
