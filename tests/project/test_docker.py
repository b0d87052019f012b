"""docker/ has to keep matching the project: no Docker engine runs here, so these read the files and check
that everything they name exists (a renamed module, script or directory fails here, not in production)."""

import importlib.util
import os
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
PROJECT_SERVICES = ("web", "worker", "beat")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    pairs = []
    for line in logical:
        instruction, _, arguments = line.strip().partition(" ")
        pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def _copy_sources(dockerfile: Path) -> list[str]:
    sources = []
    for instruction, arguments in _dockerfile_instructions(dockerfile):
        if instruction == "COPY":
            parts = [part for part in shlex.split(arguments) if not part.startswith("--")]
            sources.extend(parts[:-1])
    return sources


def _command(service: dict) -> list[str]:
    command = service.get("entrypoint") or service.get("command")
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def _start_script(service_name: str) -> Path:
    """The start script a project service runs, as a path in the repository."""
    command = _command(_compose()["services"][service_name])
    scripts = [part for part in command if part.endswith(".sh")]
    assert scripts, f"{service_name} runs {command}, not a docker/start-*.sh script"
    # Inside the image the project lives in WORKDIR, laid out as in the repository.
    return ROOT / scripts[0].removeprefix("/app/").removeprefix("./")


def _script_commands(script: Path) -> list[list[str]]:
    commands = []
    for line in script.read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            commands.append(shlex.split(line, comments=True))
    return commands


def test_compose_defines_the_five_services():
    # given / when
    services = _compose()["services"]

    # then
    assert {"web", "worker", "beat", "redis", "postgres"} <= set(services)
    assert services["redis"]["image"].startswith("redis:7")
    assert services["postgres"]["image"].startswith("postgres:16")


