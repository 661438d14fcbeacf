"""rewardkit.plugins.format (bundled plugin)."""
