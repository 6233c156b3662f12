"""The `llm-usage` command line: a thin entry over orchestration/ and readers/."""
