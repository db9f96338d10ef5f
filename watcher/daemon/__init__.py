"""`watcher run`: the long-running process (runner), its poll jobs (schedule), its service plumbing
(sd_notify, the instance lock and the stall guard in service), /healthz and /metrics (health) and logging
(logs).

The daemon sits on top of the orchestration (`watcher.poll`, `watcher.pipeline`) and may import every stage
below it; only `watcher.cli` imports the daemon.
"""
