"""Where items come from: files and directories (read, documents), guarded HTTP (fetch), feed bytes (parse,
in the sandboxed worker processes of sandbox), and the text helpers they share (decode, markup).

Every byte that arrives here is untrusted. This stage turns bytes into `watcher.items.Item`s and knows nothing
of rules, the store or delivery: it may import `watcher.items`, `watcher.config` and `watcher.errors` only.
"""
