"""TOTP secrets and recovery-code seeds are encrypted at rest, still work, and old clear values are
encrypted by the migration."""

import importlib
import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.apps import apps

from accounts import crypto
from accounts.adapter import MFA_CIPHER_PREFIX
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def test_a_totp_secret_is_stored_encrypted_and_still_verifies_codes():
    # given
    user = UserFactory()
    secret = generate_totp_secret()

    # when
    totp = TOTP.activate(user, secret)

    # then the database holds no clear secret, and a current code is accepted
    stored = Authenticator.objects.get(user=user, type="totp").data["secret"]
    assert stored.startswith(MFA_CIPHER_PREFIX) and secret not in stored
    assert totp.validate_code(current_code(secret))


def test_recovery_codes_are_stored_encrypted_and_still_work():
    user = UserFactory()

    codes = RecoveryCodes.activate(user)

    seed = Authenticator.objects.get(user=user, type="recovery_codes").data["seed"]
    assert seed.startswith(MFA_CIPHER_PREFIX)
    assert codes.validate_code(codes.get_unused_codes()[0])


def test_secrets_under_another_key_are_unreadable(settings):
    # given a secret encrypted under the derived key
    user = UserFactory()
    totp = TOTP.activate(user, generate_totp_secret())

    # when the keys change without the old one kept
    settings.MFA_SECRET_KEYS = ["x" * 43 + "="]

    # then reading it fails loudly instead of accepting anything
    with pytest.raises(crypto.SecretUnreadable):
        totp.validate_code("123456")


def test_the_migration_encrypts_secrets_stored_in_the_clear():
    # given authenticators written before encryption
    user = UserFactory()
    secret = generate_totp_secret()
    Authenticator.objects.create(user=user, type="totp", data={"secret": secret})
    Authenticator.objects.create(user=user, type="recovery_codes", data={"seed": "ab" * 40, "used_mask": 0,
                                                                          "migrated_codes": ["12345678"]})

    # when the data migration runs (twice: it must be idempotent)
    migration = importlib.import_module("accounts.migrations.0003_encrypt_mfa_secrets")
    migration.encrypt_existing(apps, None)
    migration.encrypt_existing(apps, None)

    # then nothing is left in the clear, and both still work
    totp_row = Authenticator.objects.get(user=user, type="totp")
    codes_row = Authenticator.objects.get(user=user, type="recovery_codes")
    assert totp_row.data["secret"].startswith(MFA_CIPHER_PREFIX) and secret not in str(totp_row.data)
    assert codes_row.data["seed"].startswith(MFA_CIPHER_PREFIX)
    assert codes_row.data["migrated_codes"][0].startswith(MFA_CIPHER_PREFIX)
    assert TOTP(totp_row).validate_code(current_code(secret))
    assert RecoveryCodes(codes_row).get_unused_codes() == ["12345678"]
