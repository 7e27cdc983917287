from imaging.api.views import ApiView


class ImageListView(ApiView):
    pass


class ImageDetailView(ApiView):
    pass


class ImagePublishView(ApiView):
    pass
