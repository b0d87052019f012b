"""Parked streams (docs/scaling.md): the streams of connections that are not active are marked ``parked`` and left
out of the dispatcher's order index, so that a pass no longer steps over them. Existing streams of inactive
connections are parked here; from now on every status change keeps the mark in step (sync.services)."""

from django.db import migrations, models


def park_streams_of_inactive_connections(apps, schema_editor):
    SyncStream = apps.get_model("sync", "SyncStream")
    SyncStream.objects.exclude(connection__status="active").update(parked=True)


class Migration(migrations.Migration):

    dependencies = [
        ('sync', '0003_dispatcher_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='syncstream',
            name='parked',
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.RunPython(park_streams_of_inactive_connections, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name='syncstream',
            name='sync_stream_dispatch_order',
        ),
        migrations.AddIndex(
            model_name='syncstream',
            index=models.Index(condition=models.Q(('parked', False)), fields=['last_dispatched_at', 'id'],
                               name='sync_stream_dispatch_order'),
        ),
    ]
