import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses that unless told.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MEDIA_ROOT = tmp_path / "media"
    # Fast password hashing keeps factories cheap; the client-secret hasher stays as configured.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "accounts.hashers.RandomSecretHasher"]
    settings.PORTAL = {**settings.PORTAL, "REQUIRE_MFA_FOR_REVIEWERS": False}
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    from config.celery_app import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _clear_cache():
    """allauth's rate limits live in the cache (Redis); each test starts with fresh counters and no token copies."""
    from django.core.cache import cache

    from integrations import token_cache

    cache.clear()
    # The gateway's copies of token lookups belong to the process, not the database each test rolls back.
    token_cache.clear()
    yield


# --- Network guard: the suite may reach loopback only -------------------------------------------------
# Redis, PostgreSQL, the live server and Playwright's browser all listen on 127.0.0.1/localhost; anything
# else (an API, a webhook URL, a DNS lookup of a real host) is a test bug and fails loudly instead.

import ipaddress  # noqa: E402
import socket  # noqa: E402

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkAccessBlocked(OSError):
    """Raised when a test tries to reach anything but this machine's loopback interface."""


def _is_loopback_host(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip().rstrip(".").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0].strip("[]"))
    except ValueError:
        return False  # a real hostname: refused without resolving it
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def _check_address(family, address) -> None:
    if family not in (socket.AF_INET, socket.AF_INET6):
        return  # AF_UNIX and friends never leave the machine
    host = address[0] if isinstance(address, tuple) and address else address
    if not _is_loopback_host(host):
        raise NetworkAccessBlocked(f"tests may only reach loopback addresses, not {address!r}")


@pytest.fixture(autouse=True, scope="session")
def _network_guard():
    """Wrap socket connect/connect_ex and getaddrinfo for the whole session: loopback only."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def guarded_connect(sock, address):
        _check_address(sock.family, address)
        return original_connect(sock, address)

    def guarded_connect_ex(sock, address):
        _check_address(sock.family, address)
        return original_connect_ex(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        # A name lookup is itself network traffic unless it is for this machine.
        if host is not None and not _is_loopback_host(host) and host not in {socket.gethostname(), ""}:
            raise NetworkAccessBlocked(f"tests may only reach loopback addresses, not {host!r}")
        return original_getaddrinfo(host, *args, **kwargs)

    # libpq opens its own sockets, below Python; check the database host here instead.
    from django.conf import settings

    for alias, database in settings.DATABASES.items():
        host = database.get("HOST") or ""
        if host and not host.startswith("/") and not _is_loopback_host(host):
            raise NetworkAccessBlocked(f"tests may only use a loopback database; {alias} is on {host!r}")

    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
    socket.getaddrinfo = guarded_getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = original_connect
        socket.socket.connect_ex = original_connect_ex
        socket.getaddrinfo = original_getaddrinfo


@pytest.fixture
def portal_defaults_rows(db):
    """The review stages, platform settings and reviewers group of migration 0002, for tests that read them."""
    import importlib

    from django.apps import apps

    importlib.import_module("portal.migrations.0002_defaults").create_defaults(apps, None)
