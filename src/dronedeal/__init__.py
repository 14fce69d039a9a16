"""dronedeal: runs a reciprocal drone deal end to end, openly and verifiably."""
