"""``/images``: list a session's images, one image's detail, publish. User tokens only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.permissions import CanPublish, IsUser
from images_app import duplicates, selectors, services, storage
from images_app.api.image_serializers import (
    IMAGE_LIST_ITEM,
    ImageDetail,
    ImageList,
    ImageListQuery,
    ImagePublished,
    image_list_item_data,
)
from imaging.api.errors import ApplicationError
from imaging.api.schema import described, error_responses
from imaging.api.views import ApiView, page_data


def _not_found(what: str = "Image") -> ApplicationError:
    return ApplicationError("NOT_FOUND", f"{what} not found.", status_code=404)


class ImageListView(ApiView):
    """A session's images: spins by angle, stills in capture order."""

    permission_classes = [IsUser]

    @extend_schema(
        parameters=[ImageListQuery],
        responses={
            200: ImageList,
            **error_responses(
                400,
                401,
                403,
                404,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: `session_id` missing or malformed, an unknown "
                    "`status`, or `limit` (1-1000) or `offset` out of range.",
                    403: "`FORBIDDEN`: the token is a device token; only users read images.",
                    404: "`NOT_FOUND`: no such session visible to the caller.",
                },
            ),
        },
        operation_id="images_list",
        **described(
            summary="List a session's images (spins by angle, stills in capture order)",
            who="Users only (a device token is refused with 403) who may see the site of the "
            "session; an admin sees every site of the organisation.",
            changes="Nothing. Thumbnail URLs are presigned GETs; a re-read within a tenth of "
            "their lifetime returns the same URLs, so browsers keep the thumbnails cached.",
            idempotency="A read: always safe to repeat.",
        ),
    )
    def get(self, request):
        query = self.validated_query(ImageListQuery)
        limit, offset = query["limit"], query["offset"]
        found = selectors.session_image_page(
            actor=self.actor,
            session_id=query["session_id"],
            status=query.get("status"),
            limit=limit,
            offset=offset,
            columns=IMAGE_LIST_ITEM.columns,
        )
        if found is None:
            raise _not_found("Session")
        page, total = found
        sign = storage.presigned_getter()  # the settings read once for the page's URLs
        data = [image_list_item_data(row, sign=sign) for row in page]
        return Response(page_data(data, total=total, limit=limit, offset=offset))


class ImageDetailView(ApiView):
    """One image with its keys, size, EXIF, QC and thumbnail URLs."""

    permission_classes = [IsUser]

    @extend_schema(
        responses={
            200: ImageDetail,
            **error_responses(
                401,
                403,
                404,
                429,
                reasons={
                    403: "`FORBIDDEN`: the token is a device token; only users read images.",
                    404: "`NOT_FOUND`: no such image visible to the caller.",
                },
            ),
        },
        operation_id="images_retrieve",
        **described(
            summary="One image with its keys, size, EXIF, QC and thumbnail URLs",
            who="Users only (a device token is refused with 403) who may see the site of the "
            "session; an admin sees every site of the organisation.",
            changes="Nothing.",
            idempotency="A read: always safe to repeat.",
        ),
    )
    def get(self, request, pk):
        image = selectors.image_get_visible(actor=self.actor, image_id=pk)
        if image is None:
            raise _not_found()
        # Only the other photos this caller may see (another site's stay hidden).
        image.duplicate_list = [
            match
            for match in duplicates.image_duplicates(image=image)
            if selectors.image_get_visible(actor=self.actor, image_id=match["image_id"])
        ]
        return Response(ImageDetail(image).data)


class ImagePublishView(ApiView):
    """``processed → published`` (reviewer or admin); publishing again is a no-op."""

    permission_classes = [IsUser, CanPublish]

    @extend_schema(
        request=None,
        responses={
            200: ImagePublished,
            **error_responses(
                401,
                403,
                404,
                409,
                429,
                reasons={
                    403: "`FORBIDDEN`: the caller is a device or an operator; only reviewers "
                    "and admins publish.",
                    404: "`NOT_FOUND`: no such image visible to the caller.",
                    409: "`INVALID_TRANSITION`: the image is not `processed` yet (or failed); "
                    "`details.status` is its status. `RESHOOT_REQUIRED`: the image failed QC "
                    "and the organisation requires a reshoot (`details.reshoot_id`): upload "
                    "a replacement or dismiss the item first.",
                },
            ),
        },
        operation_id="images_publish",
        **described(
            summary="Publish a processed image",
            who="Reviewers and admins who may see the site of the session.",
            changes="`processed` → `published`: sets `published_at` and `published_by` and "
            "records a `published` event.",
            idempotency="Safe to retry: publishing a published image is a 200 that changes "
            "nothing and returns the same `published_at` (no second event).",
        ),
    )
    def post(self, request, pk):
        image = selectors.image_get_visible(actor=self.actor, image_id=pk)
        if image is None:
            raise _not_found()
        image = services.image_publish(image=image, actor=self.actor)
        return Response(ImagePublished(image).data)
