"""The rule language: YAML rule files (load, entitydefs, conditions, model), the built-in country entities
(gazetteer), the compiled matching engine (engine, scan, prefilter, nodes, doc, literal) and its
reports (report, entities).

Rules may import `watcher.items`, `watcher.config` and `watcher.errors`; never the store, delivery, sources,
the orchestration, the daemon or the CLI.
"""
