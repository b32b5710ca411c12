"""Ingesting data drops: report kinds, readers, value parsing, the drop writer.

Imports core modules (models, storage, stores, periods) and bot.metrics.freshness's kind
lists; never slack_*, templates or jobs."""
