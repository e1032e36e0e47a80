"""``python -m jjj_sim.tools.dashboard``: the same as ``jjj-sim-dashboard``."""

from jjj_sim.tools.dashboard import main

if __name__ == "__main__":
    main()
