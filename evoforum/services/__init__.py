"""Embedded services: NATS with JetStream, PostgreSQL with pgvector, and a local LLM.

``evoforum services up|down|status|destroy`` on the command line, and in Python::

    async with local_services(only=["nats", "postgres"]) as urls:
        ...  # urls.nats, urls.postgres

State (data, logs, ports, pids) lives in a folder: ``--state-dir``, else ``$EVOFORUM_STATE_DIR``,
else ``./.evoforum``. ``down`` keeps the data; ``destroy`` deletes it.
"""

from evoforum.services._local import LocalServices, ServiceURLs, local_services
from evoforum.services.model import MODEL_NAME

__all__ = ["MODEL_NAME", "LocalServices", "ServiceURLs", "local_services"]
