"""REST API of the AI layer: same services, selectors and access rules as the pages."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ai import selectors, services
from ai.models import Source
from ai.retrieval import SearchFilters, search
from ai.serializers import (
    CollectionSerializer,
    DocumentSerializer,
    SearchHitSerializer,
    SearchQuerySerializer,
    SourceSerializer,
    UploadSerializer,
)
from core.api import ApiAuthMixin


def _django_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.messages)


class CollectionList(ApiAuthMixin, generics.ListCreateAPIView):
    """Collections the user may read; creation needs the administrator role."""

    serializer_class = CollectionSerializer

    def get_queryset(self):
        return selectors.visible_collections(self.request.user).order_by("name")

    def perform_create(self, serializer):
        try:
            serializer.instance = services.create_collection(
                user=self.request.user, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc


class CollectionDetail(ApiAuthMixin, generics.RetrieveAPIView):
    serializer_class = CollectionSerializer

    def get_queryset(self):
        return selectors.visible_collections(self.request.user)


class SourceList(ApiAuthMixin, generics.ListCreateAPIView):
    """Sources of the collections the user administers."""

    serializer_class = SourceSerializer

    def get_queryset(self):
        return Source.objects.filter(
            collection__in=selectors.managed_collections(self.request.user).values("pk")
        )

    def perform_create(self, serializer):
        data = serializer.validated_data
        collection = selectors.get_managed_collection(self.request.user, data["collection"].pk)
        try:
            serializer.instance = services.create_source(
                user=self.request.user,
                collection=collection,
                name=data["name"],
                kind=data["kind"],
                config=data.get("config") or {},
                schedule_minutes=data.get("schedule_minutes", 0),
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc


class SourceUpload(ApiAuthMixin, APIView):
    """Upload files into an upload source and start their indexing."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=UploadSerializer, responses=DocumentSerializer(many=True))
    def post(self, request, pk: int):
        source = selectors.get_managed_source(request.user, pk)
        serializer = UploadSerializer(data={"files": request.FILES.getlist("files")})
        serializer.is_valid(raise_exception=True)
        try:
            docs = services.add_uploads(
                user=request.user, source=source, files=serializer.validated_data["files"]
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        services.start_run(source, user=request.user)
        return Response(DocumentSerializer(docs, many=True).data, status=status.HTTP_201_CREATED)


class DocumentList(ApiAuthMixin, generics.ListAPIView):
    serializer_class = DocumentSerializer

    def get_queryset(self):
        return selectors.visible_documents(self.request.user).order_by("pk")


class DocumentDetail(ApiAuthMixin, generics.RetrieveAPIView):
    serializer_class = DocumentSerializer

    def get_object(self):
        return selectors.get_document(self.request.user, self.kwargs["pk"], request=self.request)


class SearchView(ApiAuthMixin, APIView):
    """Hybrid search over everything the user may read."""

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchHitSerializer(many=True))
    def get(self, request):
        params = SearchQuerySerializer(
            data={
                **request.query_params.dict(),
                "collection": request.query_params.getlist("collection"),
                "format": request.query_params.getlist("format"),
            }
        )
        params.is_valid(raise_exception=True)
        d = params.validated_data
        filters = SearchFilters(
            collection_ids=d.get("collection", []),
            formats=d.get("format", []),
            since=d.get("since"),
            until=d.get("until"),
        )
        results = search(request.user, d["q"], filters=filters, limit=d["limit"])
        return Response(SearchHitSerializer(results, many=True).data)
