"""`make handoff`: the gate between research and production, with its report."""
