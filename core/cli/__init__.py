"""The `rewardkit` command line."""
