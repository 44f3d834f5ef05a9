"""ned.metrics stage."""
