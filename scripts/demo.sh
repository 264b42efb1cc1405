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
stop() {
  [ -n "${SERVER:-}" ] && kill -TERM "$SERVER" 2>/dev/null
  # django-q2 stops gracefully on TERM, but can hang when its processes got the signal too
  # (Ctrl+C reaches the whole group): give it ten seconds, then kill what is left.
  kill -TERM "$WORKER" 2>/dev/null || return 0
  for _ in $(seq 1 10); do kill -0 "$WORKER" 2>/dev/null || return 0; sleep 1; done
  pkill -KILL -P "$WORKER" 2>/dev/null || true
  kill -KILL "$WORKER" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

echo
echo "L'intranet démarre sur http://${HOST}:${PORT}/ (Ctrl+C pour arrêter)."
echo "Connectez-vous avec l'un des comptes ci-dessus, par exemple admin@clairval.example."
echo
python manage.py runserver "${HOST}:${PORT}" --noreload &
SERVER=$!
wait "$SERVER"
