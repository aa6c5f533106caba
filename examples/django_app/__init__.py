"""A minimal Django project whose ASGI application is wrapped with ``harden()`` (see ``asgi.py``)."""
