"""Ingesting data drops: report kinds, readers, value parsing, the drop writer.

Imports core modules (models, storage, stores, periods), bot.metrics.freshness's kind lists
and bot.metrics.customer_index (rebuilt by each CRM, inquiry and order drop); never slack_*,
templates or jobs."""
