from django.core.management.base import BaseCommand
from django.db.models import Q

from images_app import duplicates, spin_health, storage
from images_app.models import Image
from imaging.management.progress import Progress


class Command(BaseCommand):
    help = (
        "Give every processed or published image without a perceptual signature one, made "
        "from its stored 1200 px thumbnail (the upright reduced image the pipeline made), "
        "flag its duplicates, and recompute the health of the spins touched. Statuses do "
        "not change: a published image stays published. Prints how many were signed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--session", metavar="ID", help="Only this session's images.")

    def handle(self, *args, session=None, **options):
        from images_app import pipeline  # Pillow only where it is needed

        images = Image.objects.filter(
            status__in=(Image.Status.PROCESSED, Image.Status.PUBLISHED), signature__isnull=True
        ).exclude(Q(thumb_keys={}))
        if session:
            images = images.filter(session_id=session)
        total = images.count()
        progress = Progress(self.stdout, total=total, label="signing")
        signed, sessions = 0, set()
        for image in images.order_by("created_at", "id").iterator():
            key = (
                image.thumb_keys.get("1200")
                or max(image.thumb_keys.items(), key=lambda item: int(item[0]))[1]
            )
            try:
                data = storage.get_bytes(key=key, max_bytes=10 * 2**20)
                gray = pipeline.upright_preview(data, content_type="image/jpeg").image.convert("L")
            except (storage.StorageError, pipeline.PipelineError) as exc:
                progress.advance(note=f"{image.id}: {exc}")
                continue
            duplicates.signature_store(image=image, signature=pipeline.signature_measure(gray))
            if image.frame_index is not None:
                sessions.add(image.session_id)
            signed += 1
            progress.advance(note=str(image.id))
        progress.finish()
        for session_id in sessions:
            spin_health.spin_health_refresh(session_id=session_id)
        self.stdout.write(f"signed {signed} image(s), {len(sessions)} spin(s) rechecked")
