"""Sandbox backends registered through the register_sandboxes hook."""
