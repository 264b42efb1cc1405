from django.apps import AppConfig


class PredictiveConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "predictive"
    verbose_name = "Prédictif"
