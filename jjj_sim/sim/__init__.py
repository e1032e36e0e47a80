"""The model layer: the world (places, sectors, rail), the firm population, the policy levers,
the behaviour rules, the Mesa model, its indicators and event log. Imports only jjj_sim.core.
"""
