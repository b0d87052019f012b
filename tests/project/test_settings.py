"""Settings: production refuses unsafe values; client secrets use the fast hasher; every variable is documented."""

import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, get_hasher, identify_hasher, make_password

ROOT = Path(__file__).resolve().parents[2]

SETUP_PRODUCTION = (
    "import django; django.setup(); from django.conf import settings; "
    "assert not settings.DEBUG and settings.SESSION_COOKIE_SECURE; print('configured')"
)


def _setup_production(**env) -> subprocess.CompletedProcess:
    """Import config.settings_production and set Django up in a fresh interpreter with only ``env``."""
    return subprocess.run(
        [sys.executable, "-c", SETUP_PRODUCTION],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "config.settings_production",
             **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_refuse_debug():
    # when
    result = _setup_production(DEBUG="1", SECRET_KEY=secrets.token_urlsafe(50))

    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG must be off" in result.stderr


def test_production_settings_refuse_debug_by_default():
    result = _setup_production(SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr


@pytest.mark.parametrize(
    "secret_key", [None, "insecure-dev-key-change-me", "short-key"], ids=["unset", "default", "short"]
)
def test_production_settings_refuse_the_default_or_a_short_secret_key(secret_key):
    # given
    env = {"DEBUG": "0"}
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key

    # when
    result = _setup_production(**env)

    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_settings_accept_debug_off_and_a_long_random_secret_key():
    result = _setup_production(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "configured"


def test_client_secret_hasher_is_an_installed_hasher_but_never_the_password_default():
    # given: the project's own settings (the test settings swap in a cheap password hasher)
    from config import settings as project_settings

    algorithm = project_settings.OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]

    # when
    hasher = get_hasher(algorithm)

    # then
    dotted = f"{type(hasher).__module__}.{type(hasher).__qualname__}"
    assert dotted in project_settings.PASSWORD_HASHERS
    assert dotted in settings.PASSWORD_HASHERS
    # The first hasher hashes user passwords; a fast one there would make them cheap to guess.
    assert project_settings.PASSWORD_HASHERS[0] != dotted
    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"


def test_client_secret_hashing_and_checking_is_fast():
    # given
    algorithm = settings.OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]
    secret = secrets.token_urlsafe(48)
    assert len(secret) == 64
    rounds = 200

    # when
    started = time.perf_counter()
    for _ in range(rounds):
        encoded = make_password(secret, hasher=algorithm)
        assert check_password(secret, encoded)
    mean_ms = (time.perf_counter() - started) / rounds * 1000

    # then
    assert identify_hasher(encoded).algorithm == algorithm
    assert not check_password(secret + "x", encoded)
    assert mean_ms < 5, f"hash + check took {mean_ms:.2f} ms on average; client secrets need the fast hasher"


@pytest.mark.django_db
def test_an_app_stores_its_client_secret_hashed_with_the_client_secret_hasher():
    # given
    from tests.factories import AppFactory

    secret = secrets.token_urlsafe(48)

    # when
    app = AppFactory(client_secret=secret)
    app.refresh_from_db()

    # then
    assert app.client_secret != secret
    assert identify_hasher(app.client_secret).algorithm == settings.OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]
    assert check_password(secret, app.client_secret)


ENV_READ = re.compile(
    r"""(?:os\.environ\.get|os\.environ\.setdefault|os\.getenv|env\.setdefault|env_bool|env_int|env_float|env_list)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)


def test_operations_doc_documents_every_environment_variable_the_settings_read():
    # given
    read = set()
    for module in (
        "config/settings.py",
        "config/settings_production.py",
        "config/devstack.py",
        "config/embedded_redis.py",
    ):
        for match in ENV_READ.finditer((ROOT / module).read_text()):
            read.add(match.group(1) or match.group(2))

    # when
    readme = (ROOT / "docs" / "operations.md").read_text()
    documented = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", readme, re.MULTILINE))

    # then
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= read
    missing = sorted(read - documented)
    assert not missing, f"add these to the Configuration table in docs/operations.md: {missing}"


def test_check_deploy_under_the_production_settings_gives_no_warning():
    # given the documented production environment
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "config.settings_production",
           "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50)}

    # when
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)

    # then every check passes, or is silenced in config/settings_production.py with its reason
    output = result.stdout + result.stderr
    reported = set(re.findall(r"\(([a-z0-9_]+\.[EW]\d+)\)", output))
    assert not reported, output
    assert result.returncode == 0, output


def test_production_sends_hsts_and_silences_only_checks_it_explains():
    # given
    source = (ROOT / "config" / "settings_production.py").read_text()
    check = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "sorted(settings.SILENCED_SYSTEM_CHECKS))"
    )

    # when
    result = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                 "DJANGO_SETTINGS_MODULE": "config.settings_production", "DEBUG": "0",
                                 "SECRET_KEY": secrets.token_urlsafe(50)})

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("31536000 True ")
    for silenced in re.findall(r'\("((?:security|oauth2_provider)\.W\d+)", "([^"]+)"\)', source):
        assert silenced[1], f"{silenced[0]} is silenced without a reason"
    assert "security.W004" not in result.stdout and "security.W012" not in result.stdout
