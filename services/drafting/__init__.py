"""Drafting: brief -> a draft that fits its platform, written by an LLM, durably.

drafter.py   Drafter: the prompts, the LLM call, cleaning, the re-prompt of an over-long
             draft
llm.py       LLMClient: providers in fallback order through litellm, each behind a breaker
cost.py      what an LLM call cost, by litellm's own cost calculation (None: unknown)
budget.py    SOCIALPOST_LLM_MONTHLY_BUDGET: UTC months, the check before drafting, the 80%
             warning once a month
job.py       Drafting: the `draft` job (queued with the post's change, resumed after a
             crash; at most 8 at once)
"""
