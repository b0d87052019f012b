"""The one guarded way out: every HTTP request to an address that a user supplied goes through here.

Developers give the portal URLs that it then calls from its own network: install and uninstall callbacks,
webhooks, and an external sync connection's token and API URLs (its authorize URL is only shown to a
browser, but is checked the same way). Left alone, such a URL could point at the portal's own network
(``http://127.0.0.1:6379/``, a metadata service on 169.254.169.254, an internal admin page) and the answer
would come back to the developer in a log or an error message. So, for each request:

1. the URL is parsed once, the way requests sends it (IDNA host, port); only http(s), a host, no user
   name or password;
2. the host is turned into addresses once: IP literals in every spelling (``2130706433``, ``0x7f.1``,
   ``0177.0.0.1``, ``127.1``, ``[::ffff:127.0.0.1]``; zone ids are refused), ``localhost`` names without
   asking DNS, other names with one ``getaddrinfo``;
3. every address must be on the public internet: loopback, private, link-local, CGNAT (100.64/10),
   multicast, reserved, documentation, benchmarking and unspecified addresses are refused, and so are
   IPv6 addresses that carry such an IPv4 address (IPv4-mapped ``::ffff:0:0/96``, NAT64 ``64:ff9b::/96``,
   6to4 ``2002::/16``) or are local by design (local-use NAT64 ``64:ff9b:1::/48``, Teredo ``2001::/32``);
4. the connection goes to the address that was checked, not to a second lookup (DNS rebinding), with the
   ``Host`` header, TLS SNI and certificate check still for the URL's host name;
5. no redirect is followed, no proxy from the environment is used, and the time and the size of the
   answer are capped.

A refusal raises :class:`Refused` (a ``requests.RequestException``) before anything is sent; its message
is fit to show the developer and never names an address a name resolved to.

The allowance: ``portal_settings.EGRESS_ALLOW_PRIVATE`` (env ``EGRESS_ALLOW_PRIVATE``, formerly
``CALLBACKS_TO_PRIVATE_ADDRESSES``; on by default only in demo mode) lets every caller reach private
addresses and plain http URLs, for local demos. Callers that talk to the operator's own services pass
those origins in ``allow`` (the forwarding gateway its upstream, managed sync the built-in platform):
an allowed origin is called as configured, without the address check.
"""

