"""The admission code format: entropy, grouping, forgiving input, and the check symbol."""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.admission import codes

symbols = st.text(
    alphabet=codes.ALPHABET, min_size=codes.RANDOM_SYMBOLS, max_size=codes.RANDOM_SYMBOLS
)


def with_check(payload: str) -> str:
    return payload + codes.check_symbol(payload)


class TestGeneratedCodes:
    def test_code_has_at_least_80_random_bits_in_five_groups_of_four(self) -> None:
        code = codes.generate()

        assert codes.ENTROPY_BITS >= 80
        assert [len(group) for group in code.split("-")] == [4, 4, 4, 4, 4]
        assert set(code.replace("-", "")) <= set(codes.ALPHABET)

    def test_generated_codes_pass_their_own_check(self) -> None:
        for _ in range(200):
            code = codes.generate()
            assert codes.group(codes.normalize(code)) == code

    def test_generated_codes_differ(self) -> None:
        assert len({codes.generate() for _ in range(2000)}) == 2000

    def test_alphabet_has_no_look_alike_letters(self) -> None:
        assert not set("ILOU") & set(codes.ALPHABET)


class TestForgivingInput:
    @pytest.mark.parametrize(
        "typed",
        [
            "{code}",
            "{bare}",
            "{lower}",
            " {spaced} ",
            "{fullwidth}",
            "{code}\r\n",
        ],
    )
    def test_typing_variants_normalize_to_the_same_code(self, typed: str) -> None:
        code = codes.generate()
        bare = code.replace("-", "")
        variants = {
            "code": code,
            "bare": bare,
            "lower": code.lower(),
            "spaced": " ".join(code.split("-")),
            "fullwidth": "".join(chr(ord(c) + 0xFEE0) if c != "-" else "－" for c in code),
        }

        assert codes.normalize(typed.format(**variants)) == bare

    def test_look_alike_letters_are_read_as_digits(self) -> None:
        payload = "0" * 9 + "1" * 10
        code = with_check(payload)
        typed = "O" * 9 + "I" * 5 + "l" * 5 + code[-1]

        assert codes.normalize(typed) == code

    @pytest.mark.parametrize("text", ["", "ABC", "X" * 40, "€" * 20, "U" * 20])
    def test_text_that_cannot_be_a_code_is_refused(self, text: str) -> None:
        with pytest.raises(codes.MalformedCode):
            codes.normalize(text)


class TestCheckSymbol:
    @given(payload=symbols, position=st.integers(0, codes.CODE_LENGTH - 1), data=st.data())
    def test_every_single_mistyped_symbol_is_caught(
        self, payload: str, position: int, data: st.DataObject
    ) -> None:
        code = with_check(payload)
        wrong = data.draw(st.sampled_from([s for s in codes.ALPHABET if s != code[position]]))
        typo = code[:position] + wrong + code[position + 1 :]

        with pytest.raises(codes.MalformedCode):
            codes.normalize(typo)

    @given(payload=symbols, position=st.integers(0, codes.CODE_LENGTH - 2))
    def test_swapped_neighbours_are_caught_except_zero_and_z(
        self, payload: str, position: int
    ) -> None:
        code = with_check(payload)
        first, second = code[position], code[position + 1]
        swapped = code[:position] + second + first + code[position + 2 :]
        assume(first != second)
        assume({first, second} != {"0", "Z"})  # Luhn mod 32's one blind pair (values 0 and 31)

        with pytest.raises(codes.MalformedCode):
            codes.normalize(swapped)


class TestKeyedHash:
    def test_hash_depends_on_the_server_secret(self) -> None:
        code = codes.normalize(codes.generate())

        first = codes.keyed_hash(codes.hashing_key(b"secret one"), code)
        second = codes.keyed_hash(codes.hashing_key(b"secret two"), code)

        assert first != second
        assert len(first) == 32

    def test_hash_is_not_a_plain_digest_of_the_code(self) -> None:
        import hashlib

        code = codes.normalize(codes.generate())
        stored = codes.keyed_hash(codes.hashing_key(b"secret"), code)

        assert stored != hashlib.sha256(code.encode()).digest()


def reference_check_symbol(symbols: str) -> str:
    """Luhn mod 32 written out as the algorithm is usually stated, to check the fast one."""
    total = 0
    for offset, symbol in enumerate(reversed(symbols)):
        value = codes.ALPHABET.index(symbol)
        if offset % 2 == 0:  # every second symbol from the right, starting with the last
            value = sum(divmod(2 * value, 32))
        total += value
    return codes.ALPHABET[(32 - total % 32) % 32]


class TestBatchGeneration:
    def test_batch_codes_are_normalized_valid_and_distinct(self) -> None:
        batch = codes.generate_normalized(5000)

        assert len(batch) == len(set(batch)) == 5000
        assert all(codes.normalize(code) == code for code in batch)
        assert all(len(code) == codes.CODE_LENGTH for code in batch)

    def test_every_symbol_turns_up_at_every_random_position(self) -> None:
        batch = codes.generate_normalized(2000)  # a symbol missing by chance: p < 10^-25

        for position in range(codes.RANDOM_SYMBOLS):
            assert {code[position] for code in batch} == set(codes.ALPHABET), position

    def test_no_codes_for_a_count_of_zero(self) -> None:
        assert codes.generate_normalized(0) == []

    @given(payload=st.text(alphabet=codes.ALPHABET, max_size=30))
    def test_check_symbol_is_luhn_mod_32_for_any_length(self, payload: str) -> None:
        assert codes.check_symbol(payload) == reference_check_symbol(payload)
