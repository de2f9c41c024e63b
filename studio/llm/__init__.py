"""The one seam for every model call: providers, the embedded model, cache, logging, record and replay."""

from studio.llm.client import LLM, LLMError, LLMResult, Request, StructuredOutputError, open_llm
from studio.llm.spec import ProviderSpec, parse_spec

__all__ = ["LLM", "LLMError", "LLMResult", "ProviderSpec", "Request", "StructuredOutputError", "open_llm", "parse_spec"]
