"""WSGI entry point for production workers:

    gunicorn -k gevent -w 1 -b 127.0.0.1:8001 app.wsgi:app

One worker per process (Socket.IO keeps per-process connection state); run several
processes behind nginx with SOCKETIO_MESSAGE_QUEUE=redis://… and DATABASE_URL pointing
at PostgreSQL. See docs/DEPLOY.md.
"""
from app import create_app
from app.serving import prepare_to_serve

app = create_app({"SOCKETIO_ASYNC_MODE": "gevent"})
prepare_to_serve(app)
app.extensions["siteflow_live"].start()
