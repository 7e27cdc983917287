from django.db import migrations, models


def fail_repeated_pending_photos(apps, schema_editor):
    """Before the constraint: of several pending images of one photo in a session (none are
    expected: presign took the session's lock), the oldest stays; the others never received
    their bytes from the device, which was told the oldest's URL on its retries, so they end
    as the sweeper would end them."""
    Image = apps.get_model("images_app", "Image")
    seen = set()
    repeated = []
    pending = Image.objects.filter(status="pending").order_by("created_at", "id")
    for image in pending.only("id", "session_id", "content_sha256", "content_type"):
        photo = (image.session_id, image.content_sha256, image.content_type)
        if photo in seen:
            repeated.append(image.id)
        seen.add(photo)
    Image.objects.filter(pk__in=repeated).update(status="failed", error="upload_missing")


class Migration(migrations.Migration):
    dependencies = [
        ("images_app", "0006_merge_review_and_signatures"),
    ]

    operations = [
        migrations.RunPython(fail_repeated_pending_photos, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="image",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "pending")),
                fields=("session", "content_sha256", "content_type"),
                name="image_one_pending_upload_per_photo",
            ),
        ),
    ]
