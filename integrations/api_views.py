"""The platform API's one view: clean the path, find its route (``integrations.api_routes``), parse the
request, call one read (``integrations.resources``) or write (``integrations.writes``), answer in
Brightpearl's envelope with the route's ``Message-Type``. Authentication, account scoping, rate limits and
the common response headers are the gateway's (``integrations.gateway.api_endpoint``)."""

import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse, QueryDict

from integrations import api_routes, jsonbody, resources, search as search_module, writes, writes_more
from integrations.errors import METHOD_NOT_ALLOWED, no_json_body, not_found
from integrations.gateway import ApiError, api_endpoint

logger = logging.getLogger(__name__)


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
    """Any path under /public-api/<account>/ (doubled and trailing slashes allowed). HEAD is answered as
    GET without the body."""
    head = request.method == "HEAD"
    response = dispatch(request, caller, "GET" if head else request.method, rest)
    if head:
        response.content = b""
    return response


def dispatch(request, caller, method: str, rest: str):
    path = api_routes.clean_path(rest)
    match = api_routes.resolve(method, path)
    if match is None:
        response = ApiError(404, "CMNC-404", f"Cannot find the resource /{path[:200]}").response()
        response["Message-Type"] = "api-proxy"
        return response
    message_type = match.message_type
    try:
        if match.handler is None:
            raise ApiError(405, METHOD_NOT_ALLOWED, f"/{path[:200]} takes {', '.join(match.allowed)}",
                           headers={"Allow": ", ".join(match.allowed)})
        request.api_path = path
        response = HANDLERS[match.handler](request, caller, **match.kwargs)
    except ApiError as error:
        response = error.response()
        # Recorded: a webhook GET or DELETE that finds nothing is "get-webhook" / "delete-webhook".
        message_type = ERROR_MESSAGE_TYPES.get(message_type, message_type)
    except RequestDataTooBig:
        raise  # the gateway's 413
    except Exception:  # never an HTML 500: every client parses the body as JSON
        logger.exception("platform API %s /%s failed", method, path[:200])
        response = ApiError(500, "CMNC-500", "An unexpected error occurred; nothing was changed.").response()
    response["Message-Type"] = message_type
    return response


ERROR_MESSAGE_TYPES = {"webhook-get": "get-webhook", "webhook-delete": "delete-webhook"}


# --- Handlers: (request, caller, **path parts) -> response ----------------------------------------------

def _search(request, caller, *, service, search_path):
    spec = resources.SEARCHES.get((service, search_path))
    if spec is None:
        raise not_found(f"Cannot find the resource /{service}/{search_path}")
    response, reference = resources.search(spec, account=caller.account, params=request.GET)
    return JsonResponse({"response": response, "reference": reference})


def _search_meta_data(request, caller, *, service, search_path):
    spec = resources.SEARCHES.get((service, search_path))
    if spec is None:
        raise not_found(f"Cannot find the resource /{service}/{search_path}/meta-data")
    return ok(search_module.meta_data(spec))


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
    optional = resources.include_optional(request.GET).split(",")
    return ok(resources.availability(account=caller.account, id_set=ids,
                                     by_location="breakDownByLocation" in optional))


def _goods_out(request, caller, *, orders, notes=None):
    return ok(resources.goods_out_notes(account=caller.account, order_ids=orders, note_ids=notes))


def _lookup(request, caller, *, service, resource, ids=None):
    return ok(resources.lookup(account=caller.account, service=service, resource=resource, id_set=ids))


def _custom_field_metadata(request, caller):
    parts = request.api_path.split("/")  # <service>/<scope>/custom-field-meta-data
    scope = {"product": "product", "sale": "sale", "purchase": "purchase", "customer": "customer",
             "supplier": "supplier", "contact": "customer"}[parts[1]]
    return ok(resources.custom_field_metadata(account=caller.account, scope=scope))


def _custom_fields(request, caller, *, record_kind, record_id):
    return ok(writes_more.custom_fields_get(account=caller.account, record_kind=record_kind, record_id=record_id))


def _custom_fields_patch(request, caller, *, record_kind, record_id):
    return ok(writes_more.custom_fields_patch(account=caller.account, record_kind=record_kind, record_id=record_id,
                                              payload=_json_body(request)))


def _product_suppliers(request, caller, *, ids):
    return ok(resources.product_suppliers(account=caller.account, id_set=ids))


def _option_values(request, caller, *, options, ids=None):
    return ok(resources.option_values(account=caller.account, option_ids=options, id_set=ids))


def _locations(request, caller, *, warehouse, ids=None):
    return ok(resources.locations(account=caller.account, warehouse_id=warehouse, id_set=ids))


def _order_patch(request, caller, *, ids):
    return ok(writes_more.order_patch(account=caller.account, order_id=ids, payload=_json_body(request)))


def _order_row_patch(request, caller, *, record_id, row_id):
    return ok(writes_more.order_row_patch(account=caller.account, order_id=record_id, row_id=row_id,
                                          payload=_json_body(request)))


def _order_row_delete(request, caller, *, record_id, row_id):
    return _written(writes_more.order_row_delete(account=caller.account, order_id=record_id, row_id=row_id))


