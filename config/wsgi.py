import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# The web process owns the vector store (Qdrant local mode allows one process): it pushes the
# chunks that background workers wrote to SQL.
from ai.index_sync import start_sync_thread  # noqa: E402

start_sync_thread()
