"""authsite.devdb_planner: the pipeline and filter rewrites the development database applies."""

from __future__ import annotations

from authsite.devdb_planner import conjuncts, push_matches_forward

LOOKUP_USER = {"$lookup": {"from": "accounts_user", "localField": "user_id", "foreignField": "_id",
                           "as": "accounts_user"}}
UNWIND_USER = {"$unwind": "$accounts_user"}
LEFT_JOIN_SET = {"$set": {"mfa_totpdevice": {"$cond": {"if": True, "then": [{}], "else": "$x"}}}}


def test_match_on_base_fields_moves_ahead_of_the_joins():
    match = {"$match": {"$and": [{"id": "abc"}, {"$or": [{"revoked_at": None}]}]}}
    pipeline = [LOOKUP_USER, UNWIND_USER, LEFT_JOIN_SET, match, {"$limit": 1}]

    assert push_matches_forward(pipeline) == [match, LOOKUP_USER, UNWIND_USER, LEFT_JOIN_SET, {"$limit": 1}]


def test_match_reading_a_joined_field_stays_after_its_join():
    match = {"$match": {"accounts_user.is_active": True, "id": "abc"}}
    pipeline = [LOOKUP_USER, UNWIND_USER, match]

    assert push_matches_forward(pipeline) is pipeline


def test_match_moves_only_past_the_stages_it_does_not_depend_on():
    match = {"$match": {"accounts_user.email": "a@example.com"}}
    lookup_device = {"$lookup": {"from": "mfa_totpdevice", "localField": "user_id",
                                 "foreignField": "user_id", "as": "mfa_totpdevice"}}
    pipeline = [LOOKUP_USER, UNWIND_USER, lookup_device, match]

    assert push_matches_forward(pipeline) == [LOOKUP_USER, UNWIND_USER, match, lookup_device]


def test_match_never_crosses_sort_limit_group_or_project():
    for barrier in ({"$sort": {"id": 1}}, {"$limit": 1}, {"$group": {"_id": "$id"}}, {"$project": {"id": 1}}):
        pipeline = [LOOKUP_USER, barrier, {"$match": {"id": "abc"}}]
        assert push_matches_forward(pipeline) is pipeline, barrier


def test_match_with_expr_or_variables_is_left_alone():
    match = {"$match": {"$expr": {"$eq": ["$id", "$$x"]}}}
    pipeline = [LOOKUP_USER, match]

    assert push_matches_forward(pipeline) is pipeline


def test_conjuncts_flattens_nested_and_and_skips_other_operators():
    filter_ = {"$and": [
        {"confirmed": True},
        {"$and": [{"last_step": {"$lt": 9}}, {"$and": [{"last_step": {"$ne": None}}]}]},
        {"$or": [{"revoked_at": None}, {"revoked_at": {"$exists": False}}]},
        {"id": "abc"},
    ]}

    assert conjuncts(filter_) == {"confirmed": True, "last_step": {"$lt": 9}, "id": "abc"}
