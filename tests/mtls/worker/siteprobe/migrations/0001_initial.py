from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="TaskRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("marker", models.CharField(max_length=100)),
                ("queue", models.CharField(max_length=100)),
                ("site", models.CharField(max_length=100)),
                ("ssl", models.BooleanField()),
                ("ssl_version", models.CharField(max_length=20)),
                ("client_dn", models.CharField(max_length=200)),
                ("client_serial", models.CharField(max_length=100)),
            ],
        ),
        migrations.CreateModel(
            name="TaskResult",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("task_id", models.CharField(max_length=255, unique=True)),
                ("status", models.CharField(max_length=50)),
                ("result", models.TextField()),
                ("traceback", models.TextField()),
            ],
        ),
    ]
