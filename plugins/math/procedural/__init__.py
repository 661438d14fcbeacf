"""Procedural (generated) math problems."""
