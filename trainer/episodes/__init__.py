"""Multi-turn rollouts for the trainer: token-exact turn rendering, the episode driver, samples and credit."""
