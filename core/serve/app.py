"""The FastAPI application: native routes, OpenRLHF's and NeMo Gym's, health and metrics.

Every malformed request is answered 4xx with `{"error": "<one line>"}`; scoring failures are error outcomes
in a 200 answer, as everywhere in rewardkit. Items of one request are scored in one batch per environment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic_core import to_json
from starlette.exceptions import HTTPException

from rewardkit.adapters.openrlhf import extra_logs, label_sample, response_of, strip_end_tokens
from rewardkit.serve.config import ServerSettings
from rewardkit.serve.guard import Guard
from rewardkit.serve.metrics import Metrics
from rewardkit.serve.nemo_gym import verify_reply, verify_sample_and_text
from rewardkit.serve.protocol import BadRequest, OpenRLHFRequest, ScoreItem, ScoreRequest, parse
from rewardkit.serve.registry import SampleNotFound, Served, close_served
from rewardkit.types import RewardResult, Sample, Trajectory

logger = logging.getLogger(__name__)
Job = tuple[str, Sample, str | Trajectory]  # (served key, sample, completion or trajectory)


def create_app(served: Mapping[str, Served], settings: ServerSettings, token: str | None = None) -> Any:
    """The ASGI application over `served` (already set up; closed when the application shuts down)."""
    scoring = Scoring(served, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        await asyncio.to_thread(close_served, served)

    app = FastAPI(title="rewardkit serve", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.scoring = scoring
    _handlers(app)
    _routes(app, scoring)
    return Guard(app, token, int(settings.max_body_mb * (1 << 20)))


class Scoring:
    """What the routes share: the environments, the limits, the metrics."""

    def __init__(self, served: Mapping[str, Served], settings: ServerSettings) -> None:
        self.served = dict(served)
        self.settings = settings
        self.metrics = Metrics()

    def env(self, key: str, where: str) -> Served:
        if key not in self.served:
            raise BadRequest(
                f"{where}: no environment {key!r} is served; served: {', '.join(self.served)}", 404
            )
        return self.served[key]

    def only_env(self, route: str) -> Served:
        if len(self.served) != 1:
            raise BadRequest(f"{len(self.served)} environments are served; use {route}/<environment>", 404)
        return next(iter(self.served.values()))

    def check(self, served: Served, sample: Sample, completion: str, where: str) -> None:
        problem = served.env.sample_format.problem(sample)
        if problem is not None:
            raise BadRequest(f"{where}: a {served.key} sample {problem} (GET /v1/envs lists the fields)")
        if len(completion) > self.settings.max_completion_chars:
            raise BadRequest(
                f"{where}: completion of {len(completion)} characters is over the server's cap of "
                f"{self.settings.max_completion_chars}",
                413,
            )

    def deadline(self, requested: float | None) -> float:
        return min(requested or self.settings.request_timeout, self.settings.request_timeout)

    async def score(self, jobs: Sequence[Job], deadline: float) -> list[RewardResult]:
        """Score every job, one batch per environment; what is unfinished at the deadline is an error."""
        if len(jobs) > self.settings.max_items:
            raise BadRequest(
                f"{len(jobs)} items are over the server's cap of {self.settings.max_items} per request", 413
            )
        groups: dict[str, list[int]] = defaultdict(list)
        for index, (key, _, _) in enumerate(jobs):
            groups[key].append(index)
        tasks = {
            key: asyncio.ensure_future(
                _score_group(self.served[key], [jobs[i][1] for i in indices], [jobs[i][2] for i in indices])
            )
            for key, indices in groups.items()
        }
        await asyncio.wait(tasks.values(), timeout=deadline)
        results: list[RewardResult] = [RewardResult(None)] * len(jobs)
        for key, task in tasks.items():
            batch = _finished(task, len(groups[key]), deadline)
            self.metrics.count(key, batch)
            for index, result in zip(groups[key], batch, strict=True):
                results[index] = result
        return results

    async def resolve(self, item: ScoreItem, where: str) -> Job:
        served = self.env(item.env, f"{where}.env")
        if item.sample is not None:
            sample = item.sample.to_sample()
        else:
            sample = await self._lookup(served, str(item.sample_id), item.split, where)
        try:
            answer = item.answer()
        except (ValueError, TypeError, KeyError) as error:
            raise BadRequest(f"{where}.trajectory: {error}") from None
        self.check(served, sample, answer if isinstance(answer, str) else answer.completion, where)
        return served.key, sample, answer

    async def _lookup(self, served: Served, sample_id: str, split: str | None, where: str) -> Sample:
        try:
            return await asyncio.to_thread(served.sample, sample_id, split, self.settings.max_scan)
        except SampleNotFound as error:
            raise BadRequest(f"{where}.sample_id: {error}", 404) from None
        except Exception as error:  # the dataset cannot be read here (offline hub data, a bad split)
            raise BadRequest(f"{where}.sample_id: cannot read {served.key}'s dataset: {error}", 422) from None


async def _score_group(
    served: Served, samples: list[Sample], answers: list[str | Trajectory]
) -> list[RewardResult]:
    """One environment's items in one batch: completions through its Scorer's `score_batch`; trajectories
    (and completions beside them) scored whole, as eval and rescore score stored episodes."""
    if all(isinstance(answer, str) for answer in answers):
        return await served.scorer.score_batch(samples, cast(list[str], answers))
    trajectories = [Trajectory.single(a) if isinstance(a, str) else a for a in answers]
    return await served.scorer.score_trajectories(samples, trajectories)


def _finished(task: asyncio.Future[list[RewardResult]], size: int, deadline: float) -> list[RewardResult]:
    if not task.done():
        task.cancel()
        return [
            RewardResult.failure(f"the request's deadline of {deadline:g}s passed", kind="timeout")
        ] * size
    if task.exception() is not None:
        error = task.exception()
        return [RewardResult.failure(f"scoring failed: {type(error).__name__}: {error}")] * size
    return task.result()


def _json(payload: Any, status: int = 200) -> Response:
    # pydantic-core's encoder is faster than the stdlib's (a reply is encoded on the serving thread), and
    # a non-finite number that slipped past the host's checks becomes null instead of failing the reply
    return Response(to_json(payload, inf_nan_mode="null"), status, media_type="application/json")


def _error(message: str, status: int) -> Response:
    return _json({"error": message}, status)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, error: BadRequest) -> Response:
        return _error(str(error), error.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        return _error(str(error.detail), error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        return _error(f"{'.'.join(map(str, first['loc']))}: {first['msg']}", 422)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> Response:
        logger.exception("rewardkit serve: unexpected error on %s", request.url.path)
        return _error(f"internal error: {type(error).__name__}: {error}"[:300], 500)


Handler = Callable[[Request], Awaitable[Any]]


def _routes(app: FastAPI, scoring: Scoring) -> None:
    metrics = scoring.metrics

    def timed(route: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            metrics.in_flight.inc()
            try:
                response = _json(await handler(request))
            except BadRequest as error:
                response = _error(str(error), error.status)
            finally:
                metrics.in_flight.dec()
            metrics.requests.labels(route, str(response.status_code)).inc()
            metrics.seconds.labels(route).observe(time.perf_counter() - started)
            return response

        return endpoint

    async def score(request: Request) -> Any:
        body = parse(ScoreRequest, await request.body())
        jobs = [await scoring.resolve(item, f"items.{i}") for i, item in enumerate(body.items)]
        results = await scoring.score(jobs, scoring.deadline(body.timeout))
        return {"results": [result.to_dict() for result in results]}

    async def openrlhf(request: Request) -> Any:
        key = request.path_params.get("env")
        served = scoring.env(key, "path") if key else scoring.only_env("/openrlhf")
        body = parse(OpenRLHFRequest, await request.body())
        labels = body.labels if body.labels is not None else [None] * len(body.query)
        jobs = []
        for i, (query, prompt, label) in enumerate(zip(body.query, body.prompts, labels, strict=True)):
            sample, completion = label_sample(label, i), strip_end_tokens(response_of(query, prompt))
            scoring.check(served, sample, completion, f"labels.{i}")
            jobs.append((served.key, sample, completion))
        results = await scoring.score(jobs, scoring.deadline(None))
        rewards = [r.score if r.score is not None else 0.0 for r in results]
        return {"rewards": rewards, "scores": rewards, "extra_logs": extra_logs(served.key, results)}

    async def verify(request: Request) -> Any:
        key = request.path_params.get("env")
        served = scoring.env(key, "path") if key else scoring.only_env("/nemo_gym")
        try:
            body = json.loads(await request.body())
        except ValueError as error:
            raise BadRequest(f"body: not valid JSON ({error})") from None
        sample, text = verify_sample_and_text(body)
        scoring.check(served, sample, text, "body")
        (result,) = await scoring.score([(served.key, sample, text)], scoring.deadline(None))
        return verify_reply(body, result)

    async def envs(request: Request) -> Any:
        return {"environments": [item.describe() for item in scoring.served.values()]}

    async def health(request: Request) -> Any:
        return {"status": "ok", "environments": list(scoring.served)}

    app.add_api_route("/v1/score", timed("/v1/score", score), methods=["POST"])
    app.add_api_route("/openrlhf", timed("/openrlhf", openrlhf), methods=["POST"])
    app.add_api_route("/openrlhf/{env}", timed("/openrlhf", openrlhf), methods=["POST"])
    app.add_api_route("/verify", timed("/verify", verify), methods=["POST"])
    app.add_api_route("/nemo_gym/{env}/verify", timed("/verify", verify), methods=["POST"])
    app.add_api_route("/v1/envs", timed("/v1/envs", envs), methods=["GET"])
    app.add_api_route("/health", timed("/health", health), methods=["GET"])

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")
