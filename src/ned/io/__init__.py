"""ned.io stage."""
