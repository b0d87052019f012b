"""The callback log moves to the integrations app, which sends callbacks as deliveries. Only Django's picture of
the model changes here: the table ``portal_callbackattempt`` stays, and integrations 0005 takes it over."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0004_app_previous_secret'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='CallbackAttempt')],
            database_operations=[],
        ),
    ]
