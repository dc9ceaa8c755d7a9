"""The Kubernetes edge: client configuration, a small dict-in/dict-out API, the actuator.

Only this package and the Kopf handlers import the ``kubernetes`` client. It
is synchronous: callers on the event loop run it with ``asyncio.to_thread``.
"""
