from imaging.api.views import ApiView


class EventIngestView(ApiView):
    rate_limit_bucket = "events"
