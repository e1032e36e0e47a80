"""``python -m jjj_sim.dashboard``: the same as ``jjj-sim-dashboard``."""

from jjj_sim.dashboard import main

if __name__ == "__main__":
    main()
