"""Services own every change to a case. Nothing here commits: the caller's unit of work
commits once, so a transition, its event, clocks, notices and outbox rows land together."""
