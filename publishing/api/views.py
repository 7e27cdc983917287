"""``/vehicles/{id}/publication…``, ``/images/{id}/unpublish`` and ``/feeds/vehicles.csv``:
reviewers and admins (``publication.manage``); devices and operators get 403."""

from __future__ import annotations

import hashlib
import json

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from accounts.permissions import IsUser, may_do
from images_app import selectors as image_selectors
from images_app.api.image_serializers import ImagePublished
from imaging.api.errors import ApplicationError
from imaging.api.schema import described, error_responses
from imaging.api.views import ApiView, LimitOffsetQuery, page_data
from publishing import selectors, services
from publishing.api.serializers import (
    FeedQuery,
    PublicationSummary,
    PublicationVersionItem,
    PublicationVersionList,
    RollbackInput,
    summary_data,
)
from publishing.feeds import CHANNELS, feed_csv

WHO = (
    "Reviewers and admins who may see the vehicle's site (an admin: every site of the "
    "organisation). Devices and operators get 403."
)


CanManagePublication = may_do("publication.manage", "Publishing needs the reviewer or admin role.")
CanUnpublish = may_do("image.unpublish", "Unpublishing needs the reviewer or admin role.")


def _not_found(what: str) -> ApplicationError:
    return ApplicationError("NOT_FOUND", f"{what} not found.", status_code=404)


class _PublicationView(ApiView):
    permission_classes = [IsUser, CanManagePublication]

    def publication(self, vehicle_id):
        vehicle = selectors.vehicle_get_visible(actor=self.actor, vehicle_id=vehicle_id)
        if vehicle is None:
            raise _not_found("Vehicle")
        publication = selectors.publication_of(vehicle=vehicle)
        if publication is None:
            raise _not_found("Publication")
        return publication

    def summary(self, publication) -> Response:
        url = services.publication_manifest_url(publication.vehicle_id)
        return Response(summary_data(publication, url))


class ImageUnpublishView(ApiView):
    """``published → processed``: the image leaves its vehicle's publication (a version)."""

    permission_classes = [IsUser, CanUnpublish]

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
                    403: "`FORBIDDEN`: a device token, or a user without the reviewer or admin "
                    "role.",
                    404: "`NOT_FOUND`: no such image visible to the caller.",
                    409: "`INVALID_TRANSITION`: the image is not published.",
                },
            ),
        },
        operation_id="images_unpublish",
        **described(
            summary="Take a published image out of its vehicle's publication",
            who=WHO,
            changes="`published → processed`; the vehicle's publication gets a new version "
            "without the image, rendered and made live after commit.",
            idempotency="Not repeatable: once the image is unpublished a retry answers 409 "
            "`INVALID_TRANSITION` (the image's `status` says what happened).",
        ),
    )
    def post(self, request, pk):
        image = image_selectors.image_get_visible(actor=self.actor, image_id=pk)
        if image is None:
            raise _not_found("Image")
        image = services.image_unpublish(image=image, actor=self.actor)
        return Response(ImagePublished(image).data)


class PublicationView(_PublicationView):
    """The live manifest (what the public ``manifest.json`` holds), with an ``ETag``."""

    @extend_schema(
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT, description="The manifest: publishing/manifest.schema.json"
            ),
            304: OpenApiResponse(description="Not modified (If-None-Match)."),
            **error_responses(
                401,
                403,
                404,
                429,
                reasons={
                    404: "`NOT_FOUND`: no such vehicle visible to the caller, or no version of "
                    "its publication is live yet (the first is still rendering).",
                },
            ),
        },
        operation_id="vehicles_publication_retrieve",
        **described(
            summary="Read a vehicle's live publication manifest",
            who=WHO,
            changes="Nothing. The body is the public `manifest.json` of the live version "
            "(schema: `publishing/manifest.schema.json`), with an `ETag`.",
            idempotency="A read: always safe to repeat; send `If-None-Match` for a cheap 304.",
        ),
    )
    def get(self, request, pk):
        publication = self.publication(pk)
        version = selectors.live_version(publication=publication)
        if version is None or version.manifest is None:
            raise _not_found("Live publication")
        body = json.dumps(version.manifest, separators=(",", ":"), ensure_ascii=False).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if etag in request.headers.get("If-None-Match", ""):
            return HttpResponse(status=304, headers=headers)
        return HttpResponse(body, content_type="application/json", headers=headers)


