"""Webhook deliveries are built on the one delivery mechanism (integrations.models.Delivery): a failed and a
cancelled status, the last error, attempts before the latest redelivery; each attempt logs the URL it went to."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sync', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='webhookattempt',
            name='url',
            field=models.URLField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='attempts_before_redelivery',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='last_error',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AlterField(
            model_name='webhookattempt',
            name='response_body',
            field=models.TextField(blank=True, help_text='The start of the answer.'),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], db_index=True, default='pending', max_length=12),
        ),
    ]
