"""Tooling: the demo store generator (realistic back-office exports). Not part of the domain."""
