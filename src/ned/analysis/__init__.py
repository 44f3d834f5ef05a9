"""ned.analysis: per-frame face analysis of a clip (MediaPipe Face Landmarker backend)."""

from ned.analysis.analyze import AnalysisConfig, analyze, analyze_to_file, file_hash

__all__ = ["AnalysisConfig", "analyze", "analyze_to_file", "file_hash"]
