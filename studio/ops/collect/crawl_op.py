"""The crawl operation (registry entry): arguments, result, and the run.

Settings a crawl keeps between runs (max pages, depth, rate, ...) default to what the crawl
being resumed was started with, else to `CrawlSettings`; so here an unset argument is None and
the defaults stay written once, in `CrawlSettings`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from studio.errors import StudioError
from studio.ops.collect.crawl import CrawlProgress, CrawlResult, CrawlSettings, run_crawl
from studio.ops.collect.urls import host_key
from studio.ops.registry import Args, OpContext, Result, operation

_D = CrawlSettings.model_fields
HIDDEN = {"agent": False}  # an option for people; the agent's tool schema leaves it out


def _default(name: str) -> str:
    return f"(default {_D[name].default}, or what the resumed crawl used)"


class CrawlArgs(Args):
    seeds: list[str] = Field(
        default_factory=list, description="start URLs (http or https)", json_schema_extra={"cli": "argument"}
    )
    max_pages: int | None = Field(
        None, ge=1, description=f"pages to request over the whole crawl {_default('max_pages')}"
    )
    depth: int | None = Field(None, ge=0, le=10, description=f"links to follow from a seed {_default('max_depth')}")
    allow: list[str] = Field(
        default_factory=list,
        description="also crawl URLs matching this glob (https://docs.example.org/*) or host (example.org, "
        "subdomains included); without it only the seeds' hosts are crawled",
        json_schema_extra=HIDDEN,
    )
    rate: float | None = Field(
        None,
        ge=0,
        description=f"requests per second per host, 0 = no delay {_default('rate')}",
        json_schema_extra=HIDDEN,
    )
    concurrency: int | None = Field(
        None,
        ge=1,
        le=64,
        description=f"requests in flight per host {_default('concurrency')}",
        json_schema_extra=HIDDEN,
    )
    timeout: float | None = Field(
        None, gt=0, description=f"seconds to wait for data {_default('read_timeout')}", json_schema_extra=HIDDEN
    )
    max_bytes: int | None = Field(
        None, ge=1024, description=f"largest page body kept, in bytes {_default('max_bytes')}", json_schema_extra=HIDDEN
    )
    keep_near_duplicates: bool = Field(
        False,
        description="store near-duplicate pages too (marked in provenance); default: skip them",
        json_schema_extra=HIDDEN,
    )
    resume: bool = Field(
        False, description="continue the newest unfinished crawl (no seeds needed)", json_schema_extra=HIDDEN
    )

    @model_validator(mode="after")
    def _seeds_or_resume(self) -> CrawlArgs:
        if not self.seeds and not self.resume:
            raise ValueError("give at least one seed URL (studio crawl https://example.org/), or --resume")
        return self

    def overrides(self) -> dict[str, Any]:
        """The settings this run sets; the rest come from the resumed crawl or the defaults."""
        given = {"max_pages": self.max_pages, "max_depth": self.depth, "rate": self.rate,
                 "concurrency": self.concurrency, "read_timeout": self.timeout, "max_bytes": self.max_bytes}  # fmt: skip
        out: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if self.allow:
            out["allow"] = list(self.allow)
        if self.keep_near_duplicates:
            out["near_duplicates"] = "keep"
        return out


class CrawlOpResult(CrawlResult, Result):
    def summary(self) -> str:
        n = self.counts
        unreachable = self.robots.get("unreachable", 0)
        return (
            f"Crawl {self.crawl_id} {'(resumed) ' if self.resumed else ''}{self.outcome}: "
            f"{n['fetched']} pages fetched, {n['stored']} stored, {n['duplicates']} duplicates, "
            f"{n['near_duplicates']} near-duplicates, {n['skipped']} skipped, "
            f"{self.robots.get('disallowed', 0)} blocked by robots.txt, "
            + (f"{unreachable} not fetched because their host could not be reached, " if unreachable else "")
            + f"{n['failed']} failed ({n['retried']} retries) in {self.elapsed_s:.1f} s."
        )


@operation(
    "crawl",
    args=CrawlArgs,
    result=CrawlOpResult,
    help="fetch web pages politely (robots.txt, rate limits) from seed URLs into documents.",
    agent=True,
)
def crawl_op(ctx: OpContext, args: CrawlArgs) -> CrawlOpResult:
    def progress(p: CrawlProgress) -> None:
        ctx.report("crawl", p.fetched, p.max_pages)

    from studio.ops.collect.recording import RecordingTransport

    # Fetched responses are session events (the session replays offline), unless the caller
    # brings its own transport (a replay, or a recording it makes itself).
    transport = ctx.transport if ctx.transport is not None else RecordingTransport(ctx.store)
    result = run_crawl(
        ctx.store, list(args.seeds) or None, args.overrides(), resume=args.resume, transport=transport,
        on_progress=progress, cancel=ctx.cancel, handle_sigint=True,
    )  # fmt: skip
    out = CrawlOpResult.model_validate(result.model_dump())
    if result.robots.get("unreachable") and not result.counts["fetched"]:
        # Not "blocked by robots.txt": the host gave no answer (or a server error) even for robots.txt.
        hosts = ", ".join(sorted({host_key(s) for s in result.seeds})) or "the seeds' hosts"
        raise StudioError(
            f"could not reach {hosts}: nothing was fetched (no connection, or the server answered robots.txt "
            "with an error); check the URL and the network, then run the crawl again"
        )
    return out
