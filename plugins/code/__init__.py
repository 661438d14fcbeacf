"""rewardkit.plugins.code (bundled plugin)."""
