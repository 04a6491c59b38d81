"""The task queue: Dramatiq on Redis.

One actor, ``phygital_publish_row(batch_id, row)``. A message is acknowledged only after the job returned, that
is after the catalog commit; a worker that dies before that leaves the message in its Redis ack set, and after
``batch_heartbeat_timeout_s`` another worker's maintenance puts it back on the queue (the job's content address
makes the second run publish nothing new). Transient failures are retried with exponential backoff; bad input
and the time limit are not, and go straight to Dramatiq's dead-letter set (``<namespace>:<queue>.XQ``), which
``batch status`` and ``batch dead`` show with their one-line reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Middleware, Retries, ShutdownNotifications, TimeLimit

from ..errors import StorageError
from ..settings import AssetSettings
from .manifest import ManifestRow

logger = logging.getLogger(__name__)
ACTOR = "phygital_publish_row"


def _retry_when(max_retries: int) -> Callable[[int, BaseException], bool]:
    def retry_when(retries: int, exc: BaseException) -> bool:
        from .jobs import JobFailed

        return isinstance(exc, JobFailed) and exc.transient and retries < max_retries

    return retry_when


class FinalFailures(Middleware):  # type: ignore[misc]
    """Dramatiq middleware: when a message fails for good (dead-letter set), report it to ``on_final``."""

    def __init__(self, on_final: Callable[[Any, BaseException], None]) -> None:
        self.on_final = on_final

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        """Runs after Retries decided (after_* hooks run in reverse middleware order)."""
        if exception is not None and message.failed:
            self.on_final(message, exception)


def open_broker(settings: AssetSettings, on_final: Callable[[Any, BaseException], None] | None = None) -> Any:
    """A RedisBroker for the settings' URL and namespace, with the retry/time-limit middleware."""
    if not settings.batch_broker_url:
        raise StorageError("no broker configured", field="PHYGITAL_ASSETS_BATCH_BROKER_URL")
    middleware: list[Any] = [AgeLimit(), TimeLimit(time_limit=int(settings.batch_time_limit_s * 1000),
                                                   interval=1000), ShutdownNotifications()]
    if on_final is not None:
        middleware.append(FinalFailures(on_final))  # before Retries: its after_* hook runs after Retries'
    middleware.append(Retries(max_retries=settings.batch_max_retries,
                              min_backoff=int(settings.batch_min_backoff_s * 1000),
                              max_backoff=int(settings.batch_max_backoff_s * 1000),
                              retry_when=_retry_when(settings.batch_max_retries)))
    broker = RedisBroker(url=settings.batch_broker_url, namespace=settings.batch_namespace, middleware=middleware,
                         heartbeat_timeout=int(settings.batch_heartbeat_timeout_s * 1000),
                         maintenance_chance=settings.batch_maintenance_chance,
                         socket_connect_timeout=5, socket_timeout=30, health_check_interval=15)
    broker.declare_queue(settings.batch_queue)
    return broker


def check_reachable(broker: Any, settings: AssetSettings) -> None:
    """StorageError naming the setting when the broker does not answer."""
    import redis

    try:
        broker.client.ping()
    except redis.RedisError as exc:
        raise StorageError(f"cannot reach the broker: {exc}", field="PHYGITAL_ASSETS_BATCH_BROKER_URL") from None


def enqueue(settings: AssetSettings, batch_id: str, rows: Sequence[ManifestRow]) -> int:
    """Put one message per row on the queue; returns the count."""
    import redis

    broker = open_broker(settings)
    try:
        check_reachable(broker, settings)
        for row in rows:
            broker.enqueue(dramatiq.Message(queue_name=settings.batch_queue, actor_name=ACTOR,
                                            args=(batch_id, row.to_dict()), kwargs={}, options={}))
    except redis.RedisError as exc:
        raise StorageError(f"cannot reach the broker: {exc}", field="PHYGITAL_ASSETS_BATCH_BROKER_URL") from None
    finally:
        broker.client.close()
    return len(rows)


def dead_letters(settings: AssetSettings, limit: int = 1000,
                 reason: Callable[[str, int], str | None] | None = None) -> list[dict[str, Any]]:
    """The messages in the queue's dead-letter set, newest first: batch, line, SKU, source, retries and the job's
    one-line reason (``reason(batch_id, line)``, from the batch state: Redis keeps the message as enqueued)."""
    import json

    import redis

    client = redis.Redis.from_url(settings.batch_broker_url or "", socket_connect_timeout=5)
    name = f"{settings.batch_namespace}:{settings.batch_queue}.XQ"
    try:
        ids = client.zrevrange(name, 0, limit - 1)
        raw = client.hmget(f"{name}.msgs", ids) if ids else []
    except redis.RedisError as exc:
        raise StorageError(f"cannot reach the broker: {exc}", field="PHYGITAL_ASSETS_BATCH_BROKER_URL") from None
    finally:
        client.close()
    out = []
    for data in raw:
        if data is None:
            continue
        msg = json.loads(data)
        batch_id, row = (msg.get("args") or [None, {}])[:2]
        line = int(row.get("line", 0))
        out.append({"batch": batch_id, "line": line, "sku": row.get("sku"), "source": row.get("source"),
                    "retries": (msg.get("options") or {}).get("retries", 0),
                    "error": (reason(batch_id, line) if reason and batch_id else None) or ""})
    return out
