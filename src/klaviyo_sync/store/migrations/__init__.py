"""Alembic revisions of the store's schema; ``klaviyo_sync.store`` runs them when it opens."""
