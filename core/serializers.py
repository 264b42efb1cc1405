from __future__ import annotations

from rest_framework import serializers

from core.models import Announcement, Direction


class DirectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Direction
        fields = ["id", "code", "name", "kind"]


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    roles = serializers.SerializerMethodField()

    def get_roles(self, user) -> list[str]:
        return sorted(user.groups.values_list("name", flat=True))


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    directions = DirectionSerializer(many=True)


class AnnouncementSerializer(serializers.ModelSerializer):
    direction = DirectionSerializer(read_only=True)

    class Meta:
        model = Announcement
        fields = ["id", "title", "body", "direction", "visibility", "published_at"]
