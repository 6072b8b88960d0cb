"""Webhooks: every lifecycle event of a post, signed and delivered through the retry table.

`view` is the post as programs see it (the API shows the same); `signing` builds a message
once per event and signs each delivery attempt the Standard Webhooks way.
"""
