from imaging.api.views import ApiView


class PresignView(ApiView):
    rate_limit_bucket = "presign"
