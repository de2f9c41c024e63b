"""Studio: a terminal data studio where an LLM agent helps a person build a labeled dataset."""

__version__ = "0.1.0"
