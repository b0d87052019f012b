from django.db import migrations

REVIEW_STAGES = [
    ("functionality", "Functionality", "The app does what its description says, in a real account.", ["alpha", "beta", "released"]),
    ("design", "Design", "Screens, wording and the install experience are clear.", ["beta", "released"]),
    ("code", "Code", "API use is efficient: searches over loops, no polling storms, errors handled.", ["beta", "released"]),
    ("security", "Security", "Tokens and secrets stored safely; callbacks verified; least data kept.", ["beta", "released"]),
    ("documentation", "Documentation", "Support, privacy and setup documentation are published.", ["released"]),
]


def create_defaults(apps, schema_editor):
    ReviewStage = apps.get_model("portal", "ReviewStage")
    PlatformSettings = apps.get_model("portal", "PlatformSettings")
    Group = apps.get_model("auth", "Group")
    for position, (key, label, description, required_for) in enumerate(REVIEW_STAGES):
        ReviewStage.objects.get_or_create(
            key=key, defaults={"label": label, "description": description, "required_for": required_for, "position": position}
        )
    PlatformSettings.objects.get_or_create(pk=1)
    Group.objects.get_or_create(name="reviewers")


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
