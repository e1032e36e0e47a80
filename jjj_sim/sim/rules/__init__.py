"""Behavioural rules, applied each quarter in this order (see docs/ODD.md):

closure campaign -> relocation -> branching -> entry and exit (demography) -> Hebei's own
structural change (de-capacity, high-tech upgrading) -> technology contracts.
Each rule that moves firms first decides *who* acts (a hazard, ``hazard``, or the campaign's
list), then *where to* with the location-choice model (``choice``), following UrbanSim's split
of relocation from location choice.

Each rule takes a narrow context, a frozen dataclass in its module (``ClosureContext``,
``RelocationContext``, ``BranchingContext``, ``DemographyContext``, ``HebeiContext``,
``TechnologyContext``): the state it reads, named as on the model (``firms``, ``places``,
``policy_state``, ``params``, ...), its own random stream (``stream``) and, for the rules that
change the firm table, ``changes`` (``changes.FirmChanges``: the model's ``add_firms``,
``move_firms``, ``remove_firms``, ...). State a rule carries between quarters is passed in and
returned. ``choice`` and ``hazard`` are helpers with plain arguments.
"""
