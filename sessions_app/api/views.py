from imaging.api.views import ApiView


class SessionListCreateView(ApiView):
    pass


class SessionDetailView(ApiView):
    pass
