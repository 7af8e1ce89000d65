"""The partner sandbox (sandbox mode only): a test clock and fault switches per practice group."""
