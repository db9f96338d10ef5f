"""The Item model and what belongs to an item alone: text normalization (normalize), where words begin and end in each script (scripts) and identity, the
content hash and copy detection (dedup).

The lowest stage of the flow but configuration: every other stage imports it; it imports only the standard
library, `watcher.config` and `watcher.errors`.
"""
