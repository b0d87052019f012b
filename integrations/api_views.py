"""The platform API's one view: clean the path, find its route (``integrations.api_routes``), parse the
request, call one read (``integrations.resources``) or write (``integrations.writes``), answer in
Brightpearl's envelope with the route's ``Message-Type``. Authentication, account scoping, rate limits and
the common response headers are the gateway's (``integrations.gateway.api_endpoint``)."""

from django.http import JsonResponse

from integrations import api_routes, jsonbody, resources, writes
from integrations.errors import METHOD_NOT_ALLOWED, no_json_body, not_found
from integrations.gateway import ApiError, api_endpoint


def ok(payload) -> JsonResponse:
    """``{"response": payload}`` with status 200."""
    return JsonResponse({"response": payload}, status=200)


def _json_body(request):
    """The JSON body of a POST/PUT/PATCH, whatever its Content-Type says; the last of duplicate keys wins."""
    try:
        return jsonbody.loads(request.body or b"")
    except jsonbody.InvalidJson:
        raise no_json_body() from None


@api_endpoint
def endpoint(request, caller, *, rest: str = ""):
    """Any path under /public-api/<account>/ (doubled and trailing slashes allowed)."""
    path = api_routes.clean_path(rest)
    match = api_routes.resolve(request.method, path)
    if match is None:
        response = ApiError(404, "CMNC-404", f"Cannot find the resource /{path[:200]}").response()
        response["Message-Type"] = "api-proxy"
        return response
    try:
        if match.handler is None:
            raise ApiError(405, METHOD_NOT_ALLOWED, f"/{path[:200]} takes {', '.join(match.allowed)}",
                           headers={"Allow": ", ".join(match.allowed)})
        request.api_path = path
        response = HANDLERS[match.handler](request, caller, **match.kwargs)
    except ApiError as error:
        response = error.response()
    response["Message-Type"] = match.message_type
    return response


# --- Handlers: (request, caller, **path parts) -> response ----------------------------------------------

def _search(request, caller, *, service, search_path):
    spec = resources.SEARCHES.get((service, search_path))
    if spec is None:
        raise not_found(f"Cannot find the resource /{service}/{search_path}")
    response, reference = resources.search(spec, account=caller.account, params=request.GET)
    return JsonResponse({"response": response, "reference": reference})


def _options(request, caller, *, ids=None, view=None):
    resource = view or request.api_path.split("/")[1]  # <service>/<resource>[/<ids>]
    return ok(resources.get_uris(account=caller.account, resource=resource, id_set=ids))


def _products(request, caller, *, ids):
    return ok(resources.products(account=caller.account, id_set=ids,
                                 include_optional=resources.include_optional(request.GET)))


def _orders(request, caller, *, ids):
    return ok(resources.orders(account=caller.account, id_set=ids,
                               include_optional=resources.include_optional(request.GET)))


def _sales_orders(request, caller, *, view, ids):
    order_type = "SO" if view == "sales-order" else "SC"
    return ok(resources.sales_orders(account=caller.account, id_set=ids, order_type=order_type))


def _contacts(request, caller, *, ids):
    records = resources.contacts(account=caller.account, id_set=ids,
                                 include_optional=resources.include_optional(request.GET))
    return JsonResponse({"response": records, **resources.contact_siblings(records)})


def _postal_addresses(request, caller, *, ids):
    return ok(resources.postal_addresses(account=caller.account, id_set=ids))


def _price_lists(request, caller, *, ids=None):
    return ok(resources.price_lists(account=caller.account, id_set=ids))


def _product_prices(request, caller, *, ids, lists=None):
    return ok(resources.product_prices(account=caller.account, id_set=ids, price_list_ids=lists))


def _availability(request, caller, *, ids):
    resources.include_optional(request.GET)
    return ok(resources.availability(account=caller.account, id_set=ids))


def _goods_out(request, caller, *, orders, notes=None):
    return ok(resources.goods_out_notes(account=caller.account, order_ids=orders, note_ids=notes))


def _lookup(request, caller, *, service, resource, ids=None):
    return ok(resources.lookup(account=caller.account, service=service, resource=resource, id_set=ids))


def _custom_field_metadata(request, caller):
    return ok([])


def _written(payload) -> JsonResponse:
    """PUT answers ``{}`` (no envelope), as Brightpearl does."""
    return JsonResponse(payload, status=200)


def _product_create(request, caller):
    return ok(writes.product_create(account=caller.account, payload=_json_body(request)))


def _product_update(request, caller, *, ids):
    return _written(writes.product_update(account=caller.account, product_id=ids, payload=_json_body(request)))


def _product_prices_set(request, caller, *, ids, lists=None):
    if lists:
        raise ApiError(405, METHOD_NOT_ALLOWED, "PUT product-price/{product id}/price-list, without price list ids")
    return _written(writes.product_prices_set(account=caller.account, product_id=ids, payload=_json_body(request)))


def _order_create(request, caller):
    return ok(writes.order_create(account=caller.account, payload=_json_body(request)))


def _order_row_create(request, caller, *, record_id):
    return ok(writes.order_row_create(account=caller.account, order_id=record_id, payload=_json_body(request)))


def _order_status_set(request, caller, *, record_id):
    return _written(writes.order_status_set(account=caller.account, order_id=record_id, payload=_json_body(request)))


def _contact_create(request, caller):
    return ok(writes.contact_create(account=caller.account, payload=_json_body(request)))


def _contact_patch(request, caller, *, ids):
    return ok(writes.contact_patch(account=caller.account, contact_id=ids, payload=_json_body(request)))


def _postal_address_create(request, caller):
    return ok(writes.postal_address_create(account=caller.account, payload=_json_body(request)))


HANDLERS = {
    "search": _search,
    "options": _options,
    "products": _products,
    "orders": _orders,
    "sales_orders": _sales_orders,
    "contacts": _contacts,
    "postal_addresses": _postal_addresses,
    "price_lists": _price_lists,
    "product_prices": _product_prices,
    "availability": _availability,
    "goods_out": _goods_out,
    "lookup": _lookup,
    "custom_field_metadata": _custom_field_metadata,
    "product_create": _product_create,
    "product_update": _product_update,
    "product_prices_set": _product_prices_set,
    "order_create": _order_create,
    "order_row_create": _order_row_create,
    "order_status_set": _order_status_set,
    "contact_create": _contact_create,
    "contact_patch": _contact_patch,
    "postal_address_create": _postal_address_create,
}
