"""`make run`'s output: the demo logins once, and no secret beyond what .demo/credentials.json holds."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from config import devstack


@pytest.mark.django_db
def test_seed_demo_keeps_its_secrets_in_the_credentials_file(settings, tmp_path):
    # given
    settings.BASE_DIR, settings.DEMO_MODE = tmp_path, True
    output = StringIO()

    # when
    call_command("seed_demo", stdout=output)

    # then
    data = json.loads((tmp_path / ".demo" / "credentials.json").read_text())
    printed = output.getvalue()
    for secret in (data["password"], data["app"]["client_secret"], data["developer_api_key"]):
        assert secret not in printed
    assert str(tmp_path / ".demo" / "credentials.json") in printed


def test_the_banner_prints_each_login_once_and_no_other_secret(tmp_path, monkeypatch, capsys):
    # given
    data = {"password": "demo-pass-2026", "users": {"developer": "developer@example.com", "owner": "owner@example.com"},
            "app": {"client_id": "demo-app", "client_secret": "s3cret-never-printed"},
            "developer_api_key": "key-never-printed"}
    (tmp_path / ".demo").mkdir()
    (tmp_path / ".demo" / "credentials.json").write_text(json.dumps(data))
    monkeypatch.setattr(devstack, "BASE_DIR", tmp_path)

    # when
    devstack._banner({"PORT": "8000"})

    # then
    printed = capsys.readouterr().out
    assert printed.count("demo-pass-2026") == 1
    assert printed.count("developer@example.com") == 1 and printed.count("owner@example.com") == 1
    assert "s3cret-never-printed" not in printed and "key-never-printed" not in printed
