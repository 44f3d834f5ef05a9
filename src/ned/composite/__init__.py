"""ned.composite stage."""
