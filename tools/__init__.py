"""Developer tools: generators of project docs."""
