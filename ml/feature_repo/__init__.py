"""Feast definitions of gogooku3 (feast apply in this directory, or ml.feature_store from Python)."""
