"""The review loop's endpoints: reject an image, list and request reshoots."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.permissions import CanDismissReshoot, CanReject, CanRequestReshoot, IsUser
from images_app import review, selectors
from images_app.api.review_serializers import (
    RESHOOT_ITEM,
    ImageRejected,
    ImageRejectInput,
    ReshootCreateInput,
    ReshootDismissInput,
    ReshootItemOutput,
    ReshootList,
    ReshootListQuery,
)
from imaging.api.errors import ApplicationError
from imaging.api.schema import described, error_responses
from imaging.api.views import ApiView, page_data
from sessions_app.selectors import session_get


def _not_found(what: str) -> ApplicationError:
    return ApplicationError("NOT_FOUND", f"{what} not found.", status_code=404)


class ImageRejectView(ApiView):
    """``processed | published → rejected`` with reasons (reviewer or admin): the image
    leaves the publication and its frame or shot joins the session's reshoot request.
    Rejecting again changes nothing."""

    permission_classes = [IsUser, CanReject]

    @extend_schema(
        request=ImageRejectInput,
        responses={
            200: ImageRejected,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                413,
                415,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: `reasons` empty or naming a reason not in the "
                    "list, or `note` too long.",
                    403: "`FORBIDDEN`: a device token, or a user without the reviewer or admin "
                    "role.",
                    404: "`NOT_FOUND`: no such image visible to the caller.",
                    409: "`INVALID_TRANSITION`: only processed or published images can be "
                    "rejected.",
                },
            ),
        },
        operation_id="images_reject",
        **described(
            summary="Reject an image with reasons; its frame or shot goes back to the device",
            who="Reviewers and admins who may see the image's site. Devices and operators get 403.",
            changes="`processed | published → rejected` (a published image leaves its "
            "vehicle's publication as a new version); the frame or shot joins the session's "
            "open reshoot request; records `rejected` and `reshoot_requested` events.",
            idempotency="Rejecting a rejected image changes nothing and answers 200.",
        ),
    )
    def post(self, request, pk):
        data = self.validated(ImageRejectInput, request.data)
        image = selectors.image_get_visible(actor=self.actor, image_id=pk)
        if image is None:
            raise _not_found("Image")
        image, item = review.image_reject(
            image=image, actor=self.actor, reasons=data["reasons"], note=data.get("note", "")
        )
        image.reshoot = item
        return Response(ImageRejected(image).data)


class ReshootListCreateView(ApiView):
    """Reshoot items of the sessions the caller sees, oldest first: a capture app's to-do
    list (``?status=open``). Reviewers and admins also ask for a frame or shot here."""

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsUser(), CanRequestReshoot()]
        return super().get_permissions()

    @extend_schema(
        parameters=[ReshootListQuery],
        responses={
            200: ReshootList,
            **error_responses(
                400,
                401,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: an unknown `status`, a malformed `session_id`, "
                    "or `limit` (1-1000) or `offset` out of range.",
                },
            ),
        },
        operation_id="reshoots_list",
        **described(
            summary="List reshoot items, oldest first: a capture app's to-do list",
            who="Devices (the sessions they captured) and users (the sessions of their sites).",
            changes="Nothing.",
            idempotency="A read: always safe to repeat.",
        ),
    )
    def get(self, request):
        query = self.validated_query(ReshootListQuery)
        limit, offset = query["limit"], query["offset"]
        page, total = selectors.reshoot_page(
            actor=self.actor,
            status=query.get("status"),
            session_id=query.get("session_id"),
            limit=limit,
            offset=offset,
        )
        data = [RESHOOT_ITEM.write(row) for row in page]
        return Response(page_data(data, total=total, limit=limit, offset=offset))

    @extend_schema(
        request=ReshootCreateInput,
        responses={
            201: ReshootItemOutput,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                413,
                415,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: an unknown reason, or a note too long.",
                    403: "`FORBIDDEN`: a device token, or a user without the reviewer or admin "
                    "role.",
                    404: "`NOT_FOUND`: no such session visible to the caller.",
                    409: "`PLACEMENT_CONFLICT`: a spin's request without `frame_index` (or a "
                    "stills session's without `shot_name`), a frame beyond the spin's "
                    "`frame_count`, or a shot not in the session's shot list.",
                },
            ),
        },
        operation_id="reshoots_create",
        **described(
            summary="Ask the device for a frame or shot again, without an image to reject",
            who="Reviewers and admins who may see the session's site.",
            changes="Adds an open item to the session's reshoot request (one per frame or "
            "shot: asking again adds the reasons to the open item); records "
            "`reshoot_requested`.",
            idempotency="Safe to repeat: the same frame or shot stays one open item.",
        ),
    )
    def post(self, request):
        data = self.validated(ReshootCreateInput, request.data)
        session = session_get(actor=self.actor, session_id=data["session_id"])
        if session is None:
            raise _not_found("Session")
        item = review.reshoot_request(
            session=session,
            actor=self.actor,
            frame_index=data.get("frame_index"),
            shot_name=data.get("shot_name"),
            reasons=data.get("reasons", []),
            note=data.get("note", ""),
        )
        return Response(ReshootItemOutput(item).data, status=status.HTTP_201_CREATED)


class ReshootDismissView(ApiView):
    """``open → cancelled``: a reviewer accepts the frame or shot as it is. The usual end of
    an automatic item the device should not retake; a required one stops blocking the
    image's publishing."""

    permission_classes = [IsUser, CanDismissReshoot]

    @extend_schema(
        request=ReshootDismissInput,
        responses={
            200: ReshootItemOutput,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                413,
                415,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: `note` too long or not text.",
                    403: "`FORBIDDEN`: a device token, or a user without the reviewer or admin "
                    "role.",
                    404: "`NOT_FOUND`: no such reshoot item visible to the caller.",
                    409: "`INVALID_TRANSITION`: the item is fulfilled already.",
                },
            ),
        },
        operation_id="reshoots_dismiss",
        **described(
            summary="Dismiss a reshoot item: accept its frame or shot as it is",
            who="Reviewers and admins who may see the session's site.",
            changes="`open → cancelled` (the device no longer sees it; a required automatic "
            "item no longer blocks publishing its image); records `reshoot_dismissed`.",
            idempotency="Dismissing a dismissed item changes nothing and answers 200.",
        ),
    )
    def post(self, request, pk):
        data = self.validated(ReshootDismissInput, request.data)
        item = selectors.reshoot_get_visible(actor=self.actor, reshoot_id=pk)
        if item is None:
            raise _not_found("Reshoot item")
        item = review.reshoot_dismiss(item=item, actor=self.actor, note=data.get("note", ""))
        return Response(ReshootItemOutput(item).data)
