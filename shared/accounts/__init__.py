"""Accounts: users, roles, passwords, tokens, invites, quotas."""
