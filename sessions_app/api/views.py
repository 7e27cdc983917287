"""``/v1/sessions``: start, list, read and finish capture sessions."""

from __future__ import annotations

import copy
import uuid

from django.http import HttpResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.permissions import IsUser
from imaging.api.renderers import OrjsonRenderer
from imaging.api.schema import described, error_responses
from imaging.api.views import ApiView, page_data
from sessions_app import selectors, services
from sessions_app.api.extras import (
    DETAIL_EXTRAS,
    ETAG_COLUMNS,
    detail_body_cached,
    detail_body_keep,
    detail_etag,
    detail_extras_data,
    detail_extras_shape,
    etag_matches,
)
from sessions_app.api.serializers import (
    SESSION_CREATE_REQUEST,
    SESSION_DETAIL,
    SESSION_LIST_ITEM,
    SessionCreateInput,
    SessionDetailOutput,
    SessionFinishInput,
    SessionListOutput,
    SessionListQuery,
    SessionOutput,
    ShotListTemplateOutput,
    session_detail_data,
    session_list_item_data,
)
from sessions_app.models import CaptureSession
from sessions_app.shot_lists import shot_list_templates_of


class SessionListCreateView(ApiView):
    """Devices and users start sessions; only users list them."""

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD"):
            return [IsAuthenticated(), IsUser()]
        return super().get_permissions()

    @extend_schema(
        operation_id="sessions_list",
        **described(
            summary="List sessions of the sites the user may see, newest first",
            who="Users only (a device token is refused with 403). An admin sees every site "
            "of the organisation; an operator or reviewer the sites they belong to.",
            changes="Nothing.",
            idempotency="A read: always safe to repeat. Pages by `limit` and `offset`; "
            "ordered by `started_at` then `id`, newest first.",
        ),
        parameters=[SessionListQuery],
        responses={
            200: SessionListOutput,
            **error_responses(
                400,
                401,
                403,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: a query parameter is malformed, repeated or out "
                    "of range (`limit` 1-100, `offset` 0 or more; never clamped).",
                    403: "`FORBIDDEN`: the token is a device token; only users list sessions.",
                },
            ),
        },
    )
    def get(self, request):
        query = self.validated_query(SessionListQuery)
        limit, offset = query["limit"], query["offset"]
        page, total = selectors.session_list_page(
            actor=self.actor,
            columns=SESSION_LIST_ITEM.columns,
            limit=limit,
            offset=offset,
            site_id=query.get("site_id"),
            status=query.get("status"),
            vehicle_id=query.get("vehicle_id"),
        )
        data = [session_list_item_data(row) for row in page]
        return Response(page_data(data, total=total, limit=limit, offset=offset))

    @extend_schema(
        operation_id="sessions_create",
        **described(
            summary="Start a capture session (the vehicle is found or created by VIN or stock)",
            who="A device, or a user of any role, with access to the site (an admin: every "
            "site of the organisation; a device enrolled for some sites: only those).",
            changes="Creates an `active` session; finds the organisation's vehicle by VIN, "
            "then by stock number, or creates it (filling in a missing VIN or stock number). "
            "Records a `session_created` event.",
            idempotency="Not idempotent: each call starts a new session (the vehicle is "
            "reused). After a timeout, list the sessions (users) or keep the first "
            "session's id before retrying.",
        ),
        request=SESSION_CREATE_REQUEST,
        responses={
            201: SessionOutput,
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
                    400: "`VALIDATION_ERROR`: a malformed VIN or stock number, neither given, "
                    "a `shot_list` that does not fit the mode, or another field invalid.",
                    403: "`FORBIDDEN`: the site belongs to the organisation, but the caller "
                    "may not capture there.",
                    404: "`NOT_FOUND`: no such site in the caller's organisation.",
                    409: "`VEHICLE_CONFLICT`: the stock number belongs to a vehicle with a "
                    "different VIN (`details` names the vin, the stock number and the "
                    "vehicle); `SHOT_LIST_CONFLICT`: `shot_list.stills` and a "
                    "`shot_list_template_id` together (one or the other).",
                },
            ),
        },
    )
    def post(self, request):
        data = self.validated(SessionCreateInput, request.data)
        session = services.session_create(
            actor=self.actor,
            site_id=data["site_id"],
            vehicle=data["vehicle"],
            mode=data["mode"],
            shot_list=data["shot_list"],
            shot_list_template_id=data.get("shot_list_template_id"),
            request_id=request.request_id,
        )
        return Response(SessionOutput(session).data, status=status.HTTP_201_CREATED)


@extend_schema_serializer(component_name="SessionDetailOutput")
class SessionDetailResponse(SessionDetailOutput):
    """The detail as answered: with what apps above sessions add (``api/extras.py``)."""

    def get_fields(self):
        fields = super().get_fields()
        fields.update({name: copy.deepcopy(x.field) for name, x in DETAIL_EXTRAS.items()})
        return fields


