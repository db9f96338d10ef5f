"""Where everything is kept: items, alerts, deliveries and feed state (sqlite), the schema (migrations),
searches over it (search) and the subscriptions with their per-feed state (feeds).

The store may import `watcher.rules` (a match is what an alert records), `watcher.items`, `watcher.config`
and `watcher.errors`; never delivery, the orchestration, the daemon or the CLI.
"""
