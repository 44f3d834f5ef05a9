"""ned.render: renderers that draw the edited face (train-free warp; neural renderer)."""
