"""Bundled plugins, each registered through rewardkit's own entry points exactly like a third-party one."""