def test_postgres_keeps_its_data_in_a_volume_and_has_a_healthcheck():
    compose = _compose()
    postgres = compose["services"]["postgres"]

    volume_names = [entry.split(":", 1)[0] for entry in postgres["volumes"]]
    assert any(name in (compose.get("volumes") or {}) for name in volume_names)
    assert any(entry.endswith(":/var/lib/postgresql/data") for entry in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


@pytest.mark.parametrize("name", PROJECT_SERVICES)
def test_project_services_build_from_the_dockerfile_in_docker(name):
    # given
    build = _compose()["services"][name]["build"]

    # when
    context = (COMPOSE_FILE.parent / build["context"]).resolve()
    dockerfile = context / build.get("dockerfile", "Dockerfile")

    # then
    assert context == ROOT
    assert dockerfile == DOCKER / "Dockerfile"
    assert dockerfile.is_file()


@pytest.mark.parametrize("name", PROJECT_SERVICES)
def test_project_services_run_an_executable_start_script(name):
    script = _start_script(name)

    assert script.parent == DOCKER
    assert script.is_file(), f"{name} runs {script}, which does not exist"
    assert os.access(script, os.X_OK), f"{script} is not executable (chmod +x)"


@pytest.mark.parametrize("name", PROJECT_SERVICES)
def test_project_services_run_in_production_mode_against_the_compose_databases(name):
    environment = _compose()["services"][name]["environment"]

    assert environment["DEBUG"] == "0"
    assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings_production"
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    for variable in ("SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL"):
        assert variable in environment


def test_workers_and_beat_start_after_web_has_migrated():
    services = _compose()["services"]

    assert "healthcheck" in services["web"]
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["web"]["condition"] == "service_healthy"


def test_start_scripts_are_strict_bash_and_exec_their_server():
    for script in sorted(DOCKER.glob("start-*.sh")):
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n") or text.startswith("#!/bin/bash\n"), script.name
        assert "set -euo pipefail" in text, script.name
        assert re.search(r"^exec ", text, re.MULTILINE), f"{script.name} must exec its server"


def test_web_migrates_then_serves_the_wsgi_application_with_gunicorn():
    # given
    commands = _script_commands(_start_script("web"))

    # when
    migrate = next(i for i, c in enumerate(commands) if c[:3] == ["python", "manage.py", "migrate"])
    gunicorn = next(i for i, c in enumerate(commands) if "gunicorn" in c)

    # then
    assert "--noinput" in commands[migrate]
    assert migrate < gunicorn
    target = next(part for part in commands[gunicorn] if re.fullmatch(r"[\w.]+:\w+", part))
    module, attribute = target.split(":")
    assert module == settings.WSGI_APPLICATION.rsplit(".", 1)[0]
    assert importlib.util.find_spec(module) is not None
    assert callable(getattr(importlib.import_module(module), attribute))


@pytest.mark.parametrize(("name", "role"), [("worker", "worker"), ("beat", "beat")])
def test_celery_roles_wait_for_migrations_and_name_the_project_celery_app(name, role):
    # given
    from celery.app.utils import find_app

    from config.celery_app import app as project_app

    text = _start_script(name).read_text()
    commands = _script_commands(_start_script(name))

    # when
    celery = next(c for c in commands if "celery" in c and role in c)
    app_name = celery[celery.index("-A") + 1]

    # then
    assert "manage.py migrate --check" in text
    assert find_app(app_name) is project_app
    if role == "worker":
        queues = celery[celery.index("--queues") + 1].split(",")
        assert {"celery", "sync"} <= set(queues)


def test_start_scripts_only_use_manage_py_commands_that_exist():
    from django.core.management import get_commands

    for script in sorted(DOCKER.glob("start-*.sh")):
        for command in _script_commands(script):
            if "manage.py" in command:
                subcommand = command[command.index("manage.py") + 1]
                assert subcommand in get_commands(), f"{script.name}: manage.py {subcommand} does not exist"
    assert (ROOT / "manage.py").is_file()


def test_dockerfile_copy_sources_exist_and_are_not_dockerignored():
    # given
    ignored = {
        line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    # when
    sources = _copy_sources(DOCKER / "Dockerfile")

    # then
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"docker/Dockerfile copies {source}, which does not exist"
        assert source.split("/")[0] not in ignored and source not in ignored, f"{source} is in .dockerignore"


def test_dockerfile_copies_every_local_app_and_the_template_and_static_directories():
    # given
    copied = {source.rstrip("/") for source in _copy_sources(DOCKER / "Dockerfile")}
    local_apps = [app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()]
    directories = [Path(d) for t in settings.TEMPLATES for d in t["DIRS"]]
    directories += [Path(d) for d in settings.STATICFILES_DIRS]

    # then
    assert set(local_apps) == {"accounts", "portal", "integrations", "sync"}
    for name in [*local_apps, *(str(d.relative_to(ROOT)) for d in directories), "manage.py", "requirements.txt"]:
        assert name in copied, f"docker/Dockerfile does not copy {name}"


def test_dockerfile_builds_a_production_image_that_runs_as_a_non_root_user():
    # given
    instructions = _dockerfile_instructions(DOCKER / "Dockerfile")
    text = "\n".join(f"{i} {a}" for i, a in instructions)

    # when
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]

    # then
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert "pip install -r requirements.txt" in text
    assert re.search(r"ENV .*DJANGO_SETTINGS_MODULE=config\.settings_production", text)
    assert importlib.util.find_spec("config.settings_production") is not None
    assert users and users[-1] not in ("root", "0")
    collectstatic = next(a for i, a in instructions if i == "RUN" and "collectstatic" in a)
    assert "SECRET_KEY=" in collectstatic and "DEBUG=0" in collectstatic
    assert not any(i == "ENV" and "SECRET_KEY" in a for i, a in instructions), "no secret key may stay in the image"


def test_web_healthcheck_probes_readyz_which_the_portal_serves(client, db):
    # given
    probe = " ".join(_compose()["services"]["web"]["healthcheck"]["test"])

    # when
    path = re.search(r"http://127\.0\.0\.1:8000(/[\w/]*)", probe).group(1)
    response = client.get(path, HTTP_HOST="127.0.0.1:8000")

    # then
    assert path == "/readyz"
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_web_sums_its_workers_metrics_in_a_directory_that_start_web_empties():
    # given
    environment = _compose()["services"]["web"]["environment"]
    script = _start_script("web").read_text()

    # then
    assert environment["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    assert 'rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"' in script
    for name in PROJECT_SERVICES:
        assert "METRICS_TOKEN" in _compose()["services"][name]["environment"]
        assert "LOG_FORMAT" in _compose()["services"][name]["environment"]