class TransitionSchema(AutoSchema):
    """Documents a PATCH body as sent: its fields are required, it is not a partial update.

    drf-spectacular always marks PATCH bodies partial (upstream issue #1246).
    """

    def _get_request_for_media_type(self, serializer, direction="request"):
        method = self.method
        self.method = "POST"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = method


DETAIL_RENDERER = OrjsonRenderer()


class SessionDetailView(ApiView):
    """A device sees the sessions it started; a user those of the sites it may see."""

    schema = TransitionSchema()

    def _get_visible(self, pk: uuid.UUID) -> CaptureSession:
        session = selectors.session_get(actor=self.actor, session_id=pk)
        if session is None:
            raise NotFound()
        return session

    def _row(self, pk: uuid.UUID, *, extras: bool = True) -> dict:
        """The session's row with the ETag's columns, and the extras unless only the ETag
        is wanted (a conditional GET that may well be a 304)."""
        row = selectors.session_detail_row(
            actor=self.actor,
            session_id=pk,
            columns=(*SESSION_DETAIL.columns, *ETAG_COLUMNS),
            extras=detail_extras_shape() if extras else (),
        )
        if row is None:
            raise NotFound()
        return row

    def _detail(self, row: dict) -> tuple[dict, str]:
        """The detail of a row read with its extras, and its ETag."""
        extras = detail_extras_data(row)
        return {**session_detail_data(row), **extras}, detail_etag(row)

    @extend_schema(
        operation_id="sessions_retrieve",
        **described(
            summary="One session with its vehicle, operator, device, frames and reshoot items",
            who="The device that started the session (at a site it may still use), or a "
            "user who may see the session's site.",
            changes="Nothing.",
            idempotency="A read: always safe to repeat. Answers with an `ETag`; sent back "
            "as `If-None-Match`, an unchanged session is a 304 without a body (it reads the "
            "session's row only): poll it about every second while frames are processing, "
            "less often when idle (docs/qc-feedback.md).",
        ),
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="The `ETag` of an earlier answer: 304 while nothing changed.",
            )
        ],
        responses={
            200: SessionDetailResponse,
            304: OpenApiResponse(
                description="Not modified: the session, its frames and reshoot items are as "
                "in the answer whose `ETag` was sent."
            ),
            **error_responses(401, 404, 429),
        },
    )
    def get(self, request, pk: uuid.UUID):
        # The session's row alone names the detail (its ETag): unchanged, it is a 304 for a
        # caller who has it and this process's rendering for anyone else.
        etag = detail_etag(self._row(pk, extras=False))
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if etag_matches(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        body = detail_body_cached(etag)
        if body is None:
            data, etag = self._detail(self._row(pk))
            body = DETAIL_RENDERER.render(data)
            detail_body_keep(etag, body)
            headers["ETag"] = etag
        return HttpResponse(body, content_type=DETAIL_RENDERER.media_type, headers=headers)

    @extend_schema(
        operation_id="sessions_finish",
        **described(
            summary="Finish an active session (complete, abandoned or failed)",
            who="Whoever may read the session (see `sessions_retrieve`).",
            changes="`active` → `complete`, `abandoned` or `failed`, once; sets "
            "`completed_at` (the one sent if it lies between `started_at` and now + 5 "
            "minutes, else the server's time). Records a `session_finished` event.",
            idempotency="Not repeatable: a second finish, even to the same status, is a 409 "
            "`INVALID_TRANSITION` whose `details.status` is the current status; a client "
            "retrying after a timeout can treat that 409 with the status it sent as success.",
        ),
        request=SessionFinishInput,
        responses={
            200: SessionDetailResponse,
            **error_responses(
                400,
                401,
                404,
                409,
                413,
                415,
                429,
                reasons={
                    400: "`VALIDATION_ERROR`: `status` is not `complete`, `abandoned` or "
                    "`failed`, or `completed_at` is not an RFC 3339 time.",
                    409: "`INVALID_TRANSITION`: the session is already finished "
                    "(`details.status` is its status).",
                },
            ),
        },
    )
    def patch(self, request, pk: uuid.UUID):
        data = self.validated(SessionFinishInput, request.data)
        services.session_finish(
            session=self._get_visible(pk),
            status=data["status"],
            completed_at=data.get("completed_at"),
            actor=self.actor,
            request_id=request.request_id,
        )
        return Response(self._detail(self._row(pk))[0])


class ShotListTemplateListView(ApiView):
    """The organisation's shot-list templates (the dealership default is made on first
    read), for devices and users alike."""

    @extend_schema(
        operation_id="shot_list_templates_list",
        **described(
            summary="The organisation's shot-list templates",
            who="Devices and users of the organisation.",
            changes="Nothing (the dealership default is made on the first read).",
            idempotency="A read: always safe to repeat.",
        ),
        responses={200: ShotListTemplateOutput(many=True), **error_responses(401, 429)},
    )
    def get(self, request):
        templates = shot_list_templates_of(org_id=self.actor.org_id)
        return Response(ShotListTemplateOutput(templates, many=True).data)
