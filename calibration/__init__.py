"""Calibration targets and fitted parameters, shipped as package jjj_sim.calibration_data
(jjj_sim/core/resources.py)."""
