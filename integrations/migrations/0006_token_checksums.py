"""OAuth tokens and authorization codes stored only as SHA-256 checksums.

Existing rows are converted: an access or refresh token keeps its checksum (recomputed from the stored
token, which is then blanked); a pending authorization code is replaced by its checksum. Redeemed
grants are kept until they expire (``redeemed_at``), with the token family their exchange started.
The conversion cannot be undone: the plaintext is gone."""

import hashlib

from django.db import migrations, models


def _checksum(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def store_checksums_only(apps, schema_editor):
    for name in ("AccessToken", "RefreshToken"):
        model = apps.get_model("integrations", name)
        for pk, token in model.objects.exclude(token="").values_list("pk", "token").iterator():
            model.objects.filter(pk=pk).update(token="", token_checksum=_checksum(token))
    grant_model = apps.get_model("integrations", "Grant")
    for pk, code in grant_model.objects.values_list("pk", "code").iterator():
        grant_model.objects.filter(pk=pk).update(code=_checksum(code))


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0005_brightpearl_shapes"),
    ]

    operations = [
        migrations.AddField(
            model_name="grant",
            name="redeemed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="grant",
            name="token_family",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(store_checksums_only, migrations.RunPython.noop, elidable=True),
    ]
