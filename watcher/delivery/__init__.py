"""From alert to message: the durable outbox (outbox), the dispatcher with its retries and routing
(deliver), Apprise (notify) and the message templates (message).

Delivery may import `watcher.store`, `watcher.rules`, `watcher.items`, `watcher.config` and `watcher.errors`;
never the orchestration, the daemon or the CLI.
"""
