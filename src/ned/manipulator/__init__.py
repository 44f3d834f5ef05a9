"""ned.manipulator stage."""
