"""Drafting: brief -> a draft that fits its platform, written by an LLM, durably.

drafter.py   Drafter: the prompts, the LLM call, cleaning, the re-prompt of an over-long
             draft
llm.py       LLMClient: providers in fallback order through litellm, each behind a breaker
job.py       Drafting: the `draft` job (queued with the post's change, resumed after a
             crash; at most 8 at once)
"""
