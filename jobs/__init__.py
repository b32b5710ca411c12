"""The worker: the clock (scheduler), one tick of due work, the outbox sender, the drop folder.

Only `opsbot worker` / `opsbot tick` run these; the web processes never do.
"""
