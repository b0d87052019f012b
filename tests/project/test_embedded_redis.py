"""The private redis-server behind `make run` and `make test`, and the loopback-only network guard around it."""

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from config import embedded_redis
from tests.conftest import NetworkAccessBlocked

ROOT = Path(__file__).resolve().parents[2]


def _port_refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def test_private_redis_answers_ping_and_is_gone_after_the_block():
    # given / when
    with embedded_redis.private_redis() as url:
        parts = urlsplit(url)
        client = redis.Redis.from_url(url)

        # then
        assert parts.hostname == "127.0.0.1"
        assert client.ping() is True
        client.set("portal-test", "ok")
        assert client.get("portal-test") == b"ok"
        client.close()

    assert _port_refuses(parts.port)


def test_private_redis_stops_even_when_the_block_raises():
    with pytest.raises(RuntimeError, match="boom"):
        with embedded_redis.private_redis() as url:
            port = urlsplit(url).port
            raise RuntimeError("boom")

    assert _port_refuses(port)


def test_redis_url_uses_a_configured_redis_instead_of_starting_one(monkeypatch):
    # given
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6399/3")

    # when
    with embedded_redis.redis_url() as url:
        # then
        assert url == "redis://127.0.0.1:6399/3"


def _run_wrapper(env: dict) -> subprocess.CompletedProcess:
    script = "import os, sys; print(os.environ['REDIS_URL']); sys.exit(7)"
    return subprocess.run(
        [sys.executable, "-m", "config.embedded_redis", "--", sys.executable, "-c", script],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def test_the_wrapper_runs_the_command_with_a_private_redis_and_returns_its_exit_code():
    # given
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}

    # when
    result = _run_wrapper(env)

    # then
    assert result.returncode == 7, result.stderr
    url = result.stdout.strip()
    assert url.startswith("redis://127.0.0.1:")
    assert _port_refuses(urlsplit(url).port)


def test_the_wrapper_passes_a_configured_redis_url_through():
    result = _run_wrapper({**os.environ, "REDIS_URL": "redis://127.0.0.1:6399/5"})

    assert result.returncode == 7, result.stderr
    assert result.stdout.strip() == "redis://127.0.0.1:6399/5"


def test_the_suite_reaches_redis_on_loopback_through_the_network_guard():
    # The cache (Redis, from REDIS_URL) is used by every test; it must pass the guard.
    from django.core.cache import cache

    cache.set("guard-check", 1)
    assert cache.get("guard-check") == 1


@pytest.mark.parametrize("address", [("192.0.2.10", 80), ("10.0.0.1", 6379), ("8.8.8.8", 53)])
def test_the_network_guard_refuses_non_loopback_addresses(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkAccessBlocked):
            sock.connect(address)
        with pytest.raises(NetworkAccessBlocked):
            sock.connect_ex(address)


def test_the_network_guard_refuses_looking_up_or_connecting_to_real_hostnames():
    with pytest.raises(NetworkAccessBlocked):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(NetworkAccessBlocked):
        socket.create_connection(("example.com", 443), timeout=1)


def test_the_network_guard_allows_loopback_and_unix_sockets(tmp_path):
    # given: a listener on each kind of local address
    with socket.create_server(("127.0.0.1", 0)) as ipv4:
        # when / then
        with socket.create_connection(("localhost", ipv4.getsockname()[1]), timeout=2):
            pass
        with socket.create_connection(("127.0.0.1", ipv4.getsockname()[1]), timeout=2):
            pass

    path = str(tmp_path / "guard.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
