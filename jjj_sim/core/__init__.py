"""The leaf layer: errors, the checks and bounds of user input, strict YAML, model time, random
seeds and the package's files. Imports nothing else of jjj_sim.
"""
