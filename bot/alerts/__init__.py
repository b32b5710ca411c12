"""Alerting: the detector, the incident lifecycle and (in rules/) one module per rule.
Never imports slack_*, templates or jobs: messages are made in jobs/."""
