"""Trainer commands registered through the register_commands hook."""
