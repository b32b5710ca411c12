"""Figures computed from the stored facts, one module per subject (inquiries, traffic, p4p,
keywords, products, orders, posts, customers, freshness). Plain data out; no messages,
no Slack, no writes except where a module says so."""
