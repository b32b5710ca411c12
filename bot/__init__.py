"""opsbot core: configuration, storage, ingestion, analytics and alerting (no Slack here)."""
