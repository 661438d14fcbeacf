"""rewardkit.plugins.language (bundled plugin)."""
