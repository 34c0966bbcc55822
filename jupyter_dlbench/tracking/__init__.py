"""Tracking layer: runs write journals; ingestion folds them into the catalog."""
