"""Django's PostgreSQL backend with a health check that costs no round trip when idle.

``CONN_HEALTH_CHECKS`` makes Django send ``SELECT 1`` before the first query of every
request on a persistent connection: a fifth of the CPU of a small API request, and a round
trip. A connection the server has closed (restart, ``pg_terminate_backend``, idle
timeout) has something to read while idle: the server's goodbye, or the end of the stream.
So the socket is polled first; only when it has news (or psycopg already knows it is
closed) does the real ``SELECT 1`` decide, and the dead connection is replaced before the
request uses it, as before. A healthy idle connection never has unread bytes: every
response is read to its end, and nothing here LISTENs.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self._idle_socket_is_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _idle_socket_is_quiet(self) -> bool:
        connection = self.connection
        if connection.closed or connection.broken:
            return False
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
