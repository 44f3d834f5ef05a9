"""ned.analysis stage."""
