"""Whether a text may be published on a platform: the one place that says so.

Every draft and every edit goes through `check` (from async code: `check_async`, which runs it
off the event loop). It joins the platform's own rules (length, refused characters, hashtags:
`services.platforms`) and the content policy (`services.checks.policy`: blocked terms, allowed
link domains, links found the way the platform finds them) into one `CheckResult`: a list of
`Finding`s, each a problem in plain words, and the text is publishable when there are none.

Findings say what is wrong, not what to do about it (the Slack layer words the card line and
the refusal, SPEC section 7.4); their `problem` is what the re-prompt names to the LLM too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.checks.policy import ContentPolicy
from services.platforms import measure_draft, spec_for
from services.platforms.base import Measurement
from services.platforms.budget import off_loop

__all__ = ["CheckResult", "ContentPolicy", "Finding", "Rule", "check", "check_async"]

LINKS_TOO_COMPLEX = "too complex to check its links in time (simplify it)"


class Rule(StrEnum):
    """Which kind of rule a finding breaks."""

    PLATFORM = "platform"
    """The platform's own rules: length, refused characters, hashtags."""
    BLOCKED_TERM = "blocked_term"
    LINK = "link"


@dataclass(frozen=True)
class Finding:
    """One reason a text can't be published as it is."""

    rule: Rule
    problem: str
    """In plain words, e.g. "contains the blocked term “crypto”"."""
    subject: str = ""
    """What the problem is about (the term as configured, the host), for tests and logs."""

    @property
    def is_policy(self) -> bool:
        """Whether the content policy (not the platform) makes this a problem."""
        return self.rule is not Rule.PLATFORM


def blocked_term(term: str) -> Finding:
    """The finding for a blocked term the text contains."""
    return Finding(Rule.BLOCKED_TERM, f"contains the blocked term “{term}”", term)


def disallowed_link(host: str) -> Finding:
    """The finding for a link to a domain outside the allowed ones."""
    return Finding(Rule.LINK, f"links to {host}, which is not allowed", host)


@dataclass(frozen=True)
class CheckResult:
    """A text checked for one platform: its measurement and every problem found."""

    measurement: Measurement
    findings: tuple[Finding, ...]

    @property
    def publishable(self) -> bool:
        """Whether nothing stands in the way of publishing the text."""
        return not self.findings

    @property
    def policy_findings(self) -> tuple[Finding, ...]:
        """The content-policy problems only (the platform's are in the measurement too)."""
        return tuple(finding for finding in self.findings if finding.is_policy)

    @property
    def policy_problem(self) -> str | None:
        """Every content-policy problem in one phrase, or None when there are none."""
        problems = [finding.problem for finding in self.policy_findings]
        return "; ".join(problems) if problems else None

    @property
    def problems(self) -> tuple[str, ...]:
        """Every problem, the platform's first."""
        return tuple(finding.problem for finding in self.findings)


def policy_findings(slug: str, text: str, policy: ContentPolicy) -> list[Finding]:
    """What the content policy finds wrong with `text` on the platform `slug`."""
    findings = [blocked_term(term) for term in policy.blocked_terms_in(text)]
    if policy.checks_links:
        links = spec_for(slug).find_links(text)
        if links is None:
            findings.append(Finding(Rule.LINK, LINKS_TOO_COMPLEX))
        else:
            findings += [disallowed_link(host) for host in policy.disallowed_hosts(links)]
    return findings


def check(slug: str, text: str, policy: ContentPolicy, *, thread: bool = False) -> CheckResult:
    """Whether `text` may be published on the platform `slug` (as a thread, if `thread`).

    Bounded like the platform's measuring: from the event loop, await `check_async`.
    """
    measurement = measure_draft(slug, text, thread=thread)
    findings = [Finding(Rule.PLATFORM, problem) for problem in measurement.problems]
    findings += policy_findings(slug, text, policy)
    return CheckResult(measurement=measurement, findings=tuple(findings))


async def check_async(
    slug: str, text: str, policy: ContentPolicy, *, thread: bool = False
) -> CheckResult:
    """`check`, computed off the event loop (the slow parts are cached for the loop)."""
    return await off_loop(check, slug, text, policy, thread=thread)
