"""``python -m jjj_sim.tools.explore``: the same as ``jjj-sim-explore`` (MPI runs use it)."""

from jjj_sim.tools.explore import main

main()
