import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wafa.analytics.models import compress


class TestCompress:
    def test_groups_identical_triples(self) -> None:
        c = compress([0, 2, 0, 2, 1], [0.0, 3.0, 0.0, 3.0, 1.0], [5.0, 5.0, 5.0, 5.0, 4.0])
        assert c.frequency.tolist() == [0.0, 1.0, 2.0]
        assert c.recency.tolist() == [0.0, 1.0, 3.0]
        assert c.T.tolist() == [5.0, 4.0, 5.0]
        assert c.weights.tolist() == [2.0, 1.0, 2.0]
        assert c.inverse.tolist() == [0, 2, 0, 2, 1]

    def test_a_known_compression_is_reused_only_for_the_same_triples(self) -> None:
        x, t_x, big_t = [0, 2, 0, 2, 1], [0.0, 3.0, 0.0, 3.0, 1.0], [5.0, 5.0, 5.0, 5.0, 4.0]
        known = compress(x, t_x, big_t)
        assert compress(np.array(x), np.array(t_x), np.array(big_t), known=known) is known
        for changed in (
            ([0, 2, 0, 2, 2], t_x, big_t),  # one frequency
            (x, [0.0, 3.0, 0.0, 2.0, 1.0], big_t),  # one recency
            (x, t_x, [5.0, 5.0, 5.0, 5.0, 4.5]),  # one T
            (x[:4], t_x[:4], big_t[:4]),  # fewer customers
        ):
            again = compress(*changed, known=known)
            assert again is not known
            fresh = compress(*changed)
            assert again.weights.tolist() == fresh.weights.tolist()
            assert again.frequency[again.inverse].tolist() == [float(v) for v in changed[0]]
            assert again.recency[again.inverse].tolist() == list(changed[1])
            assert again.T[again.inverse].tolist() == list(changed[2])

    def test_empty_input(self) -> None:
        c = compress([], [], [])
        assert c.frequency.shape == (0,)
        assert c.inverse.shape == (0,)

    @pytest.mark.parametrize(
        ("frequency", "recency", "T", "message"),
        [
            ([-1], [0.0], [1.0], "non-negative integers"),
            ([1.5], [0.0], [1.0], "non-negative integers"),
            ([1], [2.0], [1.0], "must not exceed T"),
            ([1], [-0.5], [1.0], "non-negative"),
            ([1], [float("nan")], [1.0], "finite"),
            ([1, 2], [0.0, 1.0, 2.0], [3.0, 3.0, 3.0], "same length"),
        ],
    )
    def test_rejects_invalid_input(
        self, frequency: list[float], recency: list[float], T: list[float], message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            compress(frequency, recency, T)

    @given(
        st.lists(
            st.tuples(st.integers(0, 5), st.integers(0, 6), st.integers(0, 6)).map(
                lambda v: (v[0], min(v[1], v[2]) / 2, v[2] / 2)
            ),
            min_size=1,
            max_size=60,
        )
    )
    def test_inverse_rebuilds_input_and_weights_count_rows(
        self, rows: list[tuple[int, float, float]]
    ) -> None:
        x, t_x, big_t = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
        c = compress(x, t_x, big_t)
        np.testing.assert_array_equal(c.frequency[c.inverse], x)
        np.testing.assert_array_equal(c.recency[c.inverse], t_x)
        np.testing.assert_array_equal(c.T[c.inverse], big_t)
        assert c.weights.sum() == len(rows)
        assert len({(a, b, d) for a, b, d in zip(c.frequency, c.recency, c.T, strict=True)}) == len(
            c.frequency
        )