import ipaddress
import logging
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from integrations.conf import integrations_settings
from portal.conf import portal_settings

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 120
_CHUNK = 64 * 1024

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Never public, whatever the running Python's ipaddress thinks of them (its tables changed over versions).
_IPV4_BLOCKED = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
))
_IPV6_BLOCKED = tuple(ipaddress.IPv6Network(n) for n in (
    "::/96",            # unspecified, loopback and the old IPv4-compatible addresses
    "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
    "64:ff9b:1::/48",   # local-use NAT64
    "100::/64",         # discard-only
    "2001::/23",        # IETF protocol assignments, Teredo 2001::/32 among them
    "2001:db8::/32", "3fff::/20",  # documentation
    "5f00::/16",        # SRv6 SIDs
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class Refused(requests.RequestException):
    """The URL may not be called. The message says why, in words fit for the developer."""


class NameNotResolved(requests.ConnectionError):
    """The host name did not resolve (perhaps for a moment: worth trying again later)."""


class ResponseTooLarge(requests.RequestException):
    """The answer was longer than the caller accepts."""


def private_allowed() -> bool:
    return portal_settings.EGRESS_ALLOW_PRIVATE


@dataclass(frozen=True)
class Destination:
    """A URL taken apart and checked: ``addresses`` are the ones that may be connected to, in order."""

    url: str
    scheme: str
    host: str  # as in the URL (IDNA, lower case, no brackets, no trailing dot)
    port: int
    netloc: str  # what the Host header says
    addresses: tuple[str, ...]
    allowed: bool  # by the allowance: not pinned, not checked

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.netloc}"


# --- Addresses ------------------------------------------------------------------------------------------

def refusal_reason(address: Address) -> str | None:
    """Why ``address`` is not a public internet address (None: it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None)
        if embedded is not None:
            inner = refusal_reason(embedded)
            return f"{inner} (inside an IPv6 address)" if inner else None
        if any(address in network for network in _IPV6_BLOCKED):
            return _kind(address)
    elif any(address in network for network in _IPV4_BLOCKED):
        return _kind(address)
    if not address.is_global or address.is_multicast or address.is_reserved:
        return _kind(address)
    return None


def _kind(address: Address) -> str:
    for attribute, words in (("is_unspecified", "an unspecified address"), ("is_loopback", "a loopback address"),
                             ("is_link_local", "a link-local address"), ("is_multicast", "a multicast address")):
        if getattr(address, attribute):
            return words
    if address in ipaddress.IPv4Network("100.64.0.0/10"):
        return "a carrier-grade NAT address"
    if address.is_private:
        return "a private network address"
    return "a reserved address"


def _ipv4_from_spelling(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address that a host made of numbers means, as browsers and inet_aton read it: one to
    four parts, each decimal, octal (leading 0) or hex (0x), the last filling the remaining bytes."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(part == "" for part in parts):
        return None
    numbers = []
    for part in parts:
        try:
            if part.startswith("0x"):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part[1:], 8))
            else:
                numbers.append(int(part, 10))
        except ValueError:
            return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, n in enumerate(leading):
        value += n << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _addresses(host: str, port: int) -> tuple[list[Address], bool]:
    """The addresses ``host`` stands for, and whether DNS was asked. Raises Refused for hosts that are
    not valid, NameNotResolved when DNS has no answer."""
    if ":" in host:
        if "%" in host:
            raise Refused("IPv6 zone identifiers are not allowed in URLs.")
        try:
            return [ipaddress.IPv6Address(host)], False
        except ValueError:
            raise Refused(f"{host} is not a valid address.") from None
    if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        address = _ipv4_from_spelling(host)
        if address is None:
            raise Refused(f"{host} is not a valid address.")
        return [address], False
    if host == "localhost" or host.endswith(".localhost"):
        return [ipaddress.IPv4Address("127.0.0.1")], False
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise NameNotResolved(f"the host {host} could not be resolved") from error
    found: list[Address] = []
    for family, *_, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise NameNotResolved(f"the host {host} has no address")
    return found, True


# --- Destinations ---------------------------------------------------------------------------------------

def _origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return ""
    host = (parts.hostname or "").rstrip(".")
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


def resolve(url: str, *, purpose: str, allow: Iterable[str] = ()) -> Destination:
    """Take ``url`` apart and check where it leads (see the module docstring). ``allow``: origins (URLs)
    of the operator's own services that this caller may reach whatever their address. Raises Refused,
    or NameNotResolved when the host does not resolve."""
    prepared = PreparedRequest()
    try:
        prepared.prepare_url(url.strip() if isinstance(url, str) else url, None)
    except requests.RequestException:
        raise Refused("This is not a valid http(s) URL.") from None
    parts = urlsplit(prepared.url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Refused("Only http and https URLs can be called.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise Refused("Leave the user name and password out of the URL.")
    raw_host = parts.hostname or ""
    host = raw_host[:-1] if raw_host.endswith(".") else raw_host
    if not host or host.endswith("."):
        raise Refused("The URL has no valid host.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Refused("The URL's port is not valid.") from None
    netloc = parts.netloc
    origin = _origin_of(prepared.url)
    if private_allowed() or origin in {_origin_of(allowed) for allowed in allow if allowed}:
        return Destination(url=prepared.url, scheme=scheme, host=host, port=port, netloc=netloc, addresses=(),
                           allowed=True)
    addresses, looked_up = _addresses(host, port)
    for address in addresses:
        reason = refusal_reason(address)
        if reason:
            logger.warning("egress refused for %s: %s://%s:%s is %s (%s)", purpose, scheme, host, port, reason,
                           address)
            if looked_up:  # the developer learns the kind, not the address a name stands for
                raise Refused(f"The host {host} resolves to a non-public address; the portal only calls "
                              f"addresses on the public internet.")
            raise Refused(f"{host} is {reason}; the portal only calls addresses on the public internet.")
    return Destination(url=prepared.url, scheme=scheme, host=host, port=port, netloc=netloc,
                       addresses=tuple(str(a) for a in addresses), allowed=False)


def check_url(url: str, *, purpose: str) -> Destination:
    """Validation for forms and services: ``url`` may be saved as a ``purpose`` URL. https only unless the
    allowance is on; the host must resolve, to public addresses only. Raises Refused (message for the
    developer)."""
    if not private_allowed() and urlsplit((url or "").strip()).scheme.lower() == "http":
        raise Refused("Use an https URL.")
    try:
        return resolve(url, purpose=purpose)
    except NameNotResolved:
        host = urlsplit(url.strip()).hostname or url
        raise Refused(f"The host {host} could not be found.") from None


def url_refusal(url: str, *, purpose: str) -> str:
    """:func:`check_url` for callers that want only the reason: "" when ``url`` may be saved."""
    try:
        check_url(url, purpose=purpose)
    except Refused as refused:
        return str(refused)
    return ""


# --- Sending --------------------------------------------------------------------------------------------

def _no_redirects(response, request, *args, **kwargs):
    """Session.resolve_redirects of a guarded session: a redirect is an answer, never followed."""
    return iter(())


class GuardedAdapter(HTTPAdapter):
    """A transport adapter that checks each request's destination and connects to the checked address.

    Mount it on any ``requests.Session`` (requests-oauthlib's ``OAuth2Session`` too) with :func:`guard`."""

    def __init__(self, *, purpose: str, allow: Iterable[str] = (), max_bytes: int | None = None,
                 max_seconds: float | None = None):
        super().__init__(max_retries=0)
        self.purpose = purpose
        self.allow = tuple(allow)
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        try:
            destination = resolve(request.url, purpose=self.purpose, allow=self.allow)
        except Refused as error:
            error.request = request
            raise
        request.egress_destination = destination
        if not destination.allowed:
            request.headers["Host"] = destination.netloc  # the connection is to an address, not the name
        started = time.monotonic()
        # A checked destination is connected to directly; only an allowed one may go through a proxy.
        response = super().send(request, stream=True, timeout=timeout or integrations_settings.EGRESS_TIMEOUT_SECONDS,
                                verify=verify, cert=cert, proxies=proxies if destination.allowed else None)
        max_bytes = integrations_settings.EGRESS_MAX_BYTES if self.max_bytes is None else self.max_bytes
        max_seconds = integrations_settings.EGRESS_MAX_SECONDS if self.max_seconds is None else self.max_seconds
        _read_capped(response, max_bytes=max_bytes, deadline=started + max_seconds)
        return response

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        destination = getattr(request, "egress_destination", None)
        if destination is None or destination.allowed:
            return host_params, pool_kwargs
        # The pool is for the checked address; TLS still says and verifies the URL's host name.
        host_params = {"scheme": destination.scheme, "host": destination.addresses[0], "port": destination.port}
        if destination.scheme == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": destination.host}
        return host_params, pool_kwargs


def _read_capped(response: requests.Response, *, max_bytes: int, deadline: float) -> None:
    """Read the whole body now, refusing more than ``max_bytes`` (decoded) or reading past ``deadline``."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise ResponseTooLarge(f"the answer is larger than {max_bytes} bytes", response=response)
    chunks, size = [], 0
    try:
        # read1: whatever has arrived (at most one wait of the read timeout), so the deadline is checked
        # between arrivals and a trickling answer cannot hold the caller for the read timeout per byte.
        while chunk := response.raw.read1(_CHUNK, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(f"the answer is larger than {max_bytes} bytes", response=response)
            if time.monotonic() > deadline:
                raise requests.exceptions.ReadTimeout("the answer took too long to arrive", response=response)
            chunks.append(chunk)
    except ReadTimeoutError as error:
        response.close()
        raise requests.exceptions.ReadTimeout(error, response=response) from error
    except ProtocolError as error:
        response.close()
        raise requests.exceptions.ChunkedEncodingError(error, response=response) from error
    except DecodeError as error:
        response.close()
        raise requests.exceptions.ContentDecodingError(error, response=response) from error
    except requests.RequestException:
        response.close()
        raise
    response._content = b"".join(chunks)
    response._content_consumed = True
    response.raw.release_conn()


def guard(session: requests.Session, *, purpose: str, allow: Iterable[str] = (), max_bytes: int | None = None,
          max_seconds: float | None = None, trust_env: bool = False) -> requests.Session:
    """Make ``session`` (any requests.Session, e.g. an OAuth2Session) send only through the guard: the
    adapter on http and https, no redirects followed, nothing from the environment (proxies, .netrc)
    unless ``trust_env`` (for the operator's own services). Returns it."""
    adapter = GuardedAdapter(purpose=purpose, allow=allow, max_bytes=max_bytes, max_seconds=max_seconds)
    session.adapters.clear()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = trust_env
    session.max_redirects = 0
    session.resolve_redirects = _no_redirects
    return session


def session(*, purpose: str, allow: Iterable[str] = (), max_bytes: int | None = None,
            max_seconds: float | None = None, trust_env: bool = False) -> requests.Session:
    """A new guarded session (keep-alive to the checked addresses)."""
    return guard(requests.Session(), purpose=purpose, allow=allow, max_bytes=max_bytes, max_seconds=max_seconds,
                 trust_env=trust_env)


def send(method: str, url: str, *, purpose: str, allow: Iterable[str] = (), timeout=None,
         max_bytes: int | None = None, max_seconds: float | None = None, **kwargs) -> requests.Response:
    """One guarded request (see the module docstring); the body is read (capped) before it returns.
    Raises Refused before sending anything to a refused destination, and requests' exceptions otherwise."""
    with session(purpose=purpose, allow=allow, max_bytes=max_bytes, max_seconds=max_seconds) as guarded:
        return guarded.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)


# --- What the developer may see of an answer ------------------------------------------------------------

def excerpt(text, limit: int = EXCERPT_CHARS) -> str:
    """A short, one-line excerpt of text a foreign server sent (an error body, an OAuth error_description):
    enough to recognise an error, too little to read a page through."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text or "")).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
