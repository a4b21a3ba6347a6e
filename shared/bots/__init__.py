"""Bots: a protostar's career bot and the public view its widget reads.

``validation`` holds the rules for every field (no I/O); ``service`` stores bots under
row-level security, one transaction per change, scoped to the owner.
"""
