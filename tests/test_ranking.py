"""Ranking: merged neighbour lists, fused scores, regions, calibration thresholds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from index.evaluation.fitting import calibrate, threshold_at
from index.evaluation.metrics import QueryOutcome
from index.matching.precision import Targets
from index.matching.ranking import Scoring, against_rivals, best_per_image, fuse, rerank
from index.matching.verdict import DesignHit
from index.matching.verification import Verification
from model.regions import grid_windows, regional_descriptors


def test_best_per_image_keeps_the_best_score_of_each_id() -> None:
    scores, ids = best_per_image(
        [np.array([0.9, 0.5]), np.array([0.7, 0.6, 0.1])], [np.array([1, 2]), np.array([2, 3, -1])]
    )
    assert ids.tolist() == [1, 2, 3]
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.6])


def test_fuse_saturates() -> None:
    assert fuse(0.4, 0, 50) == pytest.approx(0.4)
    assert fuse(0.4, 25, 50) == pytest.approx(0.9)
    assert fuse(0.4, 500, 50) == pytest.approx(1.4)


def test_rerank_promotes_the_verified_candidate() -> None:
    hits = [DesignHit(1, 10, 0.6), DesignHit(2, 20, 0.5), DesignHit(3, 30, 0.4)]
    points = np.zeros((40, 2), dtype=np.float32)
    verified = Verification(np.arange(40), points, points, np.eye(3))
    ranked = rerank(hits, [None, verified, None], Scoring(50))
    assert [r.hit.design_pk for r in ranked] == [2, 1, 3]
    assert ranked[0].inliers == 40 and ranked[0].appearance == pytest.approx(0.5)
    assert ranked[0].score == pytest.approx(1.3)


def test_grid_windows_cover_the_map_with_overlap() -> None:
    windows = grid_windows(14, 10, 0.5)
    assert len(windows) == 9
    assert {(top, left) for top, left, _, _ in windows} >= {(0, 0), (7, 5)}
    assert all(h == 7 and w == 5 for _, _, h, w in windows)
    assert grid_windows(1, 1, 0.5) == [(0, 0, 1, 1)]


def test_regional_descriptors_are_unit_rows() -> None:
    regions = regional_descriptors(torch.rand(16, 10, 10), 0.5, 3.0)
    assert regions.shape == (9, 16)
    np.testing.assert_allclose(regions.norm(dim=1).numpy(), 1.0, atol=1e-5)


def outcomes() -> list[QueryOutcome]:
    rows = [
        ("a", "a", 1.9),
        ("b", "b", 1.8),
        (None, "c", 1.7),
        ("d", "d", 1.6),
        ("e", "x", 1.2),
        (None, "y", 0.9),
    ]
    return [QueryOutcome(truth, [(pred, score)], "match") for truth, pred, score in rows]


def test_threshold_is_the_lowest_score_keeping_the_precision() -> None:
    assert threshold_at(outcomes(), 0.95) == pytest.approx(1.8)
    assert threshold_at(outcomes(), 0.70) == pytest.approx(1.6)


def test_calibrate_orders_review_below_match() -> None:
    thresholds = calibrate(outcomes(), Targets(0.95, 0.70, None))
    assert (thresholds.match, thresholds.review) == (1.8, 1.6)


def test_against_rivals_scores_each_design_by_its_lead_over_the_best_other() -> None:
    hits = [DesignHit(1, 10, 0.6), DesignHit(2, 20, 0.5), DesignHit(3, 30, 0.4)]
    points = np.zeros((40, 2), dtype=np.float32)
    verified = Verification(np.arange(40), points, points, np.eye(3))
    ranked = against_rivals(rerank(hits, [None, verified, None], Scoring(50)))
    assert [r.hit.design_pk for r in ranked] == [2, 1, 3]
    assert ranked[0].fused == pytest.approx(1.3) and ranked[0].keypoints == pytest.approx(0.8)
    assert ranked[0].rival == pytest.approx(0.6) and ranked[0].score == pytest.approx(0.7)
    assert ranked[1].score == pytest.approx(0.6 - 1.3)
    alone = against_rivals(rerank(hits[:1], [None], Scoring(50)))
    assert alone[0].score == pytest.approx(0.0) and alone[0].rival == pytest.approx(0.6)
    verified_alone = against_rivals(rerank(hits[1:2], [verified], Scoring(50)))
    assert verified_alone[0].score == pytest.approx(0.8)


def test_near_tied_look_alikes_score_near_zero() -> None:
    hits = [DesignHit(1, 10, 0.7), DesignHit(2, 20, 0.69)]
    points = np.zeros((40, 2), dtype=np.float32)
    both = [Verification(np.arange(k, k + 40), points, points, np.eye(3)) for k in (0, 40)]
    ranked = against_rivals(rerank(hits, both, Scoring(50)))
    assert ranked[0].fused > 1.4
    assert ranked[0].score == pytest.approx(0.01)


def test_inliers_at_the_edge_of_the_view_count_little() -> None:
    centre = np.full((30, 2), 50.0, dtype=np.float32)
    edge = np.tile(np.float32([[2.0, 98.0]]), (30, 1))
    hits = [DesignHit(1, 10, 0.5), DesignHit(2, 20, 0.5)]
    on_design = Verification(np.arange(30), centre, centre, np.eye(3), reference_size=(100.0, 100.0))
    on_floor = Verification(np.arange(30, 60), edge, edge, np.eye(3), reference_size=(100.0, 100.0))
    ranked = rerank(hits, [on_design, on_floor], Scoring(30, spread=0.3))
    assert ranked[0].hit.design_pk == 1 and ranked[0].keypoints == pytest.approx(1.0)
    assert ranked[1].inliers == 30 and ranked[1].keypoints < 0.1
    assert rerank(hits, [on_design, on_floor], Scoring(30))[1].keypoints == pytest.approx(1.0)


def test_a_verified_design_without_agreeing_keypoints_scores_at_most_zero() -> None:
    hits = [DesignHit(1, 10, 0.8), DesignHit(2, 20, 0.3)]
    nothing = Verification(np.zeros(0, dtype=np.int64), np.zeros((0, 2)), np.zeros((0, 2)), None)
    ranked = against_rivals(rerank(hits, [nothing, nothing], Scoring(30)))
    assert ranked[0].hit.design_pk == 1 and ranked[0].score <= 0.0
    unverified = against_rivals(rerank(hits, [None, None], Scoring(30)))
    assert unverified[0].score == pytest.approx(0.5)


def test_chance_inliers_below_the_floor_do_not_count() -> None:
    points = np.full((4, 2), 50.0, dtype=np.float32)
    chance = Verification(np.arange(4), points, points, np.eye(3))
    points = np.full((14, 2), 50.0, dtype=np.float32)
    real = Verification(np.arange(10, 24), points, points, np.eye(3))
    hits = [DesignHit(1, 10, 0.5), DesignHit(2, 20, 0.3)]
    ranked = against_rivals(rerank(hits, [chance, real], Scoring(30, floor=4.0)))
    assert ranked[0].hit.design_pk == 2 and ranked[0].keypoints == pytest.approx(10 / 30)
    chancy = next(r for r in ranked if r.hit.design_pk == 1)
    assert chancy.inliers == 4 and chancy.keypoints == 0.0 and chancy.score <= 0.0
    assert rerank(hits, [chance, real], Scoring(30))[1].keypoints == pytest.approx(4 / 30)
