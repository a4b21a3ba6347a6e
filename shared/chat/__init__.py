"""Answering: hybrid retrieval, grounded answers (extractive, Gemini or an
OpenAI-compatible model), output filtering, conversations and feedback."""
