"""Time on the card: posts scheduled for a moment, approval reminders and expiry.

Everything here is work with a future `run_at` on the jobs queue; `rules` holds the pure
decisions those jobs and the handlers make (is a time acceptable, is a scheduled post on
time, late or missed, when is a draft reminded and when does it expire).
"""
