"""Slack listeners (`app`, `events`) and the transport-free command dispatcher (`commands`)."""
