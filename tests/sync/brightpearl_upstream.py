"""A small Brightpearl-protocol product API on 127.0.0.1 for sync tests: ``product-search`` (sorted by
``updatedOn`` then id, ``updatedOn=<from>/``, one-based paging) and ``GET product/<ID set>`` (records in
no particular order, 404 ``CMNC-404`` when none exists), with the account's own UTC offset in its
timestamps (``-06:00``) and ids that are not consecutive. It records every request path."""

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

OFFSET = timezone(timedelta(hours=-6))
COLUMNS = ("productId", "productName", "SKU", "updatedOn")


def stamp(moment: datetime) -> str:
    return moment.astimezone(OFFSET).isoformat(timespec="milliseconds")


def parse_id_set(text: str) -> set[int]:
    ids: set[int] = set()
    for item in text.split(","):
        low, _, high = item.partition("-")
        ids.update(range(int(low), int(high or low) + 1))
    return ids


class BrightpearlUpstream:
    """``products``: id → full record (``id``, ``identity``, ``salesChannels``, ``updatedOn`` …)."""

    def __init__(self, *, base_path: str = "/upstream-api"):
        self.products: dict[int, dict] = {}
        self.paths: list[str] = []
        self.base_path = base_path
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                upstream.paths.append(self.path)
                status, body = upstream.answer(self.path)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{base_path}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def add_products(self, count: int, *, first_id: int = 1000, since: datetime | None = None) -> None:
        """``count`` products with ids 1000, 1001, 1003, 1004, 1006 … (every third id is missing)."""
        since = since or datetime(2022, 1, 26, 10, 39, 46, tzinfo=timezone.utc)
        product_id = first_id
        for n in range(count):
            if product_id % 3 == 2:
                product_id += 1
            moment = stamp(since + timedelta(seconds=n // 2))  # pairs share an updatedOn
            self.products[product_id] = {
                "id": product_id, "brandId": 74, "productTypeId": 1,
                "identity": {"sku": f"UP-{product_id}", "barcode": ""},
                "salesChannels": [{"salesChannelName": "Brightpearl", "productName": f"Upstream {product_id}",
                                   "productCondition": "new", "categories": [{"categoryCode": "296"}]}],
                "stock": {"stockTracked": True, "weight": {"magnitude": 0.0}},
                "createdOn": moment, "updatedOn": moment, "status": "LIVE",
            }
            product_id += 1

    def answer(self, raw_path: str) -> tuple[int, dict]:
        parts = urlsplit(raw_path)
        path = parts.path[len(self.base_path):] if parts.path.startswith(self.base_path) else parts.path
        segments = [segment for segment in path.split("/") if segment]  # <account>/<service>/<resource>[/<ids>]
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if segments[1:3] == ["product-service", "product-search"]:
            return 200, self._search(query)
        if segments[1:3] == ["product-service", "product"] and len(segments) == 4:
            wanted = parse_id_set(segments[3])
            records = [record for product_id, record in self.products.items() if product_id in wanted]
            if not records:
                return 404, {"errors": [{"code": "CMNC-404", "message": "No products found"}]}
            return 200, {"response": list(reversed(records))}  # the order of records is not guaranteed
        return 404, {"errors": [{"code": "CMNC-404", "message": f"Cannot find the resource {path}"}]}

    def _search(self, query: dict) -> dict:
        rows = sorted(self.products.values(), key=lambda r: (datetime.fromisoformat(r["updatedOn"]), r["id"]))
        if query.get("updatedOn"):
            start = datetime.fromisoformat(query["updatedOn"].rstrip("/").replace("Z", "+00:00"))
            rows = [row for row in rows if datetime.fromisoformat(row["updatedOn"]) >= start]
        first, size = int(query.get("firstResult", 1)), int(query.get("pageSize", 500))
        page = rows[first - 1:first - 1 + size]
        columns = [{"name": name, "sortable": True, "filterable": True, "reportDataType": "STRING",
                    "referenceData": [], "isFreeTextSearchable": False, "required": False} for name in COLUMNS]
        results = [[row["id"], row["salesChannels"][0]["productName"], row["identity"]["sku"], row["updatedOn"]]
                   for row in page]
        meta = {"morePagesAvailable": first - 1 + len(page) < len(rows), "resultsAvailable": len(rows),
                "resultsReturned": len(page), "columns": columns, "sorting": []}
        if page:
            meta.update(firstResult=first, lastResult=first + len(page) - 1)
        return {"response": {"results": results, "metaData": meta}, "reference": {}}
