"""rewardkit.plugins.ifeval (bundled plugin)."""
