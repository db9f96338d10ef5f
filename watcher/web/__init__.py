"""The web side: a bounded HTTP server, the read-only dashboard and the backtest report.

May import watcher.store, watcher.rules, watcher.items, watcher.config and watcher.errors; the daemon and
the CLI import it.
"""
