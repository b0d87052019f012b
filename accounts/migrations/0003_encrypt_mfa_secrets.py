"""Encrypt the TOTP secrets and recovery-code seeds allauth stored in the clear before the portal's MFA
adapter encrypted them (accounts.adapter.PortalMFAAdapter). Values already encrypted are left alone."""

from django.db import migrations


def encrypt_existing(apps, schema_editor):
    from accounts.adapter import MFA_CIPHER_PREFIX, mfa_encrypt

    Authenticator = apps.get_model("mfa", "Authenticator")
    for authenticator in Authenticator.objects.filter(type__in=["totp", "recovery_codes"]).iterator():
        data = dict(authenticator.data or {})
        changed = False
        for field in ("secret", "seed"):
            value = data.get(field)
            if isinstance(value, str) and value and not value.startswith(MFA_CIPHER_PREFIX):
                data[field] = mfa_encrypt(value)
                changed = True
        codes = data.get("migrated_codes")
        if isinstance(codes, list) and any(not str(code).startswith(MFA_CIPHER_PREFIX) for code in codes):
            data["migrated_codes"] = [code if str(code).startswith(MFA_CIPHER_PREFIX) else mfa_encrypt(str(code))
                                      for code in codes]
            changed = True
        if changed:
            authenticator.data = data
            authenticator.save(update_fields=["data"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_staff_tokens_and_api_keys"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(encrypt_existing, migrations.RunPython.noop)]
