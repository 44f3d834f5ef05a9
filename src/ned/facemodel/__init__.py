"""ned.facemodel stage."""
