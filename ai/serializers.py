from __future__ import annotations

from rest_framework import serializers

from ai.models import Collection, Document, Source
from core.models import Direction


class CollectionSerializer(serializers.ModelSerializer):
    direction = serializers.SlugRelatedField(slug_field="code", queryset=Direction.objects.all())

    class Meta:
        model = Collection
        fields = ["id", "name", "slug", "description", "direction", "visibility"]


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ["id", "collection", "name", "kind", "config", "schedule_minutes", "enabled"]
        read_only_fields = ["enabled"]


class DocumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Document
        fields = [
            "id",
            "collection",
            "source",
            "title",
            "uri",
            "filename",
            "format",
            "status",
            "error",
            "page_count",
            "indexed_at",
        ]


class UploadSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=500)
    collection = serializers.ListField(child=serializers.IntegerField(), required=False)
    format = serializers.ListField(child=serializers.CharField(), required=False)
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=50, default=10)


class SearchHitSerializer(serializers.Serializer):
    document_id = serializers.IntegerField(source="chunk.document_id")
    title = serializers.CharField(source="chunk.document.title")
    collection_id = serializers.IntegerField(source="chunk.collection_id")
    page = serializers.IntegerField(source="chunk.page")
    heading_path = serializers.CharField(source="chunk.heading_path")
    text = serializers.CharField(source="chunk.text")
    snippet = serializers.CharField()
    score = serializers.FloatField()
