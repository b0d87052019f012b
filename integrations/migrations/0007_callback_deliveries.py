"""Install and uninstall callbacks become deliveries (integrations/deliveries.py).

1. ``CallbackDelivery``: one row per callback owed (a turn of an installation on or off).
2. The callback log (``CallbackAttempt``, table ``portal_callbackattempt``) is taken over from the portal app
   as it is (portal 0004 let go of it; no data moves) and gets a link to its delivery.
3. Every logged attempt is given a delivery: the attempts of one installation and kind, in order, belong to
   one delivery until the count starts again. A delivery is delivered if its last attempt got a 2xx answer.
   One whose retries were still under way (last attempt failed but not refused, fewer than 6 attempts, within
   the last 20 minutes) stays pending and due, so the dispatcher carries on where the old task stopped; every
   other one has failed. The content type follows the model to this app.

Integrations 0006 then makes the link required and drops the columns the delivery now holds.
"""

from datetime import timedelta

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

OLD_MAX_ATTEMPTS = 6
OLD_RETRY_WINDOW = timedelta(minutes=20)


def attempts_into_deliveries(apps, schema_editor):
    db = schema_editor.connection.alias
    attempt_model = apps.get_model("integrations", "CallbackAttempt")
    delivery_model = apps.get_model("integrations", "CallbackDelivery")
    now = django.utils.timezone.now()
    groups: list[list] = []
    for attempt in (attempt_model.objects.using(db).select_related("installation__app")
                    .order_by("installation_id", "kind", "created_at", "id").iterator()):
        previous = groups[-1][-1] if groups else None
        if (previous is None or (previous.installation_id, previous.kind) != (attempt.installation_id, attempt.kind)
                or attempt.attempt <= previous.attempt):
            groups.append([attempt])
        else:
            groups[-1].append(attempt)
    for attempts in groups:
        first, last = attempts[0], attempts[-1]
        delivered = last.status_code is not None and 200 <= last.status_code < 300
        retrying = (not delivered and not last.error.startswith("Not sent:") and last.attempt < OLD_MAX_ATTEMPTS
                    and last.created_at > now - OLD_RETRY_WINDOW)
        app = last.installation.app
        url = (app.install_callback_url if last.kind == "install" else app.uninstall_callback_url) \
            or last.url.split("?", 1)[0]
        delivery = delivery_model.objects.using(db).create(
            installation_id=last.installation_id, kind=last.kind, url=url[:500],
            status="delivered" if delivered else "pending" if retrying else "failed",
            attempts=last.attempt, next_attempt_at=now if retrying else last.created_at,
            last_status_code=last.status_code, last_error=last.error, created_at=first.created_at,
            delivered_at=last.created_at if delivered else None,
        )
        attempt_model.objects.using(db).filter(pk__in=[a.pk for a in attempts]).update(delivery=delivery)


def move_content_type(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    content_type.objects.using(db).filter(app_label="integrations", model="callbackattempt").delete()
    content_type.objects.using(db).filter(app_label="portal", model="callbackattempt").update(app_label="integrations")


def move_content_type_back(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    content_type.objects.using(db).filter(app_label="integrations", model="callbackattempt").update(app_label="portal")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('integrations', '0006_token_checksums'),
        ('portal', '0005_callback_log_moves_out'),
    ]

    operations = [
        migrations.CreateModel(
            name='CallbackDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('url', models.URLField(max_length=500)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], db_index=True, default='pending', max_length=12)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('attempts_before_redelivery', models.PositiveSmallIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('last_error', models.CharField(blank=True, max_length=300)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('delivered_at', models.DateTimeField(blank=True, null=True)),
                ('kind', models.CharField(choices=[('install', 'Install'), ('uninstall', 'Uninstall')], max_length=10)),
                ('installation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='callback_deliveries', to='portal.installation')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'abstract': False,
                'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='callback_delivery_due')],
            },
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='CallbackAttempt',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('install', 'Install'), ('uninstall', 'Uninstall')], max_length=10)),
                        ('url', models.URLField(max_length=500)),
                        ('attempt', models.PositiveSmallIntegerField(default=1)),
                        ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('error', models.CharField(blank=True, max_length=300)),
                        ('response_excerpt', models.CharField(blank=True, max_length=500)),
                        ('duration_ms', models.PositiveIntegerField(default=0)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('installation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='callback_attempts', to='portal.installation')),
                    ],
                    options={
                        'db_table': 'portal_callbackattempt',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
        migrations.AddField(
            model_name='callbackattempt',
            name='delivery',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='attempt_log', to='integrations.callbackdelivery'),
        ),
        migrations.RunPython(attempts_into_deliveries, migrations.RunPython.noop),
    ]
