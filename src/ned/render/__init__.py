"""ned.render stage."""
