"""gunicorn entry point: `gunicorn app.wsgi:app`."""

from app.web import create_app

app = create_app()
