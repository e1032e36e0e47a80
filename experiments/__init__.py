"""The experiment files, shipped as package jjj_sim.experiments (jjj_sim/core/resources.py)."""
