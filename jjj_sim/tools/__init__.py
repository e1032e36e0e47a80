"""The tools: the command-line entry points (jjj-sim, compare, sensitivity, explore, validate,
calibrate, dashboard) and the sweep gatherer, on top of the runner. Nothing imports them.
"""
