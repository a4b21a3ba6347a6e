"""The local runtime: runs the system on one machine (``task up``)."""
