"""rewardkit.plugins.judge (bundled plugin)."""
