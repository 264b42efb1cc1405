#!/usr/bin/env bash
# Set up and run the workplace with demo data on the embedded defaults (SQLite, ORM job queue).
source "$(dirname "$0")/_venv.sh"
export DEBUG="${DEBUG:-true}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

python manage.py migrate --noinput
python manage.py seed_demo

# The background worker (django-q2) runs beside the web server and stops with it.
python manage.py qcluster &
WORKER=$!
trap 'kill "$WORKER" 2>/dev/null || true; wait "$WORKER" 2>/dev/null || true' EXIT INT TERM

echo
echo "L'intranet démarre sur http://${HOST}:${PORT}/ (Ctrl+C pour arrêter)."
echo "Connectez-vous avec l'un des comptes ci-dessus, par exemple admin@clairval.example."
echo
python manage.py runserver "${HOST}:${PORT}" --noreload
