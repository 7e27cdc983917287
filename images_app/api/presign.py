from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from images_app.api.serializers import (
    PresignRequest,
    PresignResponse,
    presign_response_data,
)
from images_app.uploads import image_upload_start
from imaging.api.schema import error_responses
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
            **error_responses(400, 401, 403, 404, 409, 413, 415, 429),
        },
        operation_id="presign",
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
