"""Each enhancement parameter has a visible, measured effect on the pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.engine.helpers import (
    U8,
    blockiness,
    cascade,
    encode,
    luma,
    noise_sigma,
    pixels,
    scene,
    sharpness,
)
from viesus_emulator._engine import enhance

# --- upscaling ------------------------------------------------------------------------------


def test_x2_doubles_both_sides() -> None:
    result = enhance(encode(scene(1200, 800), "JPEG"), {"upscalingFactor": "X2"})
    assert (result.width, result.height) == (2400, 1600)
    assert pixels(result.data).shape == (1600, 2400, 3)


def test_x4_quadruples_both_sides() -> None:
    result = enhance(encode(scene(300, 200)), {"upscalingFactor": "X4"})
    assert (result.width, result.height) == (1200, 800)
    assert pixels(result.data).shape == (800, 1200, 3)


def test_custom_width_keeps_the_aspect_ratio_and_wins_over_the_factor() -> None:
    data = encode(scene(300, 200))
    alone = enhance(data, {"upscalingCustomWidth": 450})
    both = enhance(data, {"upscalingCustomWidth": 450, "upscalingFactor": "X4"})
    assert (alone.width, alone.height) == (both.width, both.height) == (450, 300)
    assert pixels(alone.data).shape == (300, 450, 3)


def test_upscaled_image_matches_the_original_content() -> None:
    small = scene(300, 200)
    big = pixels(enhance(encode(small), {"upscalingFactor": "X2"}).data)
    back = cv2.resize(big, (300, 200), interpolation=cv2.INTER_AREA)
    assert np.abs(back.astype(float) - small.astype(float)).mean() < 3.0


# --- noise, artifacts -----------------------------------------------------------------------


def test_noise_reduction_lowers_the_noise_estimate() -> None:
    clean = scene(480, 360)
    noisy = np.clip(clean + np.random.default_rng(3).normal(0, 12, clean.shape), 0, 255).astype(
        np.uint8
    )
    out = pixels(
        enhance(
            encode(noisy),
            {"noiseReductionProfilingMode": "AUTO", "noiseReductionProfilingStrength": 0.6},
        ).data
    )

    assert noise_sigma(luma(noisy)) > 6  # 12 per channel is ~8 in luminance
    assert noise_sigma(luma(out)) < 0.4 * noise_sigma(luma(noisy))
    # Closer to the clean image, not merely blurrier.
    error_before = np.abs(noisy.astype(float) - clean).mean()
    error_after = np.abs(out.astype(float) - clean).mean()
    assert error_after < 0.6 * error_before


def test_noise_reduction_leaves_a_clean_image_alone() -> None:
    clean = scene(320, 240)
    out = pixels(enhance(encode(clean), {"noiseReductionProfilingMode": "AUTO"}).data)
    assert np.abs(out.astype(float) - clean).mean() < 1.0


def test_artifact_removal_reduces_jpeg_blockiness() -> None:
    blocky = encode(scene(480, 360), "JPEG", quality=12)
    before = blockiness(luma(pixels(blocky)))
    after = blockiness(luma(pixels(enhance(blocky, {"artifactsDetectionRemoval": "AUTO_AI"}).data)))
    assert before > 1.3
    assert after - 1.0 < 0.6 * (before - 1.0)


# --- colour ---------------------------------------------------------------------------------


def test_enhance_widens_the_histogram_of_a_flat_image() -> None:
    flat = (110 + scene(400, 300).astype(np.float64) * 0.2).astype(np.uint8)
    out = pixels(enhance(encode(flat), {"mode": "ENHANCE"}).data)

    def spread(img: U8) -> float:
        lo, hi = np.percentile(luma(img), [1, 99])
        return float(hi - lo)

    assert spread(out) > 2.0 * spread(flat)


def test_enhance_reduces_a_colour_cast(astronaut: U8) -> None:
    cast = np.clip(astronaut * np.array([1.0, 0.95, 0.65]), 0, 255).astype(np.uint8)
    out = pixels(enhance(encode(cast), {"mode": "ENHANCE"}).data)

    def imbalance(img: U8) -> float:
        means = img.reshape(-1, 3).mean(axis=0)
        return float(means[0] - means[2])  # the cast removed blue: red minus blue

    # Measured against the photo's own balance (a red suit is not a cast): at least a quarter
    # of the added imbalance goes. The correction is deliberately partial for warm casts
    # (engine/colour.py, white_balance); tests/engine/test_quality.py measures it in ΔE00.
    excess_before = imbalance(cast) - imbalance(astronaut)
    excess_after = imbalance(out) - imbalance(astronaut)
    assert excess_after < 0.75 * excess_before


def test_no_parameters_apply_the_default_enhance(astronaut_jpeg: bytes) -> None:
    default = enhance(astronaut_jpeg, {})
    assert default.data == enhance(astronaut_jpeg, {"mode": "ENHANCE"}).data
    assert np.abs(pixels(default.data).astype(float) - pixels(astronaut_jpeg)).mean() > 2.0


def test_colour_factors_scale_the_correction() -> None:
    dark = (scene(320, 240).astype(np.float64) * 0.35).astype(np.uint8)

    def run(img: U8, **cfg: float) -> U8:
        params = {"mode": "ENHANCE", "customColorConfig": cfg}
        return pixels(enhance(encode(img), params).data)

    bright = (255 - scene(320, 240).astype(np.float64) * 0.35).astype(np.uint8)

    def shadows(img: U8) -> float:
        return float(np.percentile(luma(img), 25))

    def highlights(img: U8) -> float:
        return float(np.percentile(luma(img), 75))

    # Shadows of a dark image are lifted more with a higher shadowfac.
    assert shadows(run(dark, shadowfac=0.1)) < shadows(run(dark)) < shadows(run(dark, shadowfac=1))
    # Highlights of a bright image are held back more with a higher highlightfac.
    assert (
        highlights(run(bright, highlightfac=0.1))
        > highlights(run(bright))
        > highlights(run(bright, highlightfac=1))
    )
    # colorfac 0 leaves a cast alone, the default reduces it.
    cast = np.clip(scene(320, 240) * np.array([1.0, 1.0, 0.7]), 0, 255).astype(np.uint8)

    def blue_deficit(img: U8) -> float:
        means = img.reshape(-1, 3).mean(axis=0)
        return float(means[0] - means[2])

    assert blue_deficit(run(cast)) < blue_deficit(run(cast, colorfac=0.0))


# --- faces ----------------------------------------------------------------------------------

FACE = (slice(69, 161), slice(178, 270))  # the astronaut's face box (Haar, verified)


def _eyes(rgb: U8) -> list[tuple[int, int, int]]:
    """Eye centres and radii found with OpenCV's cascades, independently of the engine."""
    grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    face_clf = cascade("haarcascade_frontalface_alt2.xml")
    eye_clf = cascade("haarcascade_eye.xml")
    eyes = []
    for x, y, w, h in face_clf.detectMultiScale(grey, 1.1, 5, minSize=(30, 30)):
        roi = grey[y : y + int(h * 0.6), x : x + w]
        for ex, ey, ew, eh in eye_clf.detectMultiScale(roi, 1.1, 5, minSize=(w // 10, w // 10)):
            eyes.append((int(x + ex + ew // 2), int(y + ey + eh // 2), max(3, int(ew * 0.2))))
    return eyes


def test_red_eye_correction_removes_red_pupils(astronaut: U8) -> None:
    eyes = _eyes(astronaut)
    assert len(eyes) == 2
    portrait = astronaut.copy()
    for cx, cy, radius in eyes:
        cv2.circle(portrait, (cx, cy), radius, (215, 25, 30), -1)
    out = pixels(enhance(encode(portrait), {"redEyeCorrectionsMode": "AUTO"}).data)

    pupils = np.zeros(astronaut.shape[:2], dtype=bool)
    for cx, cy, radius in eyes:
        disc = np.zeros(astronaut.shape[:2], dtype=np.uint8)
        cv2.circle(disc, (cx, cy), radius - 1, 1, -1)
        pupils |= disc.astype(bool)

    def redness(img: U8) -> float:
        px = img[pupils].astype(float)
        return float((px[:, 0] - (px[:, 1] + px[:, 2]) / 2).mean())

    assert redness(portrait) > 150
    assert redness(out) < 0.3 * redness(portrait)
    # Nothing outside the face changes (the red suit and flag stripes stay red).
    outside = np.ones(astronaut.shape[:2], dtype=bool)
    outside[FACE] = False
    assert np.abs(out[outside].astype(float) - portrait[outside]).max() <= 2


def test_face_details_sharpen_the_face_only(astronaut_png: bytes, astronaut: U8) -> None:
    out = pixels(enhance(astronaut_png, {"enhanceFaceDetails": "ENHANCE"}).data)
    assert sharpness(out[FACE]) > 1.3 * sharpness(astronaut[FACE])
    assert np.array_equal(out[300:, :150], astronaut[300:, :150])


# --- grain ----------------------------------------------------------------------------------


def test_grain_raises_high_frequency_energy_and_is_seeded() -> None:
    data = encode(scene(400, 300))
    before = sharpness(pixels(data))
    grainy = enhance(data, {"noiseAdditionProfilingStrength": 0.6}, seed=1)
    assert sharpness(pixels(grainy.data)) > 5 * before + 20
    again = enhance(data, {"noiseAdditionProfilingStrength": 0.6}, seed=1)
    other = enhance(data, {"noiseAdditionProfilingStrength": 0.6}, seed=2)
    assert grainy.data == again.data
    assert grainy.data != other.data


# --- background -----------------------------------------------------------------------------

BACKGROUND = (slice(0, 140), slice(400, 512))  # the rocket at the top right
FACE_CORE = (slice(85, 150), slice(195, 255))


def test_background_blur_softens_the_background_only(astronaut_png: bytes, astronaut: U8) -> None:
    out = pixels(enhance(astronaut_png, {"backgroundRemovalMode": "BLUR"}).data)
    assert sharpness(out[BACKGROUND]) < 0.3 * sharpness(astronaut[BACKGROUND])
    assert np.abs(out[FACE_CORE].astype(float) - astronaut[FACE_CORE]).mean() < 1.0


def test_background_blur_strength_is_graded(astronaut_png: bytes) -> None:
    def background_sharpness(blur: float) -> float:
        params = {"backgroundRemovalMode": "BLUR", "backgroundRemovalBlur": blur}
        return sharpness(pixels(enhance(astronaut_png, params).data)[BACKGROUND])

    assert background_sharpness(1.0) < background_sharpness(0.1)


def test_background_remove_gives_alpha_and_png_for_jpeg(astronaut_jpeg: bytes) -> None:
    result = enhance(astronaut_jpeg, {"backgroundRemovalMode": "REMOVE"})
    assert (result.format, result.mimetype, result.extension) == ("PNG", "image/png", "png")
    alpha = pixels(result.data, "RGBA")[:, :, 3]
    assert alpha[FACE_CORE].min() > 240
    assert alpha[BACKGROUND].mean() < 15


def test_background_remove_keeps_webp(astronaut: U8) -> None:
    result = enhance(encode(astronaut, "WEBP"), {"backgroundRemovalMode": "REMOVE"})
    assert result.format == "WEBP"
    assert pixels(result.data, "RGBA")[:, :, 3][BACKGROUND].mean() < 15


def test_background_replace_composites_onto_the_given_image(
    astronaut_png: bytes, astronaut: U8
) -> None:
    green = np.zeros((50, 80, 3), dtype=np.uint8)
    green[:, :] = (20, 200, 40)
    params = {"backgroundRemovalMode": "REPLACE"}
    out = pixels(enhance(astronaut_png, params, background=encode(green, "JPEG")).data)
    corner = out[BACKGROUND].reshape(-1, 3).mean(axis=0)
    assert corner[1] > 180
    assert corner[0] < 50
    assert np.abs(out[FACE_CORE].astype(float) - astronaut[FACE_CORE]).mean() < 1.0


@pytest.mark.parametrize("background", [None, b"", b"<html>not found</html>"])
def test_background_replace_needs_a_readable_image(
    astronaut_png: bytes, background: bytes | None
) -> None:
    from viesus_emulator._engine import EngineError

    with pytest.raises(EngineError) as caught:
        enhance(astronaut_png, {"backgroundRemovalMode": "REPLACE"}, background=background)
    assert caught.value.code == "BACKGROUND_UNREADABLE"


def test_background_without_a_face_uses_the_centre() -> None:
    img = np.full((240, 320, 3), (40, 90, 200), dtype=np.uint8)  # blue backdrop
    cv2.circle(img, (160, 130), 60, (230, 200, 40), -1)  # a yellow subject in the centre
    alpha = pixels(enhance(encode(img), {"backgroundRemovalMode": "REMOVE"}).data, "RGBA")[:, :, 3]
    assert alpha[130, 160] > 240
    assert alpha[10:40, 10:40].max() < 10
