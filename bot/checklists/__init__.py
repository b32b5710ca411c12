"""Checklists: one module per kind (daily, ...), each building plain data from bot.metrics.
Never imports slack_*, templates or jobs."""
