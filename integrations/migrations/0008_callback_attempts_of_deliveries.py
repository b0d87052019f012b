"""Every callback attempt now belongs to a delivery (integrations 0005), which holds the installation and the
kind; the attempt's columns take the names every delivery attempt has. Forward only on a table with rows: going
back cannot give the dropped installation and kind columns their values."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0007_callback_deliveries'),
    ]

    operations = [
        migrations.AlterField(
            model_name='callbackattempt',
            name='delivery',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempt_log', to='integrations.callbackdelivery'),
        ),
        migrations.RemoveField(model_name='callbackattempt', name='installation'),
        migrations.RemoveField(model_name='callbackattempt', name='kind'),
        migrations.RenameField(model_name='callbackattempt', old_name='attempt', new_name='number'),
        migrations.AlterField(
            model_name='callbackattempt',
            name='number',
            field=models.PositiveSmallIntegerField(),
        ),
        migrations.RenameField(model_name='callbackattempt', old_name='response_excerpt', new_name='response_body'),
        migrations.AlterField(
            model_name='callbackattempt',
            name='response_body',
            field=models.TextField(blank=True, help_text='The start of the answer.'),
        ),
        migrations.AlterField(
            model_name='callbackattempt',
            name='url',
            field=models.URLField(blank=True, max_length=500),
        ),
    ]
