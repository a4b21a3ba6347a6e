"""The audit log: append-only, hash-chained JSON-line files, one per UTC day.

``chain`` seals and checks lines (no I/O), ``entry`` turns a CloudEvent into what is
recorded, ``log`` appends under a file lock with a rebuildable index of event ids,
``verify`` checks every chain (``task audit:verify``).
"""
