from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from images_app.api.serializers import (
    PresignRequest,
    PresignResponse,
    presign_response_data,
)
from images_app.uploads import image_upload_start
from imaging.api.schema import described, error_responses
from imaging.api.views import ApiView


class PresignView(ApiView):
    """A presigned S3 PUT for one photo of an active session; creates the pending image.

    Spin sessions take ``angle_deg`` or ``frame_index`` (neither: the next free frame);
    stills take ``shot_name``. A reshoot names the image it replaces (``replaces_image_id``,
    which needs an open reshoot item): it gets that image's frame or shot, even in a finished
    session. Repeating the request for the same file while its upload is
    pending returns the same image with a fresh URL. With ``content_length`` (at most the
    upload limit) the URL only accepts a PUT of exactly that many bytes.
    """

    rate_limit_bucket = "presign"

    @extend_schema(
        request=PresignRequest,
        responses={
            200: PresignResponse,
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
                    400: "`VALIDATION_ERROR`: a field is missing or malformed (a "
                    "`content_sha256` that is not 64 hex characters, an unsupported "
                    "`content_type`, `angle_deg` and `frame_index` together, a "
                    "`content_length` over the upload limit...).",
                    403: "`FORBIDDEN`: the session is another device's or another operator's "
                    "(a device may upload to the sessions it started; a user to their own "
                    "sessions, an admin to any).",
                    404: "`NOT_FOUND`: no such session visible to the caller.",
                    409: "`SESSION_NOT_ACTIVE`: the session is finished; "
                    "`PLACEMENT_CONFLICT`: the placement does not fit the session (an angle "
                    "in a stills session, a shot name in a spin, a frame beyond `frame_count`, "
                    "or a shot not in the shot list); "
                    "`NO_FREE_FRAME`: neither angle nor frame given and every frame is taken.",
                },
            ),
        },
        operation_id="presign",
        **described(
            summary="Get a presigned S3 PUT URL for one photo (creates the pending image)",
            who="The device that started the session; a user who is the session's operator, "
            "or an admin of the organisation.",
            changes="Creates a `pending` image at its place in the session (spins: "
            "`angle_deg` or `frame_index`, neither = the next free frame; stills: "
            "`shot_name`). The URL accepts one PUT of exactly these bytes (the SHA-256 and "
            "Content-Type are signed, and `content_length` if given) until `expires_at`. "
            "Send the `headers` returned with the PUT, then post an `upload_complete` event.",
            idempotency="Safe to retry: presigning the same photo (same session, "
            "`content_sha256` and `content_type`) while its upload is pending returns the "
            "same `image_id` with a fresh URL, so a lost answer or an expired URL costs "
            "nothing.",
        ),
    )
    def post(self, request):
        data = self.validated(PresignRequest, request.data)
        image, presigned = image_upload_start(
            actor=self.actor,
            session_id=data["session_id"],
            file_name=data["file_name"],
            content_type=data["content_type"],
            content_sha256=data["content_sha256"],
            angle_deg=data.get("angle_deg"),
            frame_index=data.get("frame_index"),
            shot_name=data.get("shot_name"),
            content_length=data.get("content_length"),
            replaces_image_id=data.get("replaces_image_id"),
            request_id=request.request_id,
        )
        return Response(presign_response_data(image, presigned))
