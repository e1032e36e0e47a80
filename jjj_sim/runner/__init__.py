"""The runner layer: composing and checking a config (Hydra), labels and scenarios, simulating
one run or many (one job pool), ensembles of runs, the posterior, and writing a run's files.
Imports jjj_sim.sim and jjj_sim.core.
"""
