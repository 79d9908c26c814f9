"""Your own hypothesis on text: regular expressions on RE2 (bounded, linear time), predicates, and the ranking of
units by correlation and precision/recall at the best threshold, on values with a known answer."""

import time

import numpy as np
import pytest

from rnnviz.views.hypotheses import (
    AFTER_WORD,
    KINDS,
    MAX_PATTERN,
    REGEX,
    HypothesisError,
    best_threshold,
    marks,
    rank_units,
)

TEXT = 'x = "ab" + f(y, "c")\nprint(x)  # "done"\n'


def test_a_regular_expression_marks_the_characters_it_matches():
    got = marks(TEXT, REGEX, r'"[^"]*"')
    want = np.zeros(len(TEXT))
    for lo in (TEXT.index('"ab"'), TEXT.index('"c"'), TEXT.index('"done"')):
        want[lo : TEXT.index('"', lo + 1) + 1] = 1
    np.testing.assert_array_equal(got, want)
    assert marks("héé hé", REGEX, "é+").tolist() == [0, 1, 1, 0, 0, 1]  # characters, not UTF-8 bytes


def test_the_pathological_pattern_runs_in_linear_time():
    text = "a" * 100_000 + "!"  # (a+)+$ backtracks 2^n ways in Python's re on this text
    start = time.perf_counter()
    got = marks(text, REGEX, r"(a+)+$")
    assert time.perf_counter() - start < 1.0
    assert got.sum() == 0  # the text ends in '!': no match, found without backtracking
    assert marks("aaa", REGEX, r"(a+)+$").tolist() == [1, 1, 1]


@pytest.mark.parametrize("pattern, message", [
    ("", "Type a regular expression"),
    ("a" * (MAX_PATTERN + 1), f"at most {MAX_PATTERN}"),
    (r"(a)\1", "no backreferences"),
    (r"(?=a)b", "invalid perl operator"),
    ("(", "missing )"),
    ("a{1000}{1000}", "Not a regular expression rnnviz can run"),  # RE2 refuses what would blow its memory
])
def test_patterns_rnnviz_cannot_run_are_refused_with_a_reason(pattern, message):
    with pytest.raises(HypothesisError, match=message.replace("(", r"\(").replace(")", r"\)")):
        marks(TEXT, REGEX, pattern)


def test_predicates_mark_what_they_say():
    depth = marks("f(a[b]c)", "nesting depth")
    assert depth.tolist() == [0, 1, 1, 2, 2, 1, 1, 0]
    after = marks("the cat and the  dog, then", AFTER_WORD, "the")
    assert "".join(ch for ch, m in zip("the cat and the  dog, then", after, strict=True) if m) == " cat  dog"
    with pytest.raises(HypothesisError, match="one word"):
        marks(TEXT, AFTER_WORD, "two words")
    with pytest.raises(HypothesisError, match="allowed"):
        marks(TEXT, "inside a dream")
    assert set(KINDS) >= {"inside quotes", "inside brackets", "nesting depth", "position in line", AFTER_WORD}


def test_the_unit_that_follows_the_hypothesis_ranks_first_with_perfect_precision_and_recall():
    rng = np.random.default_rng(0)
    feature = marks(TEXT * 20, REGEX, r'"[^"]*"')
    values = rng.normal(0, 0.3, size=(len(feature), 16))
    values[:, 7] = np.where(feature > 0, 0.9, -0.4) + rng.normal(0, 0.05, len(feature))  # on inside quotes
    values[:, 3] = -values[:, 7]  # off inside quotes: as good a detector, pointing down
    ranking = rank_units(values, feature, binary=True)
    top = ranking.table.set_index("unit")
    assert set(ranking.table.unit[:2]) == {3, 7} and ranking.best in (3, 7)
    assert top.loc[7, "correlation"] > 0.95 and top.loc[3, "correlation"] < -0.95
    assert (top.loc[7, "on when"], top.loc[3, "on when"]) == ("≥", "≤")
    for unit in (3, 7):
        assert top.loc[unit, "precision"] == 1.0 and top.loc[unit, "recall"] == 1.0
    assert -0.4 < top.loc[7, "threshold"] < 0.9 and -0.9 < top.loc[3, "threshold"] < 0.4
    assert ranking.marked == int(feature.sum()) and len(ranking.table) == 10


def test_best_threshold_is_the_highest_f1_cut():
    values = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.6])
    truth = np.array([1, 1, 0, 0, 0, 1], bool)
    tau, precision, recall = best_threshold(values, truth)
    assert tau == 0.6 and (precision, recall) == (0.75, 1.0)  # ≥ 0.6 takes 0.7 too: F1 6/7 beats ≥ 0.8's 4/5
    tied = best_threshold(np.array([1.0, 1.0, 0.0]), np.array([1, 0, 0], bool))
    assert tied == (1.0, 0.5, 1.0)  # a threshold cannot split two equal values


def test_a_count_hypothesis_ranks_by_correlation_only():
    feature = marks("ab\ncdef\ng" * 30, "position in line")
    values = np.random.default_rng(1).normal(size=(len(feature), 5))
    values[:, 2] = feature * 0.1
    ranking = rank_units(values, feature, binary=False)
    assert ranking.best == 2 and list(ranking.table.columns) == ["unit", "correlation"]


def test_a_hypothesis_that_marks_nothing_or_everything_says_so():
    values = np.zeros((5, 3))
    with pytest.raises(HypothesisError, match="marks no character"):
        rank_units(values, np.zeros(5), binary=True)
    with pytest.raises(HypothesisError, match="marks every character"):
        rank_units(values, np.ones(5), binary=True)
