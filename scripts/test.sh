#!/usr/bin/env bash
# Run the test suite (unit, integration and browser tests). Extra arguments go to pytest.
# The database is SQLite unless DATABASE_URL names another (e.g. PostgreSQL).
source "$(dirname "$0")/_venv.sh" dev
python -m pytest "$@"