class PublicationVersionsView(_PublicationView):
    """Every version, newest first: who, when, what changed."""

    @extend_schema(
        parameters=[LimitOffsetQuery],
        responses={
            200: PublicationVersionList,
            **error_responses(
                400,
                401,
                403,
                404,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: `limit` (1-1000) or `offset` out of range.",
                    404: "`NOT_FOUND`: no such vehicle visible to the caller, or it was never "
                    "published.",
                },
            ),
        },
        operation_id="vehicles_publication_versions",
        **described(
            summary="List a vehicle's publication versions, newest first",
            who=WHO,
            changes="Nothing. Each version says who made it, when, and what changed.",
            idempotency="A read: always safe to repeat.",
        ),
    )
    def get(self, request, pk):
        query = self.validated_query(LimitOffsetQuery)
        publication = self.publication(pk)
        limit, offset = query["limit"], query["offset"]
        versions, total = selectors.versions_page(
            publication=publication, limit=limit, offset=offset
        )
        context = {"live_version": publication.live_version}
        data = PublicationVersionItem(versions, many=True, context=context).data
        return Response(page_data(data, total=total, limit=limit, offset=offset))


class PublicationRollbackView(_PublicationView):
    """Version ``n``'s images become the live set again, as a new version."""

    @extend_schema(
        request=RollbackInput,
        responses={
            200: PublicationSummary,
            **error_responses(
                400,
                401,
                403,
                404,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: `version` missing or not a whole number from 1.",
                    404: "`NOT_FOUND`: no such vehicle visible to the caller, it was never "
                    "published, or it has no such version.",
                },
            ),
        },
        operation_id="vehicles_publication_rollback",
        **described(
            summary="Make an earlier version's images the live publication again",
            who=WHO,
            changes="Version n's images are published again and the others unpublished, as a "
            "new version, rendered and made live after commit.",
            idempotency="Rolling back to the version that is already live writes no new version.",
        ),
    )
    def post(self, request, pk):
        data = self.validated(RollbackInput, request.data)
        publication = self.publication(pk)
        publication = services.publication_rollback(
            publication=publication, number=data["version"], actor=self.actor
        )
        return self.summary(publication)


class PublicationWithdrawView(_PublicationView):
    """The car is sold: the public manifest says ``withdrawn``; renditions go after a grace
    period."""

    @extend_schema(
        request=None,
        responses={
            200: PublicationSummary,
            **error_responses(
                401,
                403,
                404,
                429,
                reasons={
                    404: "`NOT_FOUND`: no such vehicle visible to the caller, or it was never "
                    "published.",
                },
            ),
        },
        operation_id="vehicles_publication_withdraw",
        **described(
            summary="Withdraw a vehicle (sold): its public manifest says withdrawn",
            who=WHO,
            changes="Every published image of the vehicle is unpublished, as a new version; "
            "the public manifest says `withdrawn` at once and the renditions are deleted after "
            "the grace period (`PUBLICATION_WITHDRAW_GRACE_DAYS`).",
            idempotency="Withdrawing a withdrawn vehicle writes no new version.",
        ),
    )
    def post(self, request, pk):
        publication = services.publication_withdraw(
            publication=self.publication(pk), actor=self.actor
        )
        return self.summary(publication)


class VehicleFeedView(ApiView):
    """The org's live vehicles as CSV for a listing channel."""

    permission_classes = [IsUser, CanManagePublication]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "channel", str, enum=sorted(CHANNELS), required=True, description="Feed profile."
            )
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The feed."),
            **error_responses(
                400,
                401,
                403,
                429,
                reasons={400: "`VALIDATION_ERROR`: `channel` missing or not a known profile."},
            ),
        },
        operation_id="feeds_vehicles_csv",
        **described(
            summary="Download the organisation's live vehicles as a listing feed (CSV)",
            who="Reviewers and admins of the organisation. Devices and operators get 403.",
            changes="Nothing. One row per live vehicle: VIN, stock, manifest URL, hero image "
            "and additional image URLs in the channel's order and limits.",
            idempotency="A read: always safe to repeat.",
        ),
    )
    def get(self, request):
        query = self.validated_query(FeedQuery)
        channel = CHANNELS[query["channel"]]
        body = feed_csv(org_id=self.actor.org_id, channel=channel)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="vehicles-{channel.name}.csv"'
        return response
