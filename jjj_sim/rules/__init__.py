"""Behavioural rules, applied each quarter in this order (see docs/ODD.md):

closure -> relocation -> branching -> entry and exit (demography) -> technology transfer.
Each rule first decides *who* acts with a hazard (``hazard``), then, where firms move,
*where to* with the location-choice model (``choice``), following UrbanSim's split of
relocation from location choice.
"""
