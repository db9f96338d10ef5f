"""The Item model and what belongs to an item alone: text normalization (normalize), where words and
sentences begin and end in each script (scripts, sentences), identity, the content hash and copy detection
(dedup), and the fingerprints that tell whether two texts are one story (stories).

The lowest stage of the flow but configuration: every other stage imports it; it imports only the standard
library, its own libraries (numpy for MinHash), `watcher.config` and `watcher.errors`.
"""
