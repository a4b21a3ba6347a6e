"""Protostar's common library: every function imports it, nothing else holds business logic."""
