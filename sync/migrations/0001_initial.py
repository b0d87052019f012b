"""The sync engine's models, taken over from the integrations app with their tables (``db_table``): the tables
already exist, made by integrations 0003, so this migration changes only Django's picture of the models -- and
the content types, so that permissions and admin history follow the models to their new app."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


MODELS = ["syncspec", "connection", "syncstream", "syncrun", "syncrecord", "webhookdelivery", "webhookattempt",
          "changeevent"]


def move_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    content_type.objects.using(db).filter(app_label="sync", model__in=MODELS).delete()
    content_type.objects.using(db).filter(app_label="integrations", model__in=MODELS).update(app_label="sync")


def move_content_types_back(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    content_type.objects.using(db).filter(app_label="sync", model__in=MODELS).update(app_label="integrations")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('portal', '0003_limits_usage_callbacks'),
        ('integrations', '0004_sync_engine_moves_out'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Connection',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('managed', 'Managed (turned on in the app store)'), ('external', 'External account')], max_length=10)),
                        ('account_code', models.CharField(max_length=64)),
                        ('name', models.CharField(blank=True, max_length=100)),
                        ('authorize_url', models.URLField(max_length=500)),
                        ('token_url', models.URLField(max_length=500)),
                        ('api_base_url', models.URLField(help_text='Up to and including /public-api/<account code>.', max_length=500)),
                        ('client_id', models.CharField(max_length=100)),
                        ('client_secret_encrypted', models.TextField(blank=True, help_text='External connections only.')),
                        ('access_token_encrypted', models.TextField(blank=True)),
                        ('refresh_token_encrypted', models.TextField(blank=True)),
                        ('token_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('token_version', models.PositiveIntegerField(default=0)),
                        ('rate_limit', models.PositiveIntegerField(blank=True, null=True)),
                        ('rate_window_seconds', models.PositiveIntegerField(default=60)),
                        ('status', models.CharField(choices=[('active', 'Active'), ('needs_reauth', 'Needs re-authorisation'), ('paused', 'Paused'), ('disabled', 'Disabled')], db_index=True, default='active', max_length=20)),
                        ('status_reason', models.CharField(blank=True, max_length=300)),
                        ('status_changed_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('app', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sync_connections', to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('installation', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='sync_connections', to='portal.installation')),
                    ],
                    options={
                        'db_table': 'integrations_connection',
                        'ordering': ['account_code', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='SyncRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('resource', models.CharField(choices=[('product', 'Products'), ('order', 'Orders'), ('contact', 'Contacts')], max_length=20)),
                        ('remote_id', models.CharField(max_length=64)),
                        ('payload', models.JSONField()),
                        ('payload_hash', models.CharField(max_length=64)),
                        ('remote_updated_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='records', to='sync.connection')),
                    ],
                    options={
                        'db_table': 'integrations_syncrecord',
                    },
                ),
                migrations.CreateModel(
                    name='SyncRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('resource', models.CharField(choices=[('product', 'Products'), ('order', 'Orders'), ('contact', 'Contacts')], max_length=20)),
                        ('kind', models.CharField(choices=[('full', 'Full'), ('incremental', 'Incremental')], max_length=12)),
                        ('trigger', models.CharField(default='schedule', max_length=20)),
                        ('status', models.CharField(choices=[('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], db_index=True, default='running', max_length=12)),
                        ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('pages', models.PositiveIntegerField(default=0)),
                        ('records_seen', models.PositiveIntegerField(default=0)),
                        ('records_created', models.PositiveIntegerField(default=0)),
                        ('records_updated', models.PositiveIntegerField(default=0)),
                        ('calls', models.PositiveIntegerField(default=0)),
                        ('throttled', models.PositiveIntegerField(default=0)),
                        ('errors', models.PositiveIntegerField(default=0)),
                        ('last_error', models.CharField(blank=True, max_length=500)),
                        ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='sync.connection')),
                        ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'integrations_syncrun',
                        'ordering': ['-started_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='SyncSpec',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('is_enabled', models.BooleanField(default=False)),
                        ('resources', models.JSONField(blank=True, default=list)),
                        ('interval_seconds', models.PositiveIntegerField(default=900)),
                        ('webhook_url', models.URLField(blank=True, max_length=500)),
                        ('client_secret_encrypted', models.TextField(blank=True)),
                        ('secret_saved_at', models.DateTimeField(blank=True, null=True)),
                        ('webhook_paused_at', models.DateTimeField(blank=True, null=True)),
                        ('webhook_pause_reason', models.CharField(blank=True, max_length=300)),
                        ('webhook_failures', models.PositiveIntegerField(default=0, help_text='Failed attempts in a row.')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('app', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='sync_spec', to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL)),
                    ],
                    options={
                        'db_table': 'integrations_syncspec',
                    },
                ),
                migrations.CreateModel(
                    name='SyncStream',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('resource', models.CharField(choices=[('product', 'Products'), ('order', 'Orders'), ('contact', 'Contacts')], max_length=20)),
                        ('next_run_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('last_dispatched_at', models.DateTimeField(blank=True, null=True)),
                        ('lease_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('epoch', models.PositiveBigIntegerField(default=0)),
                        ('cursor', models.JSONField(blank=True, default=dict)),
                        ('watermark', models.DateTimeField(blank=True, help_text='Newest updatedOn of the last complete run.', null=True)),
                        ('full_resync_requested', models.BooleanField(default=False)),
                        ('failures', models.PositiveSmallIntegerField(default=0, help_text='Failed attempts in a row.')),
                        ('last_error', models.CharField(blank=True, max_length=500)),
                        ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='streams', to='sync.connection')),
                        ('current_run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='sync.syncrun')),
                    ],
                    options={
                        'db_table': 'integrations_syncstream',
                        'ordering': ['connection_id', 'resource'],
                    },
                ),
                migrations.AddField(
                    model_name='syncrun',
                    name='stream',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='sync.syncstream'),
                ),
                migrations.CreateModel(
                    name='WebhookDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('url', models.URLField(max_length=500)),
                        ('request_body', models.TextField()),
                        ('event_count', models.PositiveIntegerField(default=0)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered')], db_index=True, default='pending', max_length=12)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('last_status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('delivered_at', models.DateTimeField(blank=True, null=True)),
                        ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='sync.connection')),
                    ],
                    options={
                        'db_table': 'integrations_webhookdelivery',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookAttempt',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('number', models.PositiveSmallIntegerField()),
                        ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('response_body', models.TextField(blank=True)),
                        ('error', models.CharField(blank=True, max_length=300)),
                        ('duration_ms', models.PositiveIntegerField(default=0)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempt_log', to='sync.webhookdelivery')),
                    ],
                    options={
                        'db_table': 'integrations_webhookattempt',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ChangeEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('resource', models.CharField(choices=[('product', 'Products'), ('order', 'Orders'), ('contact', 'Contacts')], max_length=20)),
                        ('remote_id', models.CharField(max_length=64)),
                        ('kind', models.CharField(choices=[('created', 'Created'), ('updated', 'Updated')], max_length=10)),
                        ('payload', models.JSONField()),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='change_events', to='sync.connection')),
                        ('delivery', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='events', to='sync.webhookdelivery')),
                    ],
                    options={
                        'db_table': 'integrations_changeevent',
                        'ordering': ['id'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='connection',
                    constraint=models.UniqueConstraint(condition=models.Q(('installation__isnull', False)), fields=('installation',), name='one_connection_per_installation'),
                ),
                migrations.AddConstraint(
                    model_name='syncrecord',
                    constraint=models.UniqueConstraint(fields=('connection', 'resource', 'remote_id'), name='one_record_per_remote_id'),
                ),
                migrations.AddIndex(
                    model_name='syncstream',
                    index=models.Index(fields=['next_run_at', 'last_dispatched_at'], name='integration_next_ru_38b524_idx'),
                ),
                migrations.AddConstraint(
                    model_name='syncstream',
                    constraint=models.UniqueConstraint(fields=('connection', 'resource'), name='one_stream_per_resource'),
                ),
                migrations.AddIndex(
                    model_name='syncrun',
                    index=models.Index(fields=['connection', '-started_at'], name='integration_connect_f87d2a_idx'),
                ),
                migrations.AddIndex(
                    model_name='webhookdelivery',
                    index=models.Index(fields=['status', 'next_attempt_at'], name='integration_status_d4f89b_idx'),
                ),
                migrations.AddIndex(
                    model_name='changeevent',
                    index=models.Index(fields=['connection', 'delivery', 'id'], name='integration_connect_2ac1bb_idx'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
