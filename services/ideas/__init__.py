"""Ideas on a schedule (SPEC section 7.6): the bot proposes posts of its own.

`schedule` is when (cron in a time zone), `models` what an idea is and how the LLM's answer is
read, `similarity` when an idea is too close to a recent one.
"""
