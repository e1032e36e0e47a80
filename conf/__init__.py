"""The configs (Hydra: pkg://jjj_sim.conf), shipped as package jjj_sim.conf (jjj_sim/core/resources.py)."""
