"""Local features and geometric verification: copies agree, strangers do not, inliers count once."""

from __future__ import annotations

import numpy as np
from PIL import Image

from index.matching.verification import Verification, nearest_two, unique_inliers, verify
from model.local import LocalConfig, LocalFeatures, extract_local
from tests.conftest import draw_design

CONFIG = LocalConfig(max_side=320, keypoints=400)


def features(image: Image.Image) -> LocalFeatures:
    return extract_local(image, CONFIG)


def test_a_rotated_smaller_copy_agrees_with_a_homography() -> None:
    original = draw_design(1, size=(480, 360))
    photo = original.rotate(20, expand=True, fillcolor=(90, 90, 90)).resize((300, 260))
    result = verify(features(photo), features(original))
    assert result.inliers >= 25
    assert result.homography is not None
    assert len(result.query_points) == len(result.reference_points) == result.inliers


def test_points_are_in_original_pixels() -> None:
    original = draw_design(2, size=(960, 720))
    result = verify(features(original), features(original))
    assert result.inliers > 20
    np.testing.assert_allclose(result.query_points, result.reference_points, atol=3)
    assert result.query_points[:, 0].max() > 320


def test_an_unrelated_design_gets_few_inliers() -> None:
    assert verify(features(draw_design(3)), features(draw_design(4))).inliers < 12


def test_a_mirrored_copy_agrees_only_when_mirrored_back() -> None:
    original = draw_design(5)
    mirrored_photo = original.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    direct = verify(features(mirrored_photo), features(original))
    flipped = verify(features(mirrored_photo).mirrored(), features(original), mirrored=True)
    assert flipped.inliers > 3 * max(direct.inliers, 5)
    assert flipped.mirrored


def test_features_round_trip_through_bytes() -> None:
    extracted = features(draw_design(6))
    again = LocalFeatures.from_bytes(extracted.to_bytes())
    np.testing.assert_array_equal(again.points, extracted.points)
    np.testing.assert_array_equal(again.descriptors, extracted.descriptors)
    assert (again.size, again.scale) == (extracted.size, extracted.scale)


def test_blank_images_have_nothing_to_verify() -> None:
    blank = Image.new("RGB", (200, 200), "white")
    assert verify(features(blank), features(draw_design(7))).inliers == 0


def fake(indices: list[int], mirrored: bool = False) -> Verification:
    points = np.zeros((len(indices), 2), dtype=np.float32)
    return Verification(np.asarray(indices), points, points, np.eye(3), mirrored)


def test_shared_keypoints_count_once_for_the_best_candidate() -> None:
    logo = list(range(30))
    assert unique_inliers([fake(logo[:20]), fake(logo), fake([100, 101])]) == [0, 30, 2]


def test_mirrored_and_direct_matches_do_not_compete() -> None:
    assert unique_inliers([fake([1, 2, 3]), fake([1, 2, 3], mirrored=True)]) == [3, 3]


def test_nearest_two_agrees_with_exhaustive_distances() -> None:
    rng = np.random.default_rng(3)
    query = rng.integers(0, 256, (40, 128), dtype=np.uint8)
    reference = rng.integers(0, 256, (30, 128), dtype=np.uint8)
    exact = ((query[:, None, :].astype(np.float64) - reference[None, :, :]) ** 2).sum(axis=2)
    nearest, first, second = nearest_two(query, reference)
    ordered = np.sort(exact, axis=1)
    assert np.array_equal(nearest, exact.argmin(axis=1))
    assert np.allclose(first, ordered[:, 0], rtol=1e-5) and np.allclose(second, ordered[:, 1], rtol=1e-5)


def test_mirrored_features_are_those_of_the_mirrored_image() -> None:
    image = draw_design(11, size=(400, 300))
    derived = features(image).mirrored()
    extracted = features(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    gaps = np.linalg.norm(derived.points[:, None, :] - extracted.points[None, :, :], axis=2)
    paired = gaps.min(axis=1) < 1.0
    assert paired.mean() > 0.8
    mine = derived.descriptors[paired].astype(np.float32)
    theirs = extracted.descriptors[gaps.argmin(axis=1)[paired]].astype(np.float32)
    error = np.linalg.norm(mine - theirs, axis=1) / np.linalg.norm(theirs, axis=1)
    assert np.median(error) < 0.1
