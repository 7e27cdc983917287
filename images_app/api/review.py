"""The review loop's endpoints: reject an image, list and request reshoots."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.permissions import CanReject, CanRequestReshoot, IsUser
from images_app import review, selectors
from images_app.api.review_serializers import (
    ImageRejected,
    ImageRejectInput,
    ReshootCreateInput,
    ReshootItemOutput,
    ReshootList,
    ReshootListQuery,
)
from imaging.api.errors import ApplicationError
from imaging.api.schema import error_responses
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
        responses={200: ImageRejected, **error_responses(400, 401, 403, 404, 409, 413, 415, 429)},
        operation_id="images_reject",
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
        responses={200: ReshootList, **error_responses(400, 401, 429)},
        operation_id="reshoots_list",
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
        data = ReshootItemOutput(page, many=True).data
        return Response(page_data(data, total=total, limit=limit, offset=offset))

    @extend_schema(
        request=ReshootCreateInput,
        responses={
            201: ReshootItemOutput,
            **error_responses(400, 401, 403, 404, 409, 413, 415, 429),
        },
        operation_id="reshoots_create",
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
