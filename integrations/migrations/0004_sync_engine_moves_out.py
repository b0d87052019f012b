"""The sync engine's models move to the sync app. Only Django's picture of the models changes: the tables stay
(the sync app's models keep their names with ``db_table``), so no data moves."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0003_sync_engine'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='connection',
                    name='app',
                ),
                migrations.RemoveField(
                    model_name='connection',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='connection',
                    name='installation',
                ),
                migrations.RemoveField(
                    model_name='syncrun',
                    name='connection',
                ),
                migrations.RemoveField(
                    model_name='webhookdelivery',
                    name='connection',
                ),
                migrations.RemoveField(
                    model_name='syncstream',
                    name='connection',
                ),
                migrations.RemoveField(
                    model_name='syncrecord',
                    name='connection',
                ),
                migrations.RemoveField(
                    model_name='syncrun',
                    name='requested_by',
                ),
                migrations.RemoveField(
                    model_name='syncrun',
                    name='stream',
                ),
                migrations.RemoveField(
                    model_name='syncstream',
                    name='current_run',
                ),
                migrations.RemoveField(
                    model_name='syncspec',
                    name='app',
                ),
                migrations.RemoveField(
                    model_name='webhookattempt',
                    name='delivery',
                ),
                migrations.DeleteModel(
                    name='ChangeEvent',
                ),
                migrations.DeleteModel(
                    name='Connection',
                ),
                migrations.DeleteModel(
                    name='SyncRecord',
                ),
                migrations.DeleteModel(
                    name='SyncRun',
                ),
                migrations.DeleteModel(
                    name='SyncStream',
                ),
                migrations.DeleteModel(
                    name='SyncSpec',
                ),
                migrations.DeleteModel(
                    name='WebhookAttempt',
                ),
                migrations.DeleteModel(
                    name='WebhookDelivery',
                ),
            ],
            database_operations=[],
        ),
    ]