def _product_delete(request, caller, *, ids):
    return _written(writes_more.product_delete(account=caller.account, product_id=ids))


def _order_status_create(request, caller, *, service=None, resource=None):
    return ok(writes_more.order_status_create(account=caller.account, payload=_json_body(request)))


def _order_status_update(request, caller, *, service=None, resource=None, ids):
    return _written(writes_more.order_status_update(account=caller.account, status_id=ids,
                                                    payload=_json_body(request)))


def _customer_payment_create(request, caller):
    return ok(writes_more.customer_payment_create(account=caller.account, payload=_json_body(request)))


def _customer_payment_delete(request, caller, *, record_id):
    return _written(writes_more.customer_payment_delete(account=caller.account, payment_id=record_id))


def _webhook_create(request, caller):
    return ok(writes_more.webhook_create(caller=caller, payload=_json_body(request)))


def _webhooks(request, caller, *, ids=None):
    return ok(writes_more.webhooks(caller=caller, id_set=ids))


def _webhook_delete(request, caller, *, ids):
    return _written(writes_more.webhook_delete(caller=caller, id_set=ids))


# --- Multi-message -------------------------------------------------------------------------------------

MULTI_MESSAGE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _multi_message(request, caller):
    """POST {account}/multi-message (documented): 2–10 writes, SEQUENTIAL or PARALLEL (run here one after
    another either way), onFail STOP or CONTINUE (PARALLEL with STOP is refused). 200 when every message
    answered 2xx, else 207; ``processedMessages`` carry each label, status and body, ``unprocessedMessages``
    the labels not run after a STOP."""
    payload = _json_body(request)
    body = writes.Body(payload)
    mode = body.value(payload, "processingMode", "", "string", required=True, max_length=10)
    on_fail = body.value(payload, "onFail", "", "string", required=True, max_length=10)
    messages = body.value(payload, "messages", "", "array", required=True)
    if mode is not writes.MISSING and mode not in ("SEQUENTIAL", "PARALLEL"):
        body.problem("processingMode", "must be SEQUENTIAL or PARALLEL")
    if on_fail is not writes.MISSING and on_fail not in ("STOP", "CONTINUE"):
        body.problem("onFail", "must be STOP or CONTINUE")
    if mode == "PARALLEL" and on_fail == "STOP":
        body.problem("onFail", "STOP cannot be used with PARALLEL processing")
    parsed = []
    if messages is not writes.MISSING:
        if not 2 <= len(messages) <= 10:
            body.problem("messages", "must hold from 2 to 10 messages")
        for index, message in enumerate(messages[:10]):
            path = f"messages[{index}]"
            label = body.value(message, "label", path, "string", required=True, max_length=100)
            uri = body.value(message, "uri", path, "string", required=True, max_length=2000)
            method = body.value(message, "httpMethod", path, "string", required=True, max_length=6)
            if method is not writes.MISSING and method.upper() not in MULTI_MESSAGE_METHODS:
                body.problem(f"{path}.httpMethod", "must be POST, PUT, PATCH or DELETE")
            if uri is not writes.MISSING and "multi-message" in uri:
                body.problem(f"{path}.uri", "a multi-message cannot contain another")
            parsed.append((label, uri, method, message.get("body") if isinstance(message, dict) else None))
    body.raise_if_any()
    processed, unprocessed, failed = [], [], False
    for label, uri, method, message_body in parsed:
        if failed and on_fail == "STOP":
            unprocessed.append(label)
            continue
        response = _run_message(request, caller, method.upper(), uri, message_body)
        content = json.loads(response.content or b"{}")
        processed.append({"label": label, "statusCode": response.status_code, "body": content})
        failed = failed or response.status_code >= 300
    status = 207 if failed else 200
    return JsonResponse({"response": {"processedMessages": processed, "unprocessedMessages": unprocessed}},
                        status=status)


def _run_message(request, caller, method: str, uri: str, message_body):
    """One message of a multi-message, through the same routes and handlers (not through the gateway: the
    whole multi-message is one call)."""
    path, _, query = uri.partition("?")
    prefix = f"/public-api/{caller.account.code}/"
    path = path.removeprefix(prefix)
    sub = HttpRequest()
    sub.method = method
    sub.META = request.META
    sub.GET = QueryDict(query)
    sub._body = json.dumps(message_body).encode() if message_body is not None else b""
    return dispatch(sub, caller, method, path)


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
    "search_meta_data": _search_meta_data,
    "custom_fields": _custom_fields,
    "custom_fields_patch": _custom_fields_patch,
    "product_suppliers": _product_suppliers,
    "option_values": _option_values,
    "locations": _locations,
    "order_patch": _order_patch,
    "order_row_patch": _order_row_patch,
    "order_row_delete": _order_row_delete,
    "product_delete": _product_delete,
    "order_status_create": _order_status_create,
    "order_status_update": _order_status_update,
    "customer_payment_create": _customer_payment_create,
    "customer_payment_delete": _customer_payment_delete,
    "webhook_create": _webhook_create,
    "webhooks": _webhooks,
    "webhook_delete": _webhook_delete,
    "multi_message": _multi_message,
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
