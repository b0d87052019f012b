"""Indexes for the dispatcher at scale (docs/scaling.md): its order (last_dispatched_at, id), walked instead of sorting
every runnable stream, and the live leases alone, for the in-flight count."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sync', '0002_delivery_base'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='syncstream',
            index=models.Index(fields=['last_dispatched_at', 'id'], name='sync_stream_dispatch_order'),
        ),
        migrations.AddIndex(
            model_name='syncstream',
            index=models.Index(condition=models.Q(('lease_expires_at__isnull', False)), fields=['lease_expires_at'], name='sync_stream_leased'),
        ),
    ]
