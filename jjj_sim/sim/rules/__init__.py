"""Behavioural rules, applied each quarter in this order (see docs/ODD.md):

closure campaign -> relocation -> branching -> entry and exit (demography) -> Hebei's own
structural change (de-capacity, high-tech upgrading) -> technology contracts.
Each rule that moves firms first decides *who* acts (a hazard, ``hazard``, or the campaign's
list), then *where to* with the location-choice model (``choice``), following UrbanSim's split
of relocation from location choice.
"""
