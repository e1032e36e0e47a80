"""Calibration of the free parameters against the reported figures (calibration/targets.yaml)."""
