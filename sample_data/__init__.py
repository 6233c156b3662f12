"""The sample gateway-log generator: realistic traffic for demos, tests and benchmarks."""
