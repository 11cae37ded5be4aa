"""Query planning for the development database, as mongod plans the queries the site sends.

Applied by :mod:`authsite.devdb` inside the SecantusDB process only (never in the site).
SecantusDB 0.7.0b3 answers django-mongodb-backend's queries correctly but, unlike mongod, plans
two of their shapes as full collection scans, so every request on the auth path slowed down in
proportion to the number of sessions, users and devices (measured: 1 s for a refresh at 9,500
sessions; see BENCHMARKS.md):

1. A filter with several conditions arrives as ``{"$and": [{...}, {...}]}``. SecantusDB's index
   picker (``Storage._try_index_id_keys``) gives up on any top-level ``$`` key; mongod plans each
   conjunct. :func:`patch_conjunction_index_use` retries the picker with the plain
   ``{field: condition}`` conjuncts. Sound because every caller re-checks each candidate
   document against the whole filter (the picker's documented contract: index candidates may be
   a superset).
2. ``select_related()`` yields ``$lookup``/``$unwind``/``$set`` stages *before* the query's
   ``$match``. mongod moves a ``$match`` ahead of such stages when it does not read the fields they
   write (MongoDB's pipeline optimisation; SERVER-20506, SERVER-26598, SERVER-21612), so the
   session is found through its index and then joined; SecantusDB joins every document first.
   :func:`patch_match_pushdown` reorders the pipeline the same way before SecantusDB runs it,
   so its leading-``$match`` lift finds the index.
3. An ``Exists()`` subquery becomes a ``$lookup`` with only a sub-pipeline
   (``[{"$match": {"mfa_jti": ...}}, ...]``). SecantusDB feeds the whole foreign collection into
   it for every outer document; mongod runs the sub-pipeline's leading ``$match`` as a query.
   :func:`patch_lookup_subpipeline_match` fetches through that ``$match`` when it reads no
   variables, and runs the rest of the sub-pipeline on the result.

Neither changes a result, only which documents are read.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

_CONJUNCTIONS = ("$and",)
_LOGICAL = ("$and", "$or", "$nor")
# Stages that transform one document at a time: a filter on fields they do not write commutes.
_PER_DOCUMENT = ("$lookup", "$unwind", "$set", "$addFields")


def conjuncts(filter_: dict[str, Any]) -> dict[str, Any]:
    """The ``{field: condition}`` conjuncts of a filter, flattened out of nested ``$and``s.

    Any subset of the conjuncts selects a superset of the documents, which is all an index
    candidate set must be. A field met twice keeps its first condition.
    """
    out: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key in _CONJUNCTIONS and isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(key, str) and not key.startswith("$"):
                out.setdefault(key, value)

    walk(filter_)
    return out


def patch_conjunction_index_use() -> None:
    """Planner gap 1: let a ``$and`` filter use an index on one of its conjuncts. Idempotent."""
    from secantus.storage import Storage

    for name in ("_try_index_id_keys", "_pick_index_for_filter"):
        original: Callable[..., Any] = getattr(Storage, name)
        if getattr(original, "_devdb_patched", False):
            continue

        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            def planned(self: Any, db: str, coll: str, filter: Any, *args: Any, **kwargs: Any) -> Any:
                found = original(self, db, coll, filter, *args, **kwargs)
                if found is None and isinstance(filter, dict) and "$and" in filter:
                    flat = conjuncts(filter)
                    if flat:
                        found = original(self, db, coll, flat, *args, **kwargs)
                    # As _try_index_id_keys's own last resort: one conjunct that rides an index.
                    for field, condition in flat.items() if found is None else ():
                        found = original(self, db, coll, {field: condition}, *args, **kwargs)
                        if found is not None:
                            break
                return found

            planned._devdb_patched = True  # type: ignore[attr-defined]
            return planned

        setattr(Storage, name, make(original))


def _match_fields(expr: Any) -> set[str] | None:
    """Top-level field names a ``$match`` filter reads; None if it may read anything."""
    if not isinstance(expr, dict):
        return None
    fields: set[str] = set()
    for key, value in expr.items():
        if not isinstance(key, str):
            return None
        if key in _LOGICAL:
            if not isinstance(value, list):
                return None
            for item in value:
                inner = _match_fields(item)
                if inner is None:
                    return None
                fields |= inner
        elif key.startswith("$"):  # $expr, $where, $text, $jsonSchema...: not analysed
            return None
        else:
            fields.add(key.split(".", 1)[0])
    return fields


def _written_fields(stage: dict[str, Any]) -> set[str] | None:
    """Top-level fields a per-document stage writes; None if it is not one we can move past."""
    if len(stage) != 1:
        return None
    (name, spec), = stage.items()
    if name == "$lookup" and isinstance(spec, dict) and isinstance(spec.get("as"), str):
        return {spec["as"].split(".", 1)[0]}
    if name == "$unwind":
        path = spec.get("path") if isinstance(spec, dict) else spec
        if not isinstance(path, str) or not path.startswith("$"):
            return None
        written = {path[1:].split(".", 1)[0]}
        if isinstance(spec, dict) and isinstance(spec.get("includeArrayIndex"), str):
            written.add(spec["includeArrayIndex"].split(".", 1)[0])
        return written
    if name in ("$set", "$addFields") and isinstance(spec, dict):
        return {str(k).split(".", 1)[0] for k in spec}
    return None


def push_matches_forward(pipeline: list[Any]) -> list[Any]:
    """The pipeline with each ``$match`` moved ahead of the per-document stages before it
    (``$lookup``, ``$unwind``, ``$set``, ``$addFields``) whose written fields it does not read;
    the same list object when nothing moves."""
    stages = pipeline
    for i in range(1, len(stages)):
        stage = stages[i]
        if not (isinstance(stage, dict) and len(stage) == 1 and "$match" in stage):
            continue
        reads = _match_fields(stage["$match"])
        if reads is None:
            continue
        j = i
        while j > 0 and isinstance(stages[j - 1], dict):
            written = _written_fields(stages[j - 1])
            if written is None or written & reads:
                break
            j -= 1
        if j < i:
            if stages is pipeline:
                stages = list(pipeline)
            stages.insert(j, stages.pop(i))
    return stages


def patch_match_pushdown() -> None:
    """Planner gap 2: reorder every aggregate pipeline before SecantusDB runs it. Idempotent."""
    from secantus import commands

    original: Callable[..., Any] = commands._HANDLERS["aggregate"]
    if getattr(original, "_devdb_patched", False):
        return

    @functools.wraps(original)
    def aggregate(doc: dict[str, Any], ctx: Any) -> Any:
        pipeline = doc.get("pipeline")
        if isinstance(pipeline, list) and len(pipeline) > 1:
            reordered = push_matches_forward(pipeline)
            if reordered is not pipeline:
                doc = {**doc, "pipeline": reordered}
        return original(doc, ctx)

    aggregate._devdb_patched = True  # type: ignore[attr-defined]
    commands._HANDLERS["aggregate"] = aggregate
    commands._aggregate = aggregate  # the explain command calls it by its module name

    original_explain: Callable[..., Any] = commands._HANDLERS["explain"]

    @functools.wraps(original_explain)
    def explain(doc: dict[str, Any], ctx: Any) -> Any:
        inner = doc.get("explain")
        if isinstance(inner, dict) and "aggregate" in inner and isinstance(inner.get("pipeline"), list):
            reordered = push_matches_forward(inner["pipeline"])
            if reordered is not inner["pipeline"]:
                doc = {**doc, "explain": {**inner, "pipeline": reordered}}
        return original_explain(doc, ctx)

    commands._HANDLERS["explain"] = explain


def patch_lookup_subpipeline_match() -> None:
    """Planner gap 3: an uncorrelated sub-pipeline's leading ``$match`` selects the foreign
    documents through the index picker. Idempotent."""
    from secantus import aggregate

    original: Callable[..., Any] = aggregate._stage_lookup_pipeline
    if getattr(original, "_devdb_patched", False):
        return

    @functools.wraps(original)
    def lookup(
        ctx: Any, docs: list[dict[str, Any]], from_coll: str, as_field: str, let_spec: Any,
        sub_pipeline: list[Any], full_spec: Any,
    ) -> list[dict[str, Any]]:
        lead = sub_pipeline[0] if sub_pipeline else None
        if (
            full_spec.get("localField") is not None
            or full_spec.get("foreignField") is not None
            or not (isinstance(lead, dict) and len(lead) == 1 and isinstance(lead.get("$match"), dict))
            or _match_fields(lead["$match"]) is None  # may read $$variables: per document
        ):
            return original(ctx, docs, from_coll, as_field, let_spec, sub_pipeline, full_spec)
        # As the original's pure-pipeline branch, with the leading $match run as the fetch.
        foreign = ctx.storage.find_matching(ctx.db_name, from_coll, dict(lead["$match"]))
        rest = sub_pipeline[1:]
        folds = aggregate._switch_fold_candidates(rest, [])
        out = []
        for doc in docs:
            bound = {
                name: aggregate.evaluate_or_missing(expr, doc, ctx.vars) for name, expr in let_spec.items()
            }
            joined = aggregate.apply_pipeline(
                list(foreign), rest, ctx.with_vars(bound), fold_candidates=folds
            )
            new = copy.deepcopy(doc)
            aggregate._set_as_field(new, as_field, joined)
            out.append(new)
        return out

    lookup._devdb_patched = True  # type: ignore[attr-defined]
    aggregate._stage_lookup_pipeline = lookup
