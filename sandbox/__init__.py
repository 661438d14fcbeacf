"""Running untrusted code: the Sandbox interface and its backends."""
